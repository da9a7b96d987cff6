//! Text for people: aligned tables, progress bars, and each answer of `status` told in a few
//! lines. Pure; `--json` bypasses it.

use std::fmt::Write as _;

use weka_shared::domain::events::Event;
use weka_shared::domain::scale_down::MachineAction;
use weka_shared::wire::bootstrap::{PausedShown, ProgressResponse, StatusResponse};

use crate::console::PlanAnswer;

/// Rows under `headers`, each column as wide as its widest cell, two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `[#####.....] 3/6` — `done` of `total` in `width` cells (full when `total` is 0).
pub fn bar(done: u64, total: u64, width: usize) -> String {
    format!("{} {done}/{total}", cells(done, total, width))
}

/// `[#####.....]` — `done` of `total` in `width` cells (full when `total` is 0).
pub fn cells(done: u64, total: u64, width: usize) -> String {
    let filled = if total == 0 {
        width
    } else {
        let cells = u128::from(done.min(total)) * width as u128 / u128::from(total);
        usize::try_from(cells).unwrap_or(width)
    };
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

/// The pause in one line.
pub fn pause_line(paused: Option<&PausedShown>) -> String {
    match paused {
        None => "not paused".to_owned(),
        Some(p) if p.reason.is_empty() => format!("PAUSED by {} since {}", p.paused_by, p.since),
        Some(p) => format!("PAUSED by {} since {}: {}", p.paused_by, p.since, p.reason),
    }
}

/// `{"type":"status"}` for people.
pub fn status_text(s: &StatusResponse) -> String {
    let mut out = String::new();
    let weka = s.weka_status.as_ref();
    let io = weka
        .and_then(|w| w.get("io_status"))
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .unwrap_or("-");
    let _ = writeln!(
        out,
        "clusterized: {}{}",
        if s.clusterized { "yes" } else { "no" },
        s.clusterized_at
            .as_deref()
            .map(|at| format!(" (at {at})"))
            .unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "size:        initial {}, desired {}",
        s.initial_size, s.desired_size
    );
    if let Some(w) = weka {
        let backends = &w["hosts"]["backends"];
        let _ = writeln!(
            out,
            "weka:        status {}, io {io}, backend containers {}/{} active, drives {}/{} active",
            w.get("status").and_then(|v| v.as_str()).unwrap_or("-"),
            backends["active"],
            backends["total"],
            w["drives"]["active"],
            w["drives"]["total"]
        );
    }
    for (label, value) in [
        ("weka error", s.weka_status_error.as_deref()),
        ("login", s.weka_login_error.as_deref()),
    ] {
        if let Some(v) = value {
            let _ = writeln!(out, "{label}:  {v}");
        }
    }
    let _ = writeln!(out, "pause:       {}", pause_line(s.paused.as_ref()));
    for (label, value) in [
        ("floor refusal", &s.scale_refusal),
        ("lease held", &s.scale_lease_held),
        ("last failure", &s.scale_down_failure),
    ] {
        if let Some(v) = value {
            let _ = writeln!(out, "{label}: {v}");
        }
    }
    if !s.lifecycle_waiting.is_empty() {
        let rows: Vec<Vec<String>> = s
            .lifecycle_waiting
            .iter()
            .map(|w| {
                vec![
                    w.instance_id.clone(),
                    w.lifecycle_state.clone(),
                    format!("{}s", w.waiting_seconds),
                    w.phase.clone(),
                    w.decision
                        .clone()
                        .or_else(|| w.held_back.clone())
                        .unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str("\nlifecycle waits:\n");
        out.push_str(&table(
            &[
                "INSTANCE",
                "STATE",
                "WAITED",
                "PHASE",
                "DECISION / HELD BACK",
            ],
            &rows,
        ));
    }
    if !s.weka_refusals.is_empty() {
        let rows: Vec<Vec<String>> = s
            .weka_refusals
            .iter()
            .map(|r| {
                vec![
                    r.machine.clone(),
                    r.call.clone(),
                    r.retry_after.clone(),
                    r.reason.clone(),
                ]
            })
            .collect();
        out.push_str("\nWEKA refusals standing:\n");
        out.push_str(&table(&["MACHINE", "CALL", "RETRY AFTER", "REASON"], &rows));
    }
    out
}

/// `{"type":"progress"}` for people.
pub fn progress_text(p: &ProgressResponse) -> String {
    let s = &p.summary;
    let mut out = String::new();
    if s.clusterized {
        out.push_str("clusterized\n");
    } else {
        let _ = writeln!(
            out,
            "registered   {}",
            bar(
                u64::from(s.ready_for_clusterization),
                u64::from(s.clusterization_target),
                30
            )
        );
        let _ = writeln!(out, "installing   {}", s.in_progress);
        if !s.clusterization_instance.is_empty() {
            let _ = writeln!(out, "clusterizing on {}", s.clusterization_instance);
        }
    }
    let rows: Vec<Vec<String>> = p
        .messages
        .iter()
        .filter_map(|(host, messages)| {
            let last = messages.last()?;
            Some(vec![
                host.clone(),
                last.time.clone(),
                last.kind.clone(),
                last.message.clone(),
            ])
        })
        .collect();
    if !rows.is_empty() {
        out.push_str("\nlast report per host:\n");
        out.push_str(&table(&["HOST", "AT", "TYPE", "MESSAGE"], &rows));
    }
    out
}

/// `{"type":"plan"}` for people.
pub fn plan_text(p: &PlanAnswer) -> String {
    let mut out = String::new();
    if let Some(desired) = p.desired {
        let _ = writeln!(
            out,
            "desired {desired}, WEKA runs {} machines",
            p.machines.len()
        );
    }
    let _ = writeln!(out, "pause: {}", pause_line(p.paused.as_ref()));
    if let Some(lease) = &p.lease {
        let _ = writeln!(
            out,
            "lease: held by {} until {} ({} runs refused)",
            lease.holder, lease.until, lease.refused_runs
        );
    }
    if let Some(last) = &p.last_run {
        let outcome = last
            .skipped
            .clone()
            .map(|why| format!("skipped: {why}"))
            .or_else(|| last.refusal.as_ref().map(|r| format!("refused: {r}")))
            .unwrap_or_else(|| "planned".to_owned());
        let _ = writeln!(out, "last run: {} at {}", outcome, last.at);
    }
    if let Some(why) = &p.skipped {
        let _ = writeln!(out, "next run: nothing (skipped: {why})");
    } else {
        let acting = p
            .machines
            .iter()
            .filter(|m| matches!(m.action, MachineAction::Deactivate | MachineAction::Remove))
            .count();
        let _ = writeln!(out, "next run: {acting} machine(s) acted on");
    }
    if let Some(r) = &p.refusal {
        let _ = writeln!(
            out,
            "safety floor: desired {} below the minimum {}{}",
            r.desired,
            r.minimum,
            if r.shrink_refused {
                " (shrink refused)"
            } else {
                ""
            }
        );
    }
    for e in &p.planning_errors {
        let _ = writeln!(out, "planning error: {e}");
    }
    if !p.machines.is_empty() {
        let rows: Vec<Vec<String>> = p
            .machines
            .iter()
            .map(|m| {
                vec![
                    m.ip.clone(),
                    m.instance_id.clone().unwrap_or_else(|| "-".to_owned()),
                    m.action.as_str().to_owned(),
                    if m.terminate { "yes" } else { "" }.to_owned(),
                    m.reason.clone(),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&table(
            &["MACHINE", "INSTANCE", "ACTION", "TERMINATE", "WHY"],
            &rows,
        ));
    }
    if !p.instances.is_empty() {
        let rows: Vec<Vec<String>> = p
            .instances
            .iter()
            .map(|i| {
                vec![
                    i.instance_id.clone(),
                    i.group.clone(),
                    i.action.as_str().to_owned(),
                    i.reason.clone(),
                ]
            })
            .collect();
        out.push_str("\nterminate, on that answer:\n");
        out.push_str(&table(&["INSTANCE", "GROUP", "ACTION", "WHY"], &rows));
    }
    out
}

/// `{"type":"events"}` for people, newest first.
pub fn events_text(events: &[Event]) -> String {
    if events.is_empty() {
        return "no events recorded\n".to_owned();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                e.kind.as_str().to_owned(),
                e.subject.clone(),
                e.reason.clone(),
            ]
        })
        .collect();
    table(&["AT", "KIND", "SUBJECT", "WHY"], &rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tables_align_columns_and_leave_no_trailing_space() {
        let t = table(
            &["A", "LONG HEADER", "Z"],
            &[
                vec!["wide cell".to_owned(), "x".to_owned(), "end".to_owned()],
                vec!["y".to_owned(), "".to_owned(), "".to_owned()],
            ],
        );
        assert_eq!(
            t,
            "A          LONG HEADER  Z\nwide cell  x            end\ny\n"
        );
    }

    #[test]
    fn a_plan_tells_each_machine_and_each_instance_terminate_would_touch() {
        let plan: PlanAnswer = serde_json::from_value(serde_json::json!({
            "desired": 5,
            "machines": [{"ip": "10.0.0.1", "instance_id": "i-1", "action": "remove",
                          "terminate": true, "reason": "every container is inactive"}],
            "instances": [{"instance_id": "i-9", "group": "asg", "action": "hold",
                           "reason": "not in WEKA yet, within the bootstrap grace"}],
            "paused": null, "last_run": null, "lease": null}))
        .unwrap();
        let text = plan_text(&plan);
        assert!(text.contains("next run: 1 machine(s) acted on"), "{text}");
        assert!(
            text.contains("10.0.0.1  i-1       remove  yes        every container is inactive"),
            "{text}"
        );
        assert!(
            text.contains("i-9       asg    hold    not in WEKA yet, within the bootstrap grace"),
            "{text}"
        );
    }

    #[test]
    fn bars_fill_in_proportion_and_never_overflow() {
        assert_eq!(bar(0, 4, 8), "[........] 0/4");
        assert_eq!(bar(2, 4, 8), "[####....] 2/4");
        assert_eq!(bar(9, 4, 8), "[########] 9/4");
        assert_eq!(bar(0, 0, 4), "[####] 0/0");
    }
}
