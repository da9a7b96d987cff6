//! One function per command: what it asks the deployment, what it answers (JSON for scripts,
//! text for people) and the exit code. Written on the ports only.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use weka_shared::domain::control::Pause;
use weka_shared::domain::events::{Event, EventKind};
use weka_shared::domain::notes::{LeaseNote, ScaleNote};
use weka_shared::domain::scale_down::MachineStep;
use weka_shared::domain::terminate_view::InstanceStep;
use weka_shared::ports::StoreError;
use weka_shared::wire::bootstrap::{PausedShown, ProgressResponse, StatusResponse};
use weka_shared::wire::scale::Refusal;

use crate::deployment::DeploymentError;
use crate::ports::{CallError, CallerIdentity, PauseSwitch, StatusFunction};
use crate::render;

/// What the exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done; for `watch`, the goal was reached.
    Ok = 0,
    /// A call failed: AWS refused it or could not carry it, or the function answered an error.
    Failed = 1,
    /// The command line is wrong (clap's own code).
    Usage = 2,
    /// The deployment could not be found (outputs, flags).
    Deployment = 3,
    /// `watch`: the timeout passed before the goal.
    TimedOut = 4,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// Which group a command is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Group {
    /// The backend group.
    #[default]
    Backend,
    /// The NFS gateway group.
    Nfs,
}

impl Group {
    /// The `protocol` field of a `status` request.
    pub fn protocol(self) -> &'static str {
        match self {
            Self::Backend => "",
            Self::Nfs => "nfs",
        }
    }
}

/// Why a command could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The deployment could not be found.
    #[error(transparent)]
    Deployment(#[from] DeploymentError),
    /// A call failed.
    #[error(transparent)]
    Call(#[from] CallError),
    /// The state table could not be read or written.
    #[error("the state table: {0}")]
    Store(#[from] StoreError),
    /// `status` answered something this console does not read.
    #[error("the {kind} answer could not be read: {source}")]
    Answer {
        /// Which request.
        kind: &'static str,
        /// The decode error.
        source: serde_json::Error,
    },
    /// The console's own output failed (a closed pipe).
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

impl ConsoleError {
    /// The exit code this error means.
    pub fn exit(&self) -> Exit {
        match self {
            Self::Deployment(_) => Exit::Deployment,
            _ => Exit::Failed,
        }
    }
}

/// An answer: JSON for `--json`, text for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// What `--json` prints.
    pub json: Value,
    /// What a person reads.
    pub text: String,
}

/// `{"type":"plan"}`'s answer: the plan per machine, and what the last runs found.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PlanAnswer {
    /// Why the next run would do nothing at all.
    #[serde(default)]
    pub skipped: Option<String>,
    /// One line per machine WEKA runs.
    #[serde(default)]
    pub machines: Vec<MachineStep>,
    /// The safety floor's refusal.
    #[serde(default)]
    pub refusal: Option<Refusal>,
    /// What the planner found wrong.
    #[serde(default)]
    pub planning_errors: Vec<String>,
    /// The group's desired capacity.
    #[serde(default)]
    pub desired: Option<i64>,
    /// The operator's pause.
    #[serde(default)]
    pub paused: Option<PausedShown>,
    /// The last scale-down run's outcome.
    #[serde(default)]
    pub last_run: Option<ScaleNote>,
    /// The scale lease, while a run holds it.
    #[serde(default)]
    pub lease: Option<LeaseNote>,
    /// What terminate would then do to the groups' instances, and why.
    #[serde(default)]
    pub instances: Vec<InstanceStep>,
}

/// Which events to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only this kind.
    pub kind: Option<EventKind>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most this many (newest first).
    pub limit: Option<usize>,
}

/// The console on one deployment.
#[derive(Debug)]
pub struct Console<F, P, I> {
    /// The `status` function.
    pub status: F,
    /// The pause item (`None` when the deployment's state table is unknown).
    pub pause: Option<P>,
    /// Who is calling.
    pub identity: I,
    /// Which group.
    pub group: Group,
}

impl<F: StatusFunction, P: PauseSwitch, I: CallerIdentity> Console<F, P, I> {
    async fn ask(&self, kind: &'static str) -> Result<Value, ConsoleError> {
        Ok(self
            .status
            .call(json!({"type": kind, "protocol": self.group.protocol()}))
            .await?)
    }

    fn switch(&self) -> Result<&P, ConsoleError> {
        self.pause.as_ref().ok_or_else(|| {
            ConsoleError::Deployment(DeploymentError::Missing {
                what: "the state table and key",
                flag: "state-table and --state-key",
            })
        })
    }

    /// `status`: state, WEKA's live status, refusals, lease, waits, pause.
    pub async fn status(&self) -> Result<(Answer, StatusResponse), ConsoleError> {
        let json = self.ask("status").await?;
        let status: StatusResponse = decode("status", &json)?;
        let text = render::status_text(&status);
        Ok((Answer { json, text }, status))
    }

    /// `progress`: formation, registrations, the reports per host.
    pub async fn progress(&self) -> Result<(Answer, ProgressResponse), ConsoleError> {
        let json = self.ask("progress").await?;
        let progress: ProgressResponse = decode("progress", &json)?;
        let text = render::progress_text(&progress);
        Ok((Answer { json, text }, progress))
    }

    /// `plan`: what the next scale-down run would do per machine, and why.
    pub async fn plan(&self) -> Result<(Answer, PlanAnswer), ConsoleError> {
        let json = self.ask("plan").await?;
        let plan: PlanAnswer = decode("plan", &json)?;
        let text = render::plan_text(&plan);
        Ok((Answer { json, text }, plan))
    }

    /// `events`: the automatic decisions kept, newest first, filtered.
    pub async fn events(&self, filter: &EventFilter) -> Result<Answer, ConsoleError> {
        #[derive(Deserialize)]
        struct Events {
            events: Vec<Event>,
        }
        let answer: Events = decode("events", &self.ask("events").await?)?;
        let events: Vec<Event> = answer
            .events
            .into_iter()
            .filter(|e| filter.kind.is_none_or(|k| e.kind == k))
            .filter(|e| filter.since.is_none_or(|t| e.at >= t))
            .take(filter.limit.unwrap_or(usize::MAX))
            .collect();
        Ok(Answer {
            text: render::events_text(&events),
            json: json!({ "events": events }),
        })
    }

    /// `pause`: pauses scale-down and terminations. A pause already standing is kept as it is
    /// (who and since stay the first operator's), so a retry changes nothing.
    pub async fn pause(
        &self,
        reason: &str,
        by: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Answer, ConsoleError> {
        let switch = self.switch()?;
        if let Some(standing) = switch.paused().await? {
            return Ok(Answer {
                text: format!("already {standing}; left as it is\n"),
                json: json!({"paused": shown(&standing), "changed": false}),
            });
        }
        let by = match by {
            Some(by) => by.to_owned(),
            None => self.identity.caller().await?,
        };
        let pause = Pause::new(&by, reason, now);
        switch.pause(&pause).await?;
        Ok(Answer {
            text: format!(
                "{pause}\nscale-down and terminations stop at their next run; `resume` lifts it\n"
            ),
            json: json!({"paused": shown(&pause), "changed": true}),
        })
    }

    /// `resume`: lifts the pause; nothing to lift is not an error.
    pub async fn resume(&self) -> Result<Answer, ConsoleError> {
        let lifted = self.switch()?.resume().await?;
        Ok(match lifted {
            Some(p) => Answer {
                text: format!("resumed ({p})\n"),
                json: json!({"resumed": shown(&p), "changed": true}),
            },
            None => Answer {
                text: "not paused; nothing to resume\n".to_owned(),
                json: json!({"resumed": null, "changed": false}),
            },
        })
    }
}

fn shown(pause: &Pause) -> PausedShown {
    PausedShown {
        paused_by: pause.paused_by.clone(),
        reason: pause.reason.clone(),
        since: pause
            .since
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    json: &Value,
) -> Result<T, ConsoleError> {
    T::deserialize(json).map_err(|source| ConsoleError::Answer { kind, source })
}
