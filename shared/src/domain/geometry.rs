//! Data-protection geometry validation (behaviour.md §12.1, §12.2).
//!
//! The reference only rejects zero values inside the clusterize Lambda, long after instances were
//! launched; impossible geometries (default stripe width 1 or 2, stripe + parity + hot spare larger
//! than the cluster, OBS tiering without a default file system) surface as a failed clusterization
//! with no recovery path. Validating here lets the control plane refuse them before anything runs.

use serde::{Deserialize, Serialize};

/// Smallest cluster the deployment supports.
pub const MIN_CLUSTER_SIZE: u32 = 6;
/// Smallest stripe width WEKA accepts.
pub const MIN_STRIPE_WIDTH: u32 = 3;
/// Largest stripe width WEKA accepts; also the cap of the default formula.
pub const MAX_STRIPE_WIDTH: u32 = 16;

/// Raw, unvalidated data-protection settings as configured by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeometryInput {
    /// Number of backend instances forming the initial cluster (`HOSTS_NUM`).
    pub cluster_size: u32,
    /// Parity drives per stripe; WEKA supports 2 or 4.
    pub protection_level: u32,
    /// Explicit data drives per stripe; `None` selects `min(cluster_size - PL - 1, 16)`.
    pub stripe_width: Option<u32>,
    /// Failure domains reserved as hot spare.
    pub hot_spare: u32,
    /// Whether the clusterization creates the `default` file system.
    pub set_default_fs: bool,
    /// Whether the `default` file system is tiered to an S3 bucket.
    pub obs_tiering: bool,
}

/// A data-protection geometry that passed [`validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Geometry {
    cluster_size: u32,
    stripe_width: u32,
    protection_level: u32,
    hot_spare: u32,
    set_default_fs: bool,
    obs_tiering: bool,
}

/// Why a geometry was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    /// Fewer instances than the supported minimum.
    #[error("cluster size {cluster_size} is below the minimum of {MIN_CLUSTER_SIZE}")]
    ClusterTooSmall {
        /// The configured cluster size.
        cluster_size: u32,
    },
    /// Protection level other than 2 or 4.
    #[error("protection level {protection_level} is not supported (expected 2 or 4)")]
    InvalidProtectionLevel {
        /// The configured protection level.
        protection_level: u32,
    },
    /// Explicit stripe width outside 3..=16.
    #[error("stripe width {stripe_width} is outside {MIN_STRIPE_WIDTH}..={MAX_STRIPE_WIDTH}")]
    StripeWidthOutOfRange {
        /// The configured stripe width.
        stripe_width: u32,
    },
    /// The default stripe formula produced a width below 3.
    #[error(
        "default stripe width {stripe_width} (min(cluster size {cluster_size} - protection level \
         {protection_level} - 1, 16)) is below {MIN_STRIPE_WIDTH}; enlarge the cluster or set \
         stripe_width explicitly"
    )]
    DefaultStripeTooNarrow {
        /// The derived stripe width.
        stripe_width: u32,
        /// The configured cluster size.
        cluster_size: u32,
        /// The configured protection level.
        protection_level: u32,
    },
    /// Zero hot spares.
    #[error("hot spare {hot_spare} must be at least 1")]
    HotSpareTooSmall {
        /// The configured hot spare count.
        hot_spare: u32,
    },
    /// The stripe, parity and spare failure domains do not fit into the cluster.
    #[error(
        "stripe width {stripe_width} + protection level {protection_level} + hot spare {hot_spare} \
         = {required} exceeds cluster size {cluster_size}"
    )]
    DoesNotFit {
        /// Data drives per stripe.
        stripe_width: u32,
        /// Parity drives per stripe.
        protection_level: u32,
        /// Hot spares.
        hot_spare: u32,
        /// Sum of the three.
        required: u32,
        /// The configured cluster size.
        cluster_size: u32,
    },
    /// OBS tiering sizes and attaches to the `default` file system, which only exists with
    /// `set_default_fs`.
    #[error("obs tiering {obs_tiering} requires set_default_fs, which is {set_default_fs}")]
    ObsTieringWithoutDefaultFs {
        /// Whether OBS tiering was requested.
        obs_tiering: bool,
        /// Whether the default file system is created.
        set_default_fs: bool,
    },
}

/// Validates data-protection settings and resolves the default stripe width.
pub fn validate(input: &GeometryInput) -> Result<Geometry, GeometryError> {
    let GeometryInput {
        cluster_size,
        protection_level,
        stripe_width,
        hot_spare,
        set_default_fs,
        obs_tiering,
    } = *input;
    if cluster_size < MIN_CLUSTER_SIZE {
        return Err(GeometryError::ClusterTooSmall { cluster_size });
    }
    if protection_level != 2 && protection_level != 4 {
        return Err(GeometryError::InvalidProtectionLevel { protection_level });
    }
    let stripe_width = match stripe_width {
        Some(sw) if (MIN_STRIPE_WIDTH..=MAX_STRIPE_WIDTH).contains(&sw) => sw,
        Some(sw) => return Err(GeometryError::StripeWidthOutOfRange { stripe_width: sw }),
        None => {
            // cluster_size >= 6 and PL <= 4, so this never underflows.
            let sw = (cluster_size - protection_level - 1).min(MAX_STRIPE_WIDTH);
            if sw < MIN_STRIPE_WIDTH {
                return Err(GeometryError::DefaultStripeTooNarrow {
                    stripe_width: sw,
                    cluster_size,
                    protection_level,
                });
            }
            sw
        }
    };
    if hot_spare < 1 {
        return Err(GeometryError::HotSpareTooSmall { hot_spare });
    }
    let required = stripe_width
        .saturating_add(protection_level)
        .saturating_add(hot_spare);
    if required > cluster_size {
        return Err(GeometryError::DoesNotFit {
            stripe_width,
            protection_level,
            hot_spare,
            required,
            cluster_size,
        });
    }
    if obs_tiering && !set_default_fs {
        return Err(GeometryError::ObsTieringWithoutDefaultFs {
            obs_tiering,
            set_default_fs,
        });
    }
    Ok(Geometry {
        cluster_size,
        stripe_width,
        protection_level,
        hot_spare,
        set_default_fs,
        obs_tiering,
    })
}

impl Geometry {
    /// Number of backend instances forming the initial cluster.
    pub fn cluster_size(&self) -> u32 {
        self.cluster_size
    }

    /// Data drives per stripe (resolved from the default formula when not explicit).
    pub fn stripe_width(&self) -> u32 {
        self.stripe_width
    }

    /// Parity drives per stripe.
    pub fn protection_level(&self) -> u32 {
        self.protection_level
    }

    /// Hot spare failure domains.
    pub fn hot_spare(&self) -> u32 {
        self.hot_spare
    }

    /// Whether the clusterization creates the `default` file system.
    pub fn set_default_fs(&self) -> bool {
        self.set_default_fs
    }

    /// Whether the `default` file system is tiered to S3.
    pub fn obs_tiering(&self) -> bool {
        self.obs_tiering
    }

    /// Raft council size to configure: `2*PL+1` when that exceeds WEKA's default of 5
    /// (go-cloud-lib HEAD fix, behaviour.md §0.1), else `None` (keep the default).
    pub fn raft_size(&self) -> Option<u32> {
        let size = 2 * self.protection_level + 1;
        (size > 5).then_some(size)
    }

    /// Failure domains the geometry needs: stripe width + protection level + hot spare.
    pub fn min_cluster_size(&self) -> u32 {
        self.stripe_width + self.protection_level + self.hot_spare
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn input(cluster_size: u32, pl: u32, sw: Option<u32>, hs: u32) -> GeometryInput {
        GeometryInput {
            cluster_size,
            protection_level: pl,
            stripe_width: sw,
            hot_spare: hs,
            set_default_fs: true,
            obs_tiering: false,
        }
    }

    #[test]
    fn accepted_table() {
        // (cluster, pl, explicit sw, hs) -> (resolved sw, raft, min size)
        let cases = [
            ((6, 2, None, 1), (3, None, 6)),
            ((8, 2, None, 1), (5, None, 8)),
            ((8, 4, None, 1), (3, Some(9), 8)),
            ((30, 2, None, 1), (16, None, 19)),
            ((30, 4, None, 2), (16, Some(9), 22)),
            ((10, 2, Some(3), 3), (3, None, 8)),
            ((20, 4, Some(15), 1), (15, Some(9), 20)),
        ];
        for ((cs, pl, sw, hs), (want_sw, want_raft, want_min)) in cases {
            let g = validate(&input(cs, pl, sw, hs)).unwrap();
            assert_eq!(g.stripe_width(), want_sw, "{cs} {pl} {sw:?} {hs}");
            assert_eq!(g.raft_size(), want_raft);
            assert_eq!(g.min_cluster_size(), want_min);
            assert!(g.min_cluster_size() <= g.cluster_size());
        }
    }

    #[test]
    fn rejected_table() {
        let cases: [(GeometryInput, GeometryError); 8] = [
            (
                input(5, 2, None, 1),
                GeometryError::ClusterTooSmall { cluster_size: 5 },
            ),
            (
                input(8, 3, None, 1),
                GeometryError::InvalidProtectionLevel {
                    protection_level: 3,
                },
            ),
            (
                input(8, 2, Some(2), 1),
                GeometryError::StripeWidthOutOfRange { stripe_width: 2 },
            ),
            (
                input(40, 2, Some(17), 1),
                GeometryError::StripeWidthOutOfRange { stripe_width: 17 },
            ),
            (
                input(6, 4, None, 1),
                GeometryError::DefaultStripeTooNarrow {
                    stripe_width: 1,
                    cluster_size: 6,
                    protection_level: 4,
                },
            ),
            (
                input(7, 4, None, 1),
                GeometryError::DefaultStripeTooNarrow {
                    stripe_width: 2,
                    cluster_size: 7,
                    protection_level: 4,
                },
            ),
            (
                input(8, 2, None, 0),
                GeometryError::HotSpareTooSmall { hot_spare: 0 },
            ),
            (
                // default sw = 5; 5 + 2 + 2 = 9 > 8: the reference over-subscribes here.
                input(8, 2, None, 2),
                GeometryError::DoesNotFit {
                    stripe_width: 5,
                    protection_level: 2,
                    hot_spare: 2,
                    required: 9,
                    cluster_size: 8,
                },
            ),
        ];
        for (inp, want) in cases {
            assert_eq!(validate(&inp), Err(want), "{inp:?}");
        }
    }

    #[test]
    fn explicit_stripe_must_fit() {
        let err = validate(&input(10, 2, Some(8), 1)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stripe width 8 + protection level 2 + hot spare 1 = 11 exceeds cluster size 10"
        );
    }

    #[test]
    fn obs_requires_default_fs() {
        let mut inp = input(8, 2, None, 1);
        inp.obs_tiering = true;
        inp.set_default_fs = false;
        assert_eq!(
            validate(&inp),
            Err(GeometryError::ObsTieringWithoutDefaultFs {
                obs_tiering: true,
                set_default_fs: false
            })
        );
        inp.set_default_fs = true;
        assert!(validate(&inp).unwrap().obs_tiering());
    }

    #[test]
    fn messages_name_values() {
        let err = validate(&input(7, 4, None, 1)).unwrap_err();
        assert!(err.to_string().contains("default stripe width 2"));
        assert!(err.to_string().starts_with(char::is_lowercase));
    }
}
