//! Typed configuration read once at init from an injected environment lookup.
//!
//! Every knob has its env var name as a const beside the struct that holds it. Tests pass a
//! map; `main` passes [`process_env`]. Nothing here touches the process environment itself.

pub mod asg;
pub mod callers;
pub mod geometry;
pub mod lifecycle;
pub mod names;
pub mod protocols;
pub mod terminate;

use names::{
    NFS_STATE_KEY_ENV, REFERENCE_NFS_STATE_KEY_ENV, REFERENCE_STATE_HASH_KEY_ENV,
    REFERENCE_STATE_KEY_ENV, REFERENCE_STATE_TABLE_ENV, STATE_KEY_ENV, STATE_TABLE_ENV,
};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// A configuration value was missing or could not be parsed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is absent or empty.
    #[error("environment variable {name} is required but not set")]
    Missing {
        /// The variable's name.
        name: &'static str,
    },
    /// A variable is set to something that does not parse.
    #[error("environment variable {name} has invalid value {value:?}: {reason}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// The offending value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
}

/// A source of configuration values: the process environment in production, a map in tests.
pub trait Lookup {
    /// The value of `name`, or `None` when unset.
    fn get(&self, name: &str) -> Option<String>;

    /// A required, non-empty string.
    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(ConfigError::Missing { name }),
        }
    }

    /// An optional string; empty counts as unset.
    fn optional(&self, name: &'static str) -> Option<String> {
        self.get(name).filter(|v| !v.trim().is_empty())
    }

    /// An optional value parsed with `FromStr`, `default` when unset.
    fn parsed_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    name,
                    reason: e.to_string(),
                    value,
                }),
        }
    }

    /// A required value parsed with `FromStr`.
    fn parsed<T>(&self, name: &'static str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        let value = self.required(name)?;
        value
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::Invalid {
                name,
                reason: e.to_string(),
                value,
            })
    }

    /// An optional boolean (`true`/`false`/`1`/`0`), `default` when unset.
    fn flag_or(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref().map(str::trim) {
            None => Ok(default),
            Some("true" | "1" | "TRUE" | "True") => Ok(true),
            Some("false" | "0" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(ConfigError::Invalid {
                name,
                value: other.to_owned(),
                reason: "expected true or false".to_owned(),
            }),
        }
    }

    /// An optional duration written as a number with a unit (`90s`, `30m`, `3h`), `default`
    /// when unset.
    fn duration_or(&self, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(value) => parse_duration(&value).ok_or_else(|| ConfigError::Invalid {
                name,
                value,
                reason: "expected a duration such as 90s, 30m or 3h".to_owned(),
            }),
        }
    }
}

impl Lookup for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The process environment, for `main`.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Parses `3h`, `30m`, `90s`, `1h30m`, `250ms` (Go-style duration strings, as the reference's
/// `DOWN_BACKENDS_REMOVAL_TIMEOUT`). Zero and unit-less numbers are rejected.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.checked_mul(60)?),
            "h" => Duration::from_secs(number.checked_mul(3600)?),
            _ => return None,
        };
        total = total.checked_add(part)?;
    }
    (!total.is_zero()).then_some(total)
}

/// Where a cluster's state lives: the table and the two partition keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// DynamoDB table name.
    pub table: String,
    /// Partition key of the backend state.
    pub state_key: String,
    /// Partition key of the NFS gateway state.
    pub nfs_state_key: String,
}

impl StateConfig {
    /// Reads `STATE_TABLE`, `STATE_KEY` and `NFS_STATE_KEY`.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            table: env.required(STATE_TABLE_ENV)?,
            state_key: env.required(STATE_KEY_ENV)?,
            nfs_state_key: env.required(NFS_STATE_KEY_ENV)?,
        })
    }
}

/// Where WEKA's own module keeps its state: the table and item keys its module writes, read
/// when adopting a cluster it formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceStateConfig {
    /// Its DynamoDB table.
    pub table: String,
    /// Its hash key attribute (`Key` unless `dynamodb_hash_key_name` was set there).
    pub hash_key: String,
    /// Its backend state item's key (`<prefix>-<cluster>-state`).
    pub state_key: String,
    /// Its NFS state item's key (`<prefix>-<cluster>-nfs-state`).
    pub nfs_state_key: String,
}

impl ReferenceStateConfig {
    /// Reads `REFERENCE_STATE_TABLE`, `REFERENCE_STATE_HASH_KEY` (default `Key`),
    /// `REFERENCE_STATE_KEY` and `REFERENCE_NFS_STATE_KEY`.
    pub fn from_lookup(env: &impl Lookup) -> Result<Self, ConfigError> {
        Ok(Self {
            table: env.required(REFERENCE_STATE_TABLE_ENV)?,
            hash_key: env
                .optional(REFERENCE_STATE_HASH_KEY_ENV)
                .unwrap_or_else(|| "Key".to_owned()),
            state_key: env.required(REFERENCE_STATE_KEY_ENV)?,
            nfs_state_key: env.required(REFERENCE_NFS_STATE_KEY_ENV)?,
        })
    }
}

/// A [`Lookup`] from literal pairs, for unit tests.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use test_env as env;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("3h"), Some(Duration::from_secs(10_800)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("90"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn missing_state_table_is_named() {
        let err = StateConfig::from_lookup(&env(&[("STATE_KEY", "k")])).unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing {
                name: STATE_TABLE_ENV
            }
        );
        assert!(err.to_string().contains("STATE_TABLE"));
    }

    #[test]
    fn invalid_number_names_variable_and_value() {
        let e = env(&[("N", "six")]);
        let err = e.parsed_or::<u32>("N", 1).unwrap_err();
        assert!(
            err.to_string().contains("N has invalid value \"six\""),
            "{err}"
        );
        assert_eq!(e.parsed_or::<u32>("OTHER", 7).unwrap(), 7);
    }

    #[test]
    fn flags_reject_garbage_instead_of_defaulting_to_false() {
        let e = env(&[("A", "true"), ("B", "0"), ("C", "yes")]);
        assert!(e.flag_or("A", false).unwrap());
        assert!(!e.flag_or("B", true).unwrap());
        assert!(e.flag_or("C", false).is_err());
        assert!(e.flag_or("D", true).unwrap());
    }
}
