//! The scalar values of the WEKA models: typed ids (`HostId<N>`), fast RFC 3339 timestamps,
//! the string enums, and the errors parsing them raises.

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Errors raised while parsing WEKA model values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A typed id string did not have the `Prefix<N>` shape.
    #[error("invalid {kind} id {value:?}")]
    InvalidId {
        /// Expected prefix, e.g. `HostId`.
        kind: &'static str,
        /// The offending text.
        value: String,
    },
}

pub(crate) fn parse_typed_id(kind: &'static str, s: &str) -> Result<i64, ModelError> {
    let bad = || ModelError::InvalidId {
        kind,
        value: s.to_owned(),
    };
    let inner = s
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('<'))
        .and_then(|r| r.strip_suffix('>'))
        .ok_or_else(bad)?;
    if inner == "INVALID" {
        return Ok(-1);
    }
    inner
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(bad)
}

/// [`parse_typed_id`] on raw bytes, with a fast path for the plain `Prefix<digits>` shape.
#[inline]
pub(crate) fn parse_typed_id_bytes(kind: &'static str, s: &[u8]) -> Result<i64, ModelError> {
    match plain_typed_id(kind.as_bytes(), s) {
        Some(n) => Ok(n),
        None => parse_typed_id_text(kind, s),
    }
}

/// `Prefix<digits>` with 1 to 18 digits (no overflow possible), read in one pass: this runs for
/// every key of the large lists, where a `memcmp` call and a second pass over the digits cost
/// more than the work itself.
#[inline(always)]
fn plain_typed_id(kind: &[u8], s: &[u8]) -> Option<i64> {
    let (head, rest) = s.split_at_checked(kind.len())?;
    if !head.iter().zip(kind).all(|(a, b)| a == b) {
        return None;
    }
    let digits = rest.strip_prefix(b"<")?.strip_suffix(b">")?;
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    digits.iter().try_fold(0i64, |n, &c| {
        let digit = c.wrapping_sub(b'0');
        (digit <= 9).then(|| n * 10 + i64::from(digit))
    })
}

/// [`parse_typed_id_bytes`] off the fast path: `INVALID`, signs, leading zeros, errors.
#[cold]
#[inline(never)]
fn parse_typed_id_text(kind: &'static str, s: &[u8]) -> Result<i64, ModelError> {
    match std::str::from_utf8(s) {
        Ok(text) => parse_typed_id(kind, text),
        Err(_) => Err(ModelError::InvalidId {
            kind,
            value: String::from_utf8_lossy(s).into_owned(),
        }),
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl $name {
            /// The id WEKA writes as `<Prefix><INVALID>`.
            pub const INVALID: Self = Self(-1);

            /// Whether this is the `INVALID` (-1) id.
            pub fn is_invalid(self) -> bool {
                self.0 < 0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ModelError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_typed_id($prefix, s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                if self.0 < 0 {
                    write!(f, concat!($prefix, "<INVALID>"))
                } else {
                    write!(f, concat!($prefix, "<{}>"), self.0)
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a string like ", $prefix, "<N>"))
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map_err(E::custom)
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

typed_id!(
    /// `HostId<N>`: one WEKA container ("host"); `HostId<INVALID>` is -1.
    HostId,
    "HostId"
);
typed_id!(
    /// `DiskId<N>`: one drive.
    DriveId,
    "DiskId"
);
typed_id!(
    /// `NodeId<N>`: one WEKA process; N % 20 == 0 marks a management node.
    NodeId,
    "NodeId"
);

impl NodeId {
    /// A node whose number is a multiple of 20 is its container's management process.
    pub fn is_management(self) -> bool {
        self.0 >= 0 && self.0 % 20 == 0
    }
}

/// Deserialises `null` as the type's default.
pub(super) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Parses the strict RFC 3339 shape WEKA writes (`YYYY-MM-DDTHH:MM:SS[.fffffffff](Z|±HH:MM)`)
/// without chrono's generic format machinery. `None` for anything else (the caller then falls back
/// to chrono, so accepted values and errors are exactly chrono's).
pub(crate) fn parse_rfc3339_fast(b: &[u8]) -> Option<DateTime<Utc>> {
    use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone};
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(num(&b[0..4])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(&b[5..7])?, num(&b[8..10])?)?;
    let (hour, min, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if sec > 59 {
        return None; // leap seconds: leave them to chrono
    }
    let mut rest = &b[19..];
    let mut nano = 0u32;
    if let Some(frac) = rest.strip_prefix(b".") {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nano = num(&frac[..digits])? * 10u32.pow(u32::try_from(9 - digits).ok()?);
        rest = &frac[digits..];
    }
    let time = NaiveTime::from_hms_nano_opt(hour, min, sec, nano)?;
    let offset_secs = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (oh, om) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i32::try_from(oh * 3600 + om * 60).ok()?;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    FixedOffset::east_opt(offset_secs)?
        .from_local_datetime(&date.and_time(time))
        .single()
        .map(|dt| dt.with_timezone(&Utc))
}

/// Parses an RFC 3339 timestamp exactly as chrono's `DateTime<Utc>` deserialisation does.
pub(crate) fn parse_datetime(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    match parse_rfc3339_fast(s.as_bytes()) {
        Some(dt) => Ok(dt),
        None => s
            .parse::<DateTime<chrono::FixedOffset>>()
            .map(|dt| dt.with_timezone(&Utc)),
    }
}

/// `DateTime<Utc>` decoded through [`parse_datetime`].
pub(super) struct FastDateTime(pub(super) DateTime<Utc>);

impl<'de> Deserialize<'de> for FastDateTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FastDateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 formatted date and time string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FastDateTime, E> {
                parse_datetime(v).map(FastDateTime).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// Deserialises an optional timestamp (`null` → `None`), like `Option<DateTime<Utc>>` but faster.
pub(super) fn opt_datetime<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<FastDateTime>::deserialize(d)?.map(|t| t.0))
}

/// A string enum of the models, for readers generic over them (`weka::decode`'s field tables).
pub(crate) trait StringEnum: Default {
    /// Known spellings without allocating; `None` for values kept as `Other`.
    fn from_known_bytes(s: &[u8]) -> Option<Self>;
    /// A value this crate does not interpret.
    fn other(s: String) -> Self;
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// Any value this crate does not interpret (kept verbatim).
            Other(String),
            /// Missing, null or empty.
            #[default]
            Unknown,
        }

        impl $name {
            /// The WEKA spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(s) => s,
                    Self::Unknown => "",
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    $($text => Self::$variant,)+
                    "" => Self::Unknown,
                    _ => Self::Other(s),
                }
            }
        }

        impl $name {
            /// Known spellings without allocating; `None` for values kept as `Other`.
            pub(crate) fn from_known(s: &str) -> Option<Self> {
                Self::from_known_bytes(s.as_bytes())
            }

            /// [`Self::from_known`] on the raw bytes.
            pub(crate) fn from_known_bytes(s: &[u8]) -> Option<Self> {
                $(if s == $text.as_bytes() {
                    return Some(Self::$variant);
                })+
                s.is_empty().then_some(Self::Unknown)
            }
        }

        impl StringEnum for $name {
            fn from_known_bytes(s: &[u8]) -> Option<Self> {
                Self::from_known_bytes(s)
            }

            fn other(s: String) -> Self {
                Self::Other(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        // Same values as `From<String>`, but known spellings are matched on the borrowed text.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_known(v).unwrap_or_else(|| $name::Other(v.to_owned())))
                    }
                    fn visit_string<E: de::Error>(self, v: String) -> Result<$name, E> {
                        Ok($name::from(v))
                    }
                    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<$name, E> {
                        std::str::from_utf8(v)
                            .map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &self))
                            .and_then(|s| self.visit_str(s))
                    }
                }
                d.deserialize_string(V)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Other(s) => s,
                    other => other.as_str().to_owned(),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// Container lifecycle `state` (`hosts_list[].state`).
    HostState {
        /// Serving.
        Active = "ACTIVE",
        /// Deactivation requested, data being evacuated.
        Deactivating = "DEACTIVATING",
        /// Being removed.
        Removing = "REMOVING",
        /// Deactivated; may be removed.
        Inactive = "INACTIVE",
    }
);

string_enum!(
    /// Container health `status` (`hosts_list[].status`).
    HostStatus {
        /// Up.
        Up = "UP",
        /// Down.
        Down = "DOWN",
        /// Degraded.
        Degraded = "DEGRADED",
        /// Inactive.
        Inactive = "INACTIVE",
    }
);

string_enum!(
    /// Container `mode`.
    HostMode {
        /// Backend container (drives/compute/frontend).
        Backend = "backend",
        /// Client container (never scaled down).
        Client = "client",
    }
);

string_enum!(
    /// Drive `status` (`disks_list[].status`).
    DriveStatus {
        /// Active.
        Active = "ACTIVE",
        /// Inactive.
        Inactive = "INACTIVE",
        /// Phasing out.
        PhasingOut = "PHASING_OUT",
        /// Failed.
        Failed = "FAILED",
    }
);

string_enum!(
    /// Node (process) `status`.
    NodeStatus {
        /// Up.
        Up = "UP",
        /// Down.
        Down = "DOWN",
    }
);
