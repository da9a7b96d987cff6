//! Leases (`<backend state key>#lease` / `<name>`): an owner and an expiry, taken, renewed and
//! released by conditional `UpdateItem`.

use super::codec::{Item, get_n, get_s, key, n, s};
use super::{Conditional, DynamoStateStore};
use crate::ports::{Lease, LeaseOutcome, StoreError};
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use std::time::Duration;

const ATTR_OWNER: &str = "owner";
const ATTR_LEASE_UNTIL_MS: &str = "lease_until_ms";

const LEASE_UPDATE: &str = "SET #owner = :owner, #until = :until";
const LEASE_CONDITION: &str = "attribute_not_exists(#owner) OR #owner = :owner OR #until <= :now";
const LEASE_RELEASE_UPDATE: &str = "REMOVE #owner, #until";
const LEASE_RELEASE_CONDITION: &str = "#owner = :owner";

const NAMES: [(&str, &str); 2] = [("#owner", ATTR_OWNER), ("#until", ATTR_LEASE_UNTIL_MS)];

fn lease_key(store: &DynamoStateStore, name: &str) -> Item {
    key(format!("{}#lease", store.config.state_key), name)
}

pub(super) async fn acquire(
    store: &DynamoStateStore,
    name: &str,
    owner: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<LeaseOutcome, StoreError> {
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let request = store
        .conditional_update(
            lease_key(store, name),
            LEASE_UPDATE,
            LEASE_CONDITION,
            &NAMES,
            [
                (":owner", s(owner)),
                (":until", n(expires_at.timestamp_millis())),
                (":now", n(now.timestamp_millis())),
            ],
        )
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    let lease = |owner: String, until: DateTime<Utc>| Lease {
        name: name.to_owned(),
        owner,
        expires_at: until,
    };
    match store.send_conditional("update_item lease", request).await? {
        Conditional::Applied(_) => Ok(LeaseOutcome::Acquired(lease(owner.to_owned(), expires_at))),
        Conditional::Refused(old) => {
            let old = old.unwrap_or_default();
            let holder = get_s(&old, ATTR_OWNER).unwrap_or_else(|| "unknown".to_owned());
            let until = get_n::<i64>(&old, ATTR_LEASE_UNTIL_MS)
                .ok()
                .flatten()
                .and_then(DateTime::from_timestamp_millis)
                .unwrap_or(expires_at);
            Ok(LeaseOutcome::Held(lease(holder, until)))
        }
    }
}

pub(super) async fn release(
    store: &DynamoStateStore,
    name: &str,
    owner: &str,
) -> Result<bool, StoreError> {
    let request = store.conditional_update(
        lease_key(store, name),
        LEASE_RELEASE_UPDATE,
        LEASE_RELEASE_CONDITION,
        &NAMES,
        [(":owner", s(owner))],
    );
    Ok(store
        .send_conditional("update_item lease release", request)
        .await?
        .applied())
}
