//! Reports (`<state key>#reports`, a ring of slots per host) and their per-host sequence
//! counters (`<state key>#report-seq`), both with a TTL.

use super::codec::{Item, expiry, get_n, get_s, get_time, key, n, s, timestamp};
use super::{ATTR_EXPIRES_AT, Conditional, DynamoStateStore, store_error};
use crate::domain::report::{Report, ReportKind};
use crate::domain::state::Group;
use crate::ports::{NewReport, StoreError, check_storable_time};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::Utc;
use std::time::Duration;

const ATTR_HOST: &str = "host";
const ATTR_SEQ: &str = "seq";
const ATTR_AT: &str = "at";
const ATTR_KIND: &str = "kind";
const ATTR_MESSAGE: &str = "message";
const ATTR_HOSTS: &str = "hosts";

const REPORT_SEQ_UPDATE: &str = "ADD #seq :one SET #expires_at = :expires_at";
const REPORT_PUT_CONDITION: &str = "attribute_not_exists(#seq) OR #seq < :seq";

/// The counter outlives its reports by a year so sequence numbers never restart under live
/// reports.
const SEQ_RETENTION: Duration = Duration::from_secs(366 * 86_400);

pub(super) async fn next_seq(
    store: &DynamoStateStore,
    group: Group,
    host: &str,
    window: &str,
    max_new_hosts: u32,
) -> Result<Option<u64>, StoreError> {
    let pk = format!("{}#report-seq", store.state_key(group));
    // The trait gives no time here and the store holds no clock, hence the system clock.
    let expires_at = expiry(Utc::now(), SEQ_RETENTION);
    let increment = |condition: Option<&str>| {
        let request = store
            .update(
                key(pk.clone(), host),
                REPORT_SEQ_UPDATE,
                &[("#seq", ATTR_SEQ), ("#expires_at", ATTR_EXPIRES_AT)],
                [(":one", n(1)), (":expires_at", n(expires_at))],
            )
            .return_values(ReturnValue::UpdatedNew);
        match condition {
            Some(condition) => request.condition_expression(condition),
            None => request,
        }
    };
    // A known host: one write. A new one: admitted against the window's count first.
    let attributes = match store
        .send_conditional(
            "update_item report sequence",
            increment(Some("attribute_exists(#seq)")),
        )
        .await?
    {
        Conditional::Applied(attributes) => attributes,
        Conditional::Refused(_) => {
            if !admit_new_host(store, group, window, max_new_hosts).await? {
                return Ok(None);
            }
            store.counted_write();
            increment(None)
                .send()
                .await
                .map_err(|e| store_error("update_item report sequence", e))?
                .attributes
                .unwrap_or_default()
        }
    };
    get_n(&attributes, ATTR_SEQ)
        .ok()
        .flatten()
        .map(Some)
        .ok_or_else(|| StoreError::Corrupt {
            key: format!("{pk}/{host}"),
            reason: "sequence counter did not return a number".to_owned(),
        })
}

/// Counts one more host starting to report in `window`, unless `max_new_hosts` already did.
async fn admit_new_host(
    store: &DynamoStateStore,
    group: Group,
    window: &str,
    max_new_hosts: u32,
) -> Result<bool, StoreError> {
    let request = store.conditional_update(
        key(format!("{}#report-hosts", store.state_key(group)), window),
        "ADD #hosts :one SET #expires_at = :expires_at",
        "attribute_not_exists(#hosts) OR #hosts < :max",
        &[("#hosts", ATTR_HOSTS), ("#expires_at", ATTR_EXPIRES_AT)],
        [
            (":one", n(1)),
            (":max", n(max_new_hosts)),
            (":expires_at", n(expiry(Utc::now(), SEQ_RETENTION))),
        ],
    );
    Ok(matches!(
        store
            .send_conditional("update_item reporting hosts", request)
            .await?,
        Conditional::Applied(_)
    ))
}

pub(super) async fn put(
    store: &DynamoStateStore,
    group: Group,
    seq: u64,
    report: &NewReport,
    per_host: u32,
    retention: Duration,
) -> Result<(), StoreError> {
    check_storable_time("report time", report.at)?;
    store.counted_write();
    let slot = seq % u64::from(per_host.max(1));
    let mut item = key(
        format!("{}#reports", store.state_key(group)),
        format!("{}#{slot:06}", report.host),
    );
    item.extend([
        (ATTR_HOST.to_owned(), s(&report.host)),
        (ATTR_SEQ.to_owned(), n(seq)),
        (ATTR_AT.to_owned(), s(timestamp(report.at))),
        (ATTR_KIND.to_owned(), s(report.kind.as_str())),
        (ATTR_MESSAGE.to_owned(), s(&report.message)),
        (ATTR_EXPIRES_AT.to_owned(), n(expiry(report.at, retention))),
    ]);
    let result = store
        .client
        .put_item()
        .table_name(&store.config.table)
        .set_item(Some(item))
        .condition_expression(REPORT_PUT_CONDITION)
        .expression_attribute_names("#seq", ATTR_SEQ)
        .expression_attribute_values(":seq", n(seq))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // A newer report already took this ring slot: ours is the one to drop.
        Err(SdkError::ServiceError(service))
            if service.err().is_conditional_check_failed_exception() =>
        {
            Ok(())
        }
        Err(e) => Err(store_error("put_item report", e)),
    }
}

pub(super) async fn all(store: &DynamoStateStore, group: Group) -> Result<Vec<Report>, StoreError> {
    let pk = format!("{}#reports", store.state_key(group));
    let mut reports = store.query_partition(&pk, "query reports", decode).await?;
    reports.sort_by(|a, b| a.host.cmp(&b.host).then(a.seq.cmp(&b.seq)));
    Ok(reports)
}

fn decode(item: &Item) -> Result<Report, String> {
    let kind_text = get_s(item, ATTR_KIND).unwrap_or_default();
    Ok(Report {
        host: get_s(item, ATTR_HOST).ok_or("report has no host")?,
        seq: get_n(item, ATTR_SEQ)?.ok_or("report has no sequence number")?,
        at: get_time(item, ATTR_AT)?.ok_or("report has no time")?,
        kind: ReportKind::parse(&kind_text)
            .ok_or_else(|| format!("report has unknown kind {kind_text:?}"))?,
        message: get_s(item, ATTR_MESSAGE).unwrap_or_default(),
    })
}
