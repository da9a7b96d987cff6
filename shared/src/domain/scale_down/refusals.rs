//! WEKA refusals that stand (issue 15, item 6): a planned mutation WEKA answered with a
//! JSON-RPC error (for example a host deactivation that would leave too few failure domains) is
//! recorded with what was asked and what the cluster looked like, and the identical call is not
//! sent again while nothing relevant changed: same machine, same call, same view (the number of
//! machines and containers per state, and the states of that machine's containers), within a
//! back-off window ([`backoff`]: 15 minutes, doubling per refusal, at most 2 hours). A changed
//! view or a passed window gets the call sent once more; an answer other than a refusal ends the
//! record. Pure: the shell loads the previous records, asks [`RefusalBook::withheld`] before each
//! batch and stores [`RefusalBook::next`] after the run.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::weka::model::HostsList;

use super::{ActionId, ActionOutcome, Batch, PlannedAction, ScaleDownPlan};

/// The longest WEKA message kept in a record.
pub const MAX_REFUSAL_MESSAGE_BYTES: usize = 512;
/// The most records kept (a plan acts on a bounded number of machines).
pub const MAX_REFUSALS: usize = 64;

/// How long a call refused `refused_runs` times in a row is not sent again unchanged: 15
/// minutes after the first refusal, doubling with each further one, at most 2 hours.
pub fn backoff(refused_runs: u32) -> TimeDelta {
    let doublings = refused_runs.saturating_sub(1).min(3);
    (TimeDelta::minutes(15) * (1_i32 << doublings)).min(TimeDelta::hours(2))
}

/// One refusal that stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WekaRefusal {
    /// The machine's IP (`cluster` for calls on no machine, e.g. orphan drives).
    pub machine: String,
    /// The JSON-RPC method.
    pub method: String,
    /// Its parameters (container or drive ids).
    pub params: serde_json::Value,
    /// Fingerprint of the call (method and parameters).
    pub call: String,
    /// Fingerprint of the cluster view the call was refused in.
    pub view: String,
    /// WEKA's JSON-RPC error code.
    pub code: i64,
    /// WEKA's message, at most [`MAX_REFUSAL_MESSAGE_BYTES`].
    pub message: String,
    /// The first refusal of this call.
    pub since: DateTime<Utc>,
    /// The latest refusal.
    pub last_refused_at: DateTime<Utc>,
    /// Refusals in a row (sends, not runs that held the call back).
    pub refused_runs: u32,
    /// Until when the unchanged call is not sent again.
    pub retry_after: DateTime<Utc>,
}

impl WekaRefusal {
    /// How a run reports the call it did not send.
    pub fn report(&self) -> String {
        format!(
            "refused by WEKA: {} (code {}) (since {}, next try after {})",
            self.message,
            self.code,
            self.since
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            self.retry_after
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    }
}

/// The refusals standing before a run, and the view it planned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalBook {
    previous: Vec<WekaRefusal>,
    /// Machine and container counts per state/status, for every machine.
    cluster: String,
    /// Per machine IP: its containers with their state and status.
    machines: BTreeMap<String, String>,
    now: DateTime<Utc>,
}

impl RefusalBook {
    /// The book for a run at `now` that read `hosts`, given the records stored before.
    pub fn new(previous: Vec<WekaRefusal>, hosts: &HostsList, now: DateTime<Utc>) -> Self {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut machines: BTreeMap<String, String> = BTreeMap::new();
        for (id, host) in hosts {
            let state = format!("{}/{}", host.state.as_str(), host.status.as_str());
            machines
                .entry(host.host_ip.as_str().to_owned())
                .or_default()
                .push_str(&format!("{id}={state};"));
            *counts.entry(state).or_default() += 1;
        }
        let cluster = format!("machines={};{counts:?}", machines.len());
        Self {
            previous,
            cluster,
            machines,
            now,
        }
    }

    /// The records stored before the run.
    pub fn previous(&self) -> &[WekaRefusal] {
        &self.previous
    }

    fn view_of(&self, machine: &str) -> String {
        let own = self.machines.get(machine).map_or("", String::as_str);
        fingerprint(&format!("{}|{own}", self.cluster))
    }

    fn find(&self, action: &PlannedAction) -> Option<&WekaRefusal> {
        let (machine, call) = key(action);
        self.previous
            .iter()
            .find(|r| r.machine == machine && r.call == call)
    }

    /// The refusal that holds `action` back: the identical call was refused in the same view
    /// and its window has not passed.
    pub fn standing(&self, action: &PlannedAction) -> Option<&WekaRefusal> {
        if action.best_effort {
            return None;
        }
        self.find(action)
            .filter(|r| r.view == self.view_of(&r.machine) && self.now < r.retry_after)
    }

    /// The refusal that holds `batch` back: one of its calls is refused unchanged, so none of
    /// the batch (its audit event included) is sent this run.
    pub fn withheld(&self, batch: &Batch) -> Option<&WekaRefusal> {
        batch.actions.iter().find_map(|a| self.standing(a))
    }

    /// The records to store after the run: a call refused again (or for the first time) is
    /// recorded with a new window; one the run held back, or that failed otherwise or was not
    /// reached, keeps its record; one that succeeded, or that the plan no longer holds, has
    /// none.
    pub fn next(
        &self,
        plan: &ScaleDownPlan,
        outcomes: &BTreeMap<ActionId, ActionOutcome>,
    ) -> Vec<WekaRefusal> {
        let mut seen = BTreeSet::new();
        let mut next = Vec::new();
        for action in plan.actions().filter(|a| !a.best_effort) {
            let (machine, call) = key(action);
            if !seen.insert((machine.clone(), call.clone())) {
                continue;
            }
            let previous = self.find(action);
            match outcomes.get(&action.id) {
                Some(ActionOutcome::Ok) => {}
                Some(ActionOutcome::Refused { code, message }) => {
                    let refused_runs = previous.map_or(1, |p| p.refused_runs.saturating_add(1));
                    next.push(WekaRefusal {
                        view: self.view_of(&machine),
                        machine,
                        method: action.call.method().to_owned(),
                        params: action.call.params(),
                        call,
                        code: *code,
                        message: truncate(message, MAX_REFUSAL_MESSAGE_BYTES),
                        since: previous.map_or(self.now, |p| p.since),
                        last_refused_at: self.now,
                        refused_runs,
                        retry_after: self.now + backoff(refused_runs),
                    });
                }
                _ => next.extend(previous.cloned()),
            }
        }
        next.truncate(MAX_REFUSALS);
        next
    }
}

/// `(machine, call fingerprint)` of an action.
fn key(action: &PlannedAction) -> (String, String) {
    let machine = action
        .machine_ip
        .clone()
        .unwrap_or_else(|| "cluster".to_owned());
    let call = fingerprint(&format!(
        "{}|{}",
        action.call.method(),
        action.call.params()
    ));
    (machine, call)
}

/// A stable 64-bit FNV-1a digest, in hex (stored: it must not change between builds).
fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_doubles_from_fifteen_minutes_up_to_two_hours() {
        let minutes: Vec<i64> = (0..7).map(|n| backoff(n).num_minutes()).collect();
        assert_eq!(minutes, vec![15, 15, 30, 60, 120, 120, 120]);
    }

    #[test]
    fn fingerprints_are_stable() {
        assert_eq!(fingerprint(""), "cbf29ce484222325");
        assert_eq!(fingerprint("a"), "af63dc4c8601ec8c");
    }
}
