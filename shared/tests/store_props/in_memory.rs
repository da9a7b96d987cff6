//! The store round-trip properties (`store_props`) on the in-memory store.

use crate::store_props::{Fixture, run_all, scaled_cases};
use chrono::DateTime;
use weka_shared::domain::lifecycle::{LifecycleKey, LifecyclePhase, LifecycleRecord};
use weka_shared::domain::report::{Report, ReportKind};
use weka_shared::domain::state::Group;
use weka_shared::testing::InMemoryStateStore;
use weka_shared::wire::events::Transition;

/// The time the review's H5 payload carries, which no stored item can be read back with.
fn year_10000() -> chrono::DateTime<chrono::Utc> {
    DateTime::parse_from_rfc3339("+10000-01-01T00:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_else(|_| DateTime::from_timestamp(253_402_300_800, 0).unwrap())
}

struct InMemory;

impl Fixture for InMemory {
    type Store = InMemoryStateStore;

    async fn fresh(&self, size: u32) -> InMemoryStateStore {
        InMemoryStateStore::with_sizes(size, 2)
    }

    async fn corrupt_lifecycle(&self, store: &InMemoryStateStore) {
        store.insert_raw_lifecycle(LifecycleRecord {
            key: LifecycleKey {
                instance_id: "i-corrupt\u{0}".to_owned(),
                transition: Transition::Terminate,
            },
            group: "g".to_owned(),
            hook: "h".to_owned(),
            token: None,
            started_at: year_10000(),
            private_ip: None,
            last_heartbeat_at: None,
            phase: LifecyclePhase::Waiting,
            result: None,
            reason: None,
            decided_at: None,
            completed_at: None,
        });
    }

    async fn corrupt_report(&self, store: &InMemoryStateStore, group: Group) {
        store.insert_raw_report(
            group,
            0,
            Report {
                host: "corrupt\u{0}".to_owned(),
                seq: 1,
                at: year_10000(),
                kind: ReportKind::Error,
                message: String::new(),
            },
        );
    }
}

#[test]
fn every_accepted_value_reads_back_and_a_corrupt_item_is_skipped_in_memory() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    run_all(&rt, &InMemory, scaled_cases(256));
}
