//! `watch`: a live view while a cluster forms or scales — one frame per poll, redrawn in place
//! on a terminal, one line per change otherwise (logs, `make demo`), one JSON object per frame
//! with `--json` — until the goal (`formed`, `settled`) or the timeout.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use weka_shared::domain::scale_down::MachineAction;
use weka_shared::wire::bootstrap::PausedShown;

use crate::console::{Console, ConsoleError, Exit, Group};
use crate::ports::{CallerIdentity, PauseSwitch, StatusFunction};
use crate::render;

/// When `watch` stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    /// Once the cluster is clusterized.
    Formed,
    /// Once clusterized, WEKA runs as many machines as desired, none is being acted on and no
    /// instance waits in a lifecycle hook.
    Settled,
    /// Never (until interrupted or the timeout).
    Never,
}

/// How `watch` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchOptions {
    /// When to stop.
    pub goal: Goal,
    /// Between polls.
    pub interval: Duration,
    /// Give up after this long (exit 4).
    pub timeout: Option<Duration>,
    /// Polls failed in a row before giving up (exit 1).
    pub max_failures: u32,
    /// One JSON object per frame.
    pub json: bool,
    /// Redraw in place (a terminal).
    pub redraw: bool,
}

/// Where the cluster is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Instances register for clusterization.
    Forming,
    /// The set is complete; one instance clusterizes.
    Clusterizing,
    /// Fewer machines in WEKA than desired, or newcomers held by the launch hook.
    ScalingOut,
    /// More machines in WEKA than desired, or machines being deactivated or removed.
    ScalingIn,
    /// As desired, nothing under way.
    Settled,
}

/// One poll's view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Frame {
    /// When polled.
    pub at: DateTime<Utc>,
    /// Where the cluster is.
    pub phase: Phase,
    /// Registered for clusterization (before it formed).
    pub registered: u32,
    /// How many complete the set.
    pub target: u32,
    /// The group's desired capacity.
    pub desired: u32,
    /// Machines WEKA runs (the plan's lines; backend group only).
    pub machines: Option<u32>,
    /// Machines the next run would deactivate or remove.
    pub acting: u32,
    /// Machines held (floor, cap, pause, a WEKA refusal).
    pub held: u32,
    /// Instances in a lifecycle wait.
    pub waiting: u32,
    /// The operator's pause.
    pub paused: Option<PausedShown>,
    /// Something worth a look (a WEKA error, the lease, a floor refusal).
    pub alerts: Vec<String>,
    /// Per machine: IP, action, why (the plan), for the terminal view.
    #[serde(skip)]
    pub rows: Vec<Vec<String>>,
}

impl Frame {
    /// Whether `goal` is reached.
    pub fn reached(&self, goal: Goal) -> bool {
        match goal {
            Goal::Formed => !matches!(self.phase, Phase::Forming | Phase::Clusterizing),
            Goal::Settled => self.phase == Phase::Settled,
            Goal::Never => false,
        }
    }

    /// The progress bar toward the goal of this phase.
    pub fn bar(&self) -> String {
        match (self.phase, self.machines) {
            (Phase::Forming | Phase::Clusterizing, _) => {
                render::bar(u64::from(self.registered), u64::from(self.target), 24)
            }
            (_, Some(m)) => format!(
                "{} machines {m}, desired {}",
                render::cells(
                    u64::from(m.min(self.desired)),
                    u64::from(m.max(self.desired)),
                    24
                ),
                self.desired
            ),
            (_, None) => format!("desired {}", self.desired),
        }
    }

    /// One line (logs and pipes).
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} {:<13} {}",
            self.at.format("%H:%M:%S"),
            phase_name(self.phase),
            self.bar()
        );
        for (count, what) in [
            (self.acting, "acted on next"),
            (self.held, "held"),
            (self.waiting, "in lifecycle wait"),
        ] {
            if count > 0 {
                line.push_str(&format!(" | {count} {what}"));
            }
        }
        if let Some(p) = &self.paused {
            line.push_str(&format!(" | {}", render::pause_line(Some(p))));
        }
        for alert in &self.alerts {
            line.push_str(&format!(" | {alert}"));
        }
        line
    }

    /// The terminal view: the line, then the machines.
    pub fn screen(&self) -> String {
        let mut out = self.line();
        out.push('\n');
        if !self.rows.is_empty() {
            out.push_str(&render::table(&["MACHINE", "ACTION", "WHY"], &self.rows));
        }
        out
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Forming => "forming",
        Phase::Clusterizing => "clusterizing",
        Phase::ScalingOut => "scaling out",
        Phase::ScalingIn => "scaling in",
        Phase::Settled => "settled",
    }
}

/// Polls the deployment once.
pub async fn poll<F, P, I>(console: &Console<F, P, I>) -> Result<Frame, ConsoleError>
where
    F: StatusFunction,
    P: PauseSwitch,
    I: CallerIdentity,
{
    let (_, progress) = console.progress().await?;
    let (_, status) = console.status().await?;
    let summary = &progress.summary;
    let mut frame = Frame {
        at: Utc::now(),
        phase: Phase::Forming,
        registered: summary.ready_for_clusterization,
        target: summary.clusterization_target,
        desired: status.desired_size,
        machines: None,
        acting: 0,
        held: 0,
        waiting: u32::try_from(status.lifecycle_waiting.len()).unwrap_or(u32::MAX),
        paused: status.paused.clone(),
        alerts: Vec::new(),
        rows: Vec::new(),
    };
    for (label, value) in [
        ("WEKA", status.weka_status_error.as_deref()),
        ("login", status.weka_login_error.as_deref()),
    ] {
        if let Some(v) = value {
            frame.alerts.push(format!("{label}: {v}"));
        }
    }
    // Runs meet a held lease all the time (it serialises them); only one kept past its period
    // is news.
    if let Some(lease) = status
        .scale_lease_held
        .as_ref()
        .filter(|l| l["beyond_one_period"].as_bool() == Some(true))
    {
        frame.alerts.push(format!(
            "scale lease held by {} beyond one period",
            lease["holder"].as_str().unwrap_or("?")
        ));
    }
    if !summary.clusterized {
        frame.phase = if summary.clusterization_instance.is_empty() {
            Phase::Forming
        } else {
            Phase::Clusterizing
        };
        return Ok(frame);
    }
    if console.group == Group::Backend {
        let (_, plan) = console.plan().await?;
        let count = |action: &[MachineAction]| {
            u32::try_from(
                plan.machines
                    .iter()
                    .filter(|m| action.contains(&m.action))
                    .count(),
            )
            .unwrap_or(u32::MAX)
        };
        frame.machines = Some(u32::try_from(plan.machines.len()).unwrap_or(u32::MAX));
        frame.acting = count(&[MachineAction::Deactivate, MachineAction::Remove]);
        frame.held = count(&[MachineAction::Hold]);
        if let Some(r) = &plan.refusal {
            frame.alerts.push(format!(
                "safety floor: desired {} < minimum {}",
                r.desired, r.minimum
            ));
        }
        frame.rows = plan
            .machines
            .iter()
            .map(|m| {
                vec![
                    m.instance_id.clone().unwrap_or_else(|| m.ip.clone()),
                    m.action.as_str().to_owned(),
                    m.reason.clone(),
                ]
            })
            .collect();
    }
    let machines = frame.machines.unwrap_or(frame.desired);
    frame.phase = if machines > frame.desired || frame.acting > 0 || frame.held > 0 {
        Phase::ScalingIn
    } else if machines < frame.desired || frame.waiting > 0 {
        Phase::ScalingOut
    } else {
        Phase::Settled
    };
    Ok(frame)
}

/// Watches until `options.goal`, the timeout or too many failed polls; writes frames to `out`.
pub async fn watch<F, P, I, W>(
    console: &Console<F, P, I>,
    options: &WatchOptions,
    out: &mut W,
) -> Result<Exit, ConsoleError>
where
    F: StatusFunction,
    P: PauseSwitch,
    I: CallerIdentity,
    W: Write,
{
    let started = std::time::Instant::now();
    let mut failures = 0;
    let mut last_shown: Option<String> = None;
    let mut drawn_lines = 0;
    loop {
        match poll(console).await {
            Ok(frame) => {
                failures = 0;
                let shown = if options.json {
                    Some(serde_json::to_string(&frame).map_err(std::io::Error::other)? + "\n")
                } else if options.redraw {
                    Some(frame.screen())
                } else {
                    // A line only when something but the time changed.
                    let key = frame.line().get(9..).unwrap_or_default().to_owned();
                    (last_shown.as_deref() != Some(key.as_str())).then(|| {
                        last_shown = Some(key);
                        frame.line() + "\n"
                    })
                };
                if let Some(text) = shown {
                    if options.redraw && !options.json && drawn_lines > 0 {
                        // Up to the previous frame's first line, and clear below.
                        write!(out, "\x1b[{drawn_lines}A\x1b[J")?;
                    }
                    drawn_lines = text.lines().count();
                    out.write_all(text.as_bytes())?;
                    out.flush()?;
                }
                if frame.reached(options.goal) {
                    return Ok(Exit::Ok);
                }
            }
            Err(e) => {
                failures += 1;
                writeln!(
                    out,
                    "poll failed ({failures}/{}): {e}",
                    options.max_failures
                )?;
                drawn_lines = 0;
                if failures >= options.max_failures {
                    return Err(e);
                }
            }
        }
        if options.timeout.is_some_and(|t| started.elapsed() >= t) {
            writeln!(out, "timed out before the goal ({:?})", options.goal)?;
            return Ok(Exit::TimedOut);
        }
        tokio::time::sleep(options.interval).await;
    }
}
