//! The data-protection settings as configured (`STRIPE_WIDTH`, `PROTECTION_LEVEL`,
//! `HOTSPARE`), parsed one way for every function that reads them.

use super::names::{HOTSPARE_ENV, PROTECTION_LEVEL_ENV, STRIPE_WIDTH_ENV};
use super::{ConfigError, Lookup};

/// The configured geometry. `stripe_width` is `None` when unset or `-1` (derived from the
/// cluster size by `domain::geometry::validate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeometryConfig {
    /// Data drives per stripe, when given.
    pub stripe_width: Option<u32>,
    /// Parity drives per stripe.
    pub protection_level: u32,
    /// Failure domains reserved as hot spare.
    pub hot_spare: u32,
}

impl GeometryConfig {
    /// Reads the three variables; `PROTECTION_LEVEL` and `HOTSPARE` are required.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            stripe_width: env
                .optional(STRIPE_WIDTH_ENV)
                .filter(|v| v.trim() != "-1")
                .map(|_| env.parsed(STRIPE_WIDTH_ENV))
                .transpose()?,
            protection_level: env.parsed(PROTECTION_LEVEL_ENV)?,
            hot_spare: env.parsed(HOTSPARE_ENV)?,
        })
    }

    /// As [`Self::from_lookup`], or `None` when none of the three is set.
    pub fn optional_from_lookup(env: &impl Lookup) -> Result<Option<Self>, ConfigError> {
        let names = [STRIPE_WIDTH_ENV, PROTECTION_LEVEL_ENV, HOTSPARE_ENV];
        if names.iter().all(|name| env.optional(name).is_none()) {
            return Ok(None);
        }
        Self::from_lookup(env).map(Some)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::test_env as env;

    #[test]
    fn a_derived_stripe_is_none_and_the_rest_is_required() {
        let geometry = GeometryConfig::from_lookup(&env(&[
            ("STRIPE_WIDTH", "-1"),
            ("PROTECTION_LEVEL", "2"),
            ("HOTSPARE", "1"),
        ]))
        .unwrap();
        assert_eq!(geometry.stripe_width, None);
        assert_eq!(
            GeometryConfig::from_lookup(&env(&[("STRIPE_WIDTH", "5"), ("HOTSPARE", "1")])),
            Err(ConfigError::Missing {
                name: PROTECTION_LEVEL_ENV
            })
        );
        assert_eq!(GeometryConfig::optional_from_lookup(&env(&[])), Ok(None));
        let explicit = GeometryConfig::optional_from_lookup(&env(&[
            ("STRIPE_WIDTH", "5"),
            ("PROTECTION_LEVEL", "2"),
            ("HOTSPARE", "0"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(explicit.stripe_width, Some(5));
        assert!(GeometryConfig::optional_from_lookup(&env(&[("STRIPE_WIDTH", "x")])).is_err());
    }
}
