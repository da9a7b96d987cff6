//! `AttributeValue` encoding and decoding shared by every item kind: keys, scalars, times,
//! expression name maps and TTLs. NULL or missing attributes read as empty.

use super::{ATTR_PK, ATTR_SK};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;
use std::time::Duration;

/// An item, or a key, as the SDK carries it.
pub(super) type Item = HashMap<String, AttributeValue>;

/// The primary key `pk`/`sk` of an item.
pub(super) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([
        (ATTR_PK.to_owned(), AttributeValue::S(pk)),
        (ATTR_SK.to_owned(), AttributeValue::S(sk.into())),
    ])
}

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl Into<i128>) -> AttributeValue {
    AttributeValue::N(value.into().to_string())
}

pub(super) fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(super) fn timestamp(at: DateTime<Utc>) -> String {
    // Fixed width, so timestamps compare correctly as strings in condition expressions.
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The TTL value (epoch seconds) of an item kept for `retention` after `at`.
pub(super) fn expiry(at: DateTime<Utc>, retention: Duration) -> i64 {
    at.timestamp()
        .saturating_add(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX / 2))
}

pub(super) fn get_s(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

pub(super) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<Option<T>, String> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("attribute {name} is not a valid number: {v:?}")),
        Some(other) => Err(format!(
            "attribute {name} should be a number, found {other:?}"
        )),
    }
}

pub(super) fn get_bool(item: &Item, name: &str) -> Result<bool, String> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(false),
        Some(AttributeValue::Bool(b)) => Ok(*b),
        Some(other) => Err(format!(
            "attribute {name} should be a boolean, found {other:?}"
        )),
    }
}

pub(super) fn get_time(item: &Item, name: &str) -> Result<Option<DateTime<Utc>>, String> {
    get_s(item, name)
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.to_utc())
                .map_err(|e| format!("attribute {name} is not an RFC 3339 time ({v:?}): {e}"))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_for_string_comparison() {
        let a = timestamp(DateTime::from_timestamp(1_700_000_000, 0).unwrap());
        let b = timestamp(DateTime::from_timestamp(1_700_000_000, 5_000_000).unwrap());
        assert_eq!(a.len(), b.len());
        assert!(a < b);
    }
}
