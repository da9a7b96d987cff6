//! Leases (`<backend state key>#lease` / `<name>`): an owner, an expiry and the one invocation
//! acting for the owner, taken, renewed, handed on and released by conditional `UpdateItem`.

use super::codec::{Item, get_n, get_s, key, n, s};
use super::{Conditional, DynamoStateStore};
use crate::ports::{Acting, Lease, LeaseClaim, LeaseOutcome, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Utc};
use std::time::Duration;

const ATTR_OWNER: &str = "owner";
const ATTR_LEASE_UNTIL_MS: &str = "lease_until_ms";
const ATTR_ACTING: &str = "acting";
const ATTR_ACTING_UNTIL_MS: &str = "acting_until_ms";

/// Free, lapsed, or the owner's with no other invocation possibly acting (`LeaseClaim::may_take`).
const TAKE_AS_INVOCATION: &str = "attribute_not_exists(#owner) OR #until <= :now OR (#owner = :owner \
     AND (attribute_not_exists(#acting) OR #acting = :acting OR #acting_until <= :now))";
const SET_ACTING: &str =
    "SET #owner = :owner, #until = :until, #acting = :acting, #acting_until = :acting_until";
const TAKE_AS_OWNER: &str = "attribute_not_exists(#owner) OR #until <= :now OR (#owner = :owner \
     AND (attribute_not_exists(#acting) OR #acting_until <= :now))";
const SET_OWNER: &str = "SET #owner = :owner, #until = :until REMOVE #acting, #acting_until";
const END_ACTING: &str = "REMOVE #acting, #acting_until";
const END_ACTING_CONDITION: &str = "#owner = :owner AND #acting = :acting";
const RELEASE: &str = "REMOVE #owner, #until, #acting, #acting_until";
const RELEASE_CONDITION: &str = "#owner = :owner";

const NAMES: [(&str, &str); 4] = [
    ("#owner", ATTR_OWNER),
    ("#until", ATTR_LEASE_UNTIL_MS),
    ("#acting", ATTR_ACTING),
    ("#acting_until", ATTR_ACTING_UNTIL_MS),
];

fn lease_key(store: &DynamoStateStore, name: &str) -> Item {
    key(format!("{}#lease", store.config.state_key), name)
}

fn millis(item: &Item, attr: &str) -> Option<DateTime<Utc>> {
    get_n::<i64>(item, attr)
        .ok()
        .flatten()
        .and_then(DateTime::from_timestamp_millis)
}

pub(super) async fn acquire(
    store: &DynamoStateStore,
    name: &str,
    claim: &LeaseClaim,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<LeaseOutcome, StoreError> {
    let expires_at = claim.expires_at(now, ttl);
    let mut values: Vec<(&'static str, AttributeValue)> = vec![
        (":owner", s(&claim.owner)),
        (":until", n(expires_at.timestamp_millis())),
        (":now", n(now.timestamp_millis())),
    ];
    let (update, condition) = match &claim.acting {
        Some(acting) => {
            values.push((":acting", s(&acting.invocation)));
            values.push((":acting_until", n(acting.until.timestamp_millis())));
            (SET_ACTING, TAKE_AS_INVOCATION)
        }
        None => (SET_OWNER, TAKE_AS_OWNER),
    };
    let request = store
        .conditional_update(lease_key(store, name), update, condition, &NAMES, values)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    match store.send_conditional("update_item lease", request).await? {
        Conditional::Applied(_) => Ok(LeaseOutcome::Acquired(Lease {
            name: name.to_owned(),
            owner: claim.owner.clone(),
            expires_at,
            acting: claim.acting.clone(),
        })),
        Conditional::Refused(old) => {
            let old = old.unwrap_or_default();
            let acting = get_s(&old, ATTR_ACTING).map(|invocation| Acting {
                invocation,
                until: millis(&old, ATTR_ACTING_UNTIL_MS).unwrap_or(expires_at),
            });
            Ok(LeaseOutcome::Held(Lease {
                name: name.to_owned(),
                owner: get_s(&old, ATTR_OWNER).unwrap_or_else(|| "unknown".to_owned()),
                expires_at: millis(&old, ATTR_LEASE_UNTIL_MS).unwrap_or(expires_at),
                acting,
            }))
        }
    }
}

pub(super) async fn end_acting(
    store: &DynamoStateStore,
    name: &str,
    owner: &str,
    invocation: &str,
) -> Result<bool, StoreError> {
    let request = store.conditional_update(
        lease_key(store, name),
        END_ACTING,
        END_ACTING_CONDITION,
        // DynamoDB refuses a name the expressions do not use.
        &[NAMES[0], NAMES[2], NAMES[3]],
        [(":owner", s(owner)), (":acting", s(invocation))],
    );
    Ok(store
        .send_conditional("update_item lease end acting", request)
        .await?
        .applied())
}

pub(super) async fn release(
    store: &DynamoStateStore,
    name: &str,
    owner: &str,
) -> Result<bool, StoreError> {
    let request = store.conditional_update(
        lease_key(store, name),
        RELEASE,
        RELEASE_CONDITION,
        &NAMES,
        [(":owner", s(owner))],
    );
    Ok(store
        .send_conditional("update_item lease release", request)
        .await?
        .applied())
}
