//! The `progress` view of bootstrap: who registered, who is still installing, what each host
//! reported. Pure: built from the state, the stored reports and the running instances.

use crate::domain::instance::Instance;
use crate::domain::report::{Report, ReportKind};
use crate::domain::state::ClusterState;
use crate::wire::bootstrap::{
    DatedMessage, HostMessages, ProgressCut, ProgressResponse, ProgressSummary,
};
use chrono::SecondsFormat;
use std::collections::{BTreeMap, BTreeSet};

/// Whether report host name `host` designates `instance`: its id, its private DNS name (or
/// that name's first label), or an `ip-a-b-c-d` name of its private IP.
pub fn host_matches(host: &str, instance: &Instance) -> bool {
    if host == instance.id {
        return true;
    }
    let first_label = host.split('.').next().unwrap_or(host);
    if let Some(dns) = &instance.private_dns_name
        && (dns == host || dns.split('.').next() == Some(first_label))
    {
        return true;
    }
    let from_name = first_label
        .strip_prefix("ip-")
        .map(|rest| rest.replace('-', "."));
    matches!((&from_name, &instance.private_ip), (Some(a), Some(b)) if a == b)
}

/// The most reports a `progress` answer carries, in bytes of JSON: Lambda refuses a response
/// over 6 MB, and every report appears twice (the reference's lines and `messages`).
pub const PROGRESS_BUDGET_BYTES: usize = 5 * 1024 * 1024;

/// The newest reports whose two renderings fit `budget` bytes, in their original order, and
/// how many older ones were left out.
fn newest_within(reports: &[Report], budget: usize) -> (Vec<&Report>, usize) {
    let mut by_age: Vec<usize> = (0..reports.len()).collect();
    by_age.sort_by(|a, b| reports[*b].at.cmp(&reports[*a].at));
    let mut spent = 0usize;
    let mut keep = vec![false; reports.len()];
    for index in by_age {
        let report = &reports[index];
        // Quoted and escaped as JSON, plus the date, kind, separators and the host key.
        let escaped =
            serde_json::to_string(&report.message).map_or(report.message.len() * 6, |m| m.len());
        let cost = 2 * (escaped + report.host.len() + 96);
        if spent + cost > budget {
            break;
        }
        spent += cost;
        keep[index] = true;
    }
    let kept: Vec<&Report> = reports
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(r, _)| r)
        .collect();
    let omitted = reports.len() - kept.len();
    (kept, omitted)
}

fn lines(reports: &[&Report], kind: ReportKind) -> Option<HostMessages> {
    let mut by_host: HostMessages = BTreeMap::new();
    for report in reports.iter().filter(|r| r.kind == kind) {
        by_host
            .entry(report.host.clone())
            .or_default()
            .push(report.legacy_line());
    }
    (!by_host.is_empty()).then_some(by_host)
}

/// Builds the `progress` answer. `reports` are per host in sequence order; `running` are the
/// group's running instances (ignored once clusterized).
pub fn progress_view(
    state: &ClusterState,
    reports: &[Report],
    running: &[Instance],
) -> ProgressResponse {
    progress_view_within(state, reports, running, PROGRESS_BUDGET_BYTES)
}

/// [`progress_view`] with the answer's budget given.
pub fn progress_view_within(
    state: &ClusterState,
    reports: &[Report],
    running: &[Instance],
    budget: usize,
) -> ProgressResponse {
    let (reports, omitted) = newest_within(reports, budget);
    let registered: BTreeSet<&str> = state.instances.iter().map(|vm| vm.name.as_str()).collect();
    let mut messages: BTreeMap<String, Vec<DatedMessage>> = BTreeMap::new();
    for report in &reports {
        messages
            .entry(report.host.clone())
            .or_default()
            .push(DatedMessage {
                time: report.at.to_rfc3339_opts(SecondsFormat::Millis, true),
                kind: report.kind.as_str().to_owned(),
                message: report.message.clone(),
            });
    }
    let (ready, in_progress) = if state.clusterized {
        (None, None)
    } else {
        let installing: Vec<String> = messages
            .keys()
            .filter(|host| {
                running.iter().any(|instance| {
                    !registered.contains(instance.id.as_str()) && host_matches(host, instance)
                })
            })
            .cloned()
            .collect();
        let ready = state.instances.iter().map(|vm| vm.name.clone()).collect();
        (Some(ready), Some(installing))
    };
    let clusterization_instance = state
        .clusterizer
        .as_ref()
        .filter(|_| !state.clusterized)
        .map(|c| c.instance.clone())
        .unwrap_or_default();
    let summary = ProgressSummary {
        ready_for_clusterization: ready.as_ref().map_or(0, |r: &Vec<String>| count(r.len())),
        stopped: 0,
        in_progress: in_progress
            .as_ref()
            .map_or(0, |r: &Vec<String>| count(r.len())),
        unknown: None,
        clusterization_target: state.clusterization_target,
        clusterization_instance,
        clusterized: state.clusterized,
    };
    ProgressResponse {
        ready_for_clusterization: ready,
        progress: lines(&reports, ReportKind::Progress),
        errors: lines(&reports, ReportKind::Error),
        debug: lines(&reports, ReportKind::Debug),
        in_progress,
        summary,
        messages,
        truncated: (omitted > 0).then_some(ProgressCut {
            omitted_reports: omitted as u64,
            budget_bytes: budget as u64,
        }),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::report::MAX_MESSAGE_BYTES;
    use crate::wire::bootstrap::Vm;
    use chrono::DateTime;

    fn instance(id: &str, ip: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            private_ip: Some(ip.to_owned()),
            private_dns_name: Some(format!("ip-{}.ec2.internal", ip.replace('.', "-"))),
        }
    }

    fn report(host: &str, seq: u64, kind: ReportKind, message: &str) -> Report {
        Report {
            host: host.to_owned(),
            seq,
            at: DateTime::from_timestamp(1_779_354_062 + i64::try_from(seq).unwrap(), 0).unwrap(),
            kind,
            message: message.to_owned(),
        }
    }

    /// Review M5: `progress` answered every stored report twice and could pass Lambda's 6 MB.
    #[test]
    fn a_progress_answer_stays_within_its_budget_keeping_the_newest_reports() {
        let state = ClusterState::new(3);
        let message = "\u{1}".repeat(MAX_MESSAGE_BYTES);
        let reports: Vec<Report> = (0..200)
            .flat_map(|seq| (0..5).map(move |h| (seq, h)))
            .map(|(seq, h)| {
                report(
                    &format!("ip-10-0-0-{h}"),
                    seq,
                    ReportKind::Progress,
                    &message,
                )
            })
            .collect();
        let answer = progress_view(&state, &reports, &[]);
        let size = serde_json::to_vec(&answer).unwrap().len();
        assert!(size <= PROGRESS_BUDGET_BYTES, "{size} bytes");
        let cut = answer.truncated.clone().unwrap();
        let kept: usize = answer.messages.values().map(Vec::len).sum();
        assert_eq!(kept as u64 + cut.omitted_reports, 1000);
        assert!(kept > 0);
        let newest = reports.iter().map(|r| r.at).max().unwrap();
        assert!(
            answer
                .messages
                .values()
                .flatten()
                .any(|m| m.time == newest.to_rfc3339_opts(SecondsFormat::Millis, true))
        );
        let small = progress_view(&state, &reports[..3], &[]);
        assert_eq!(small.truncated, None);
    }

    #[test]
    fn hosts_match_by_id_dns_name_or_ip_shaped_name() {
        let i = instance("i-1", "10.0.1.12");
        assert!(host_matches("i-1", &i));
        assert!(host_matches("ip-10-0-1-12.ec2.internal", &i));
        assert!(host_matches("ip-10-0-1-12", &i));
        assert!(!host_matches("ip-10-0-1-13", &i));
        let named = Instance {
            id: "i-2".to_owned(),
            private_ip: Some("10.0.0.9".to_owned()),
            private_dns_name: Some("i-2.us-east-1.compute.internal".to_owned()),
        };
        assert!(host_matches("i-2.us-east-1.compute.internal", &named));
    }

    #[test]
    fn progress_lists_ready_and_installing_hosts_with_dated_messages() {
        let mut state = ClusterState::new(3);
        state.register(&Vm {
            name: "i-1".to_owned(),
            ..Vm::default()
        });
        let reports = vec![
            report(
                "ip-10-0-1-10.ec2.internal",
                1,
                ReportKind::Progress,
                "Downloading",
            ),
            report(
                "ip-10-0-1-11.ec2.internal",
                1,
                ReportKind::Progress,
                "Downloading",
            ),
            report(
                "ip-10-0-1-11.ec2.internal",
                2,
                ReportKind::Error,
                "mkfs failed",
            ),
            report(
                "ip-10-0-1-11.ec2.internal",
                3,
                ReportKind::Debug,
                "lsblk output",
            ),
        ];
        let running = [instance("i-1", "10.0.1.10"), instance("i-2", "10.0.1.11")];
        let view = progress_view(&state, &reports, &running);
        assert_eq!(view.ready_for_clusterization, Some(vec!["i-1".to_owned()]));
        assert_eq!(
            view.in_progress,
            Some(vec!["ip-10-0-1-11.ec2.internal".to_owned()])
        );
        assert_eq!(view.summary.in_progress, 1);
        assert_eq!(view.summary.ready_for_clusterization, 1);
        assert_eq!(
            view.errors.unwrap()["ip-10-0-1-11.ec2.internal"],
            vec!["09:01:04 UTC: mkfs failed".to_owned()]
        );
        assert!(view.debug.is_some(), "debug is returned too");
        assert_eq!(
            view.messages["ip-10-0-1-11.ec2.internal"][1].time,
            "2026-05-21T09:01:04.000Z"
        );
    }

    #[test]
    fn clusterized_progress_has_null_lists_like_the_reference() {
        let mut state = ClusterState::new(1);
        state.register(&Vm {
            name: "i-1".to_owned(),
            ..Vm::default()
        });
        state.finalize(DateTime::from_timestamp(0, 0).unwrap());
        let view = progress_view(&state, &[], &[]);
        assert_eq!(view.ready_for_clusterization, None);
        assert_eq!(view.in_progress, None);
        assert_eq!(view.progress, None);
        assert!(view.summary.clusterized);
        assert_eq!(view.summary.clusterization_instance, "");
    }
}
