//! What starts a scale execution: the one-minute EventBridge schedule (`Scheduled Event`, or an
//! empty input when started by hand) or an Auto Scaling event of the cluster's groups, passed
//! through the state machine to `fetch` as `event`.
//!
//! Auto Scaling events are read with `aws_lambda_events`' `AutoScalingEvent`; only lifecycle
//! actions carry something to record, the launch/terminate results only make the run start at
//! once instead of at the next tick.

use aws_lambda_events::event::autoscaling::AutoScalingEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::fmt;

/// Which hook an action belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transition {
    /// `autoscaling:EC2_INSTANCE_LAUNCHING` (instance in `Pending:Wait`).
    Launch,
    /// `autoscaling:EC2_INSTANCE_TERMINATING` (instance in `Terminating:Wait`).
    Terminate,
}

impl Transition {
    /// Stored spelling (`launch`, `terminate`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Launch => "launch",
            Self::Terminate => "terminate",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "launch" => Some(Self::Launch),
            "terminate" => Some(Self::Terminate),
            _ => None,
        }
    }

    /// Parses the AWS `LifecycleTransition` value.
    pub fn from_aws(text: &str) -> Option<Self> {
        match text {
            "autoscaling:EC2_INSTANCE_LAUNCHING" => Some(Self::Launch),
            "autoscaling:EC2_INSTANCE_TERMINATING" => Some(Self::Terminate),
            _ => None,
        }
    }

    /// The ASG lifecycle state an instance waits in.
    pub const fn wait_state(self) -> &'static str {
        match self {
            Self::Launch => "Pending:Wait",
            Self::Terminate => "Terminating:Wait",
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `detail-type` of the schedule's events.
pub const SCHEDULED_EVENT: &str = "Scheduled Event";
/// `detail-type` of a successful launch.
pub const LAUNCH_SUCCESSFUL: &str = "EC2 Instance Launch Successful";
/// `detail-type` of a failed launch.
pub const LAUNCH_UNSUCCESSFUL: &str = "EC2 Instance Launch Unsuccessful";
/// `detail-type` of a finished termination.
pub const TERMINATE_SUCCESSFUL: &str = "EC2 Instance Terminate Successful";
/// `detail-type` of a launch hook's action.
pub const LAUNCH_LIFECYCLE_ACTION: &str = "EC2 Instance-launch Lifecycle Action";
/// `detail-type` of a terminate hook's action.
pub const TERMINATE_LIFECYCLE_ACTION: &str = "EC2 Instance-terminate Lifecycle Action";
/// The Auto Scaling detail-types the module routes to the state machine.
pub const AUTOSCALING_DETAIL_TYPES: [&str; 5] = [
    LAUNCH_SUCCESSFUL,
    LAUNCH_UNSUCCESSFUL,
    TERMINATE_SUCCESSFUL,
    LAUNCH_LIFECYCLE_ACTION,
    TERMINATE_LIFECYCLE_ACTION,
];

/// A lifecycle action announced by an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleNotice {
    /// Instance.
    pub instance_id: String,
    /// Group.
    pub group: String,
    /// Hook.
    pub hook: String,
    /// Launch or terminate.
    pub transition: Transition,
    /// `LifecycleActionToken`.
    pub token: Option<String>,
    /// Event time: when the action started.
    pub at: DateTime<Utc>,
}

/// Why an execution started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleTrigger {
    /// The schedule, or a start without an event.
    Tick,
    /// A lifecycle hook put an instance in a wait state.
    LifecycleAction(LifecycleNotice),
    /// An instance launch or termination finished (or failed).
    GroupActivity {
        /// `detail-type`.
        detail_type: String,
        /// Group.
        group: String,
        /// Instance, when the event names one.
        instance_id: Option<String>,
    },
    /// Another event (e.g. the hook's test notification): nothing to record.
    Other {
        /// `detail-type`.
        detail_type: String,
    },
}

/// A start event that claims to be an Auto Scaling event but cannot be read as one.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// Not an `AutoScalingEvent`.
    #[error("invalid auto scaling event {detail_type:?}")]
    Decode {
        /// Its `detail-type`.
        detail_type: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// An event time no stored record could keep (outside RFC 3339's years 0000 to 9999).
    #[error("event time {time} is outside the years 0000 to 9999")]
    TimeOutOfRange {
        /// The time as parsed.
        time: String,
    },
    /// A lifecycle action without a required detail field.
    #[error("lifecycle action event lacks detail.{field}")]
    MissingField {
        /// The field.
        field: &'static str,
    },
}

fn detail_str(event: &AutoScalingEvent, field: &str) -> Option<String> {
    event
        .detail
        .get(field)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// Reads the execution input. `None`, `null`, `{}` and the schedule's event are a tick.
pub fn parse_trigger(input: Option<&Value>) -> Result<ScaleTrigger, EventError> {
    let Some(Value::Object(map)) = input else {
        return Ok(ScaleTrigger::Tick);
    };
    let Some(detail_type) = map.get("detail-type").and_then(Value::as_str) else {
        return Ok(ScaleTrigger::Tick);
    };
    if detail_type == SCHEDULED_EVENT {
        return Ok(ScaleTrigger::Tick);
    }
    if map.get("source").and_then(Value::as_str) != Some("aws.autoscaling") {
        return Ok(ScaleTrigger::Other {
            detail_type: detail_type.to_owned(),
        });
    }
    let event: AutoScalingEvent =
        serde_json::from_value(Value::Object(map.clone())).map_err(|source| {
            EventError::Decode {
                detail_type: detail_type.to_owned(),
                source,
            }
        })?;
    if !super::rfc3339_representable(event.time) {
        return Err(EventError::TimeOutOfRange {
            time: format!("{:?}", event.time),
        });
    }
    let required =
        |field: &'static str| detail_str(&event, field).ok_or(EventError::MissingField { field });
    match detail_type {
        LAUNCH_LIFECYCLE_ACTION | TERMINATE_LIFECYCLE_ACTION => {
            let transition_text = required("LifecycleTransition")?;
            // The hook's test notification (`autoscaling:TEST_NOTIFICATION`) names no action.
            let Some(transition) = Transition::from_aws(&transition_text) else {
                return Ok(ScaleTrigger::Other {
                    detail_type: detail_type.to_owned(),
                });
            };
            Ok(ScaleTrigger::LifecycleAction(LifecycleNotice {
                instance_id: required("EC2InstanceId")?,
                group: required("AutoScalingGroupName")?,
                hook: required("LifecycleHookName")?,
                transition,
                token: detail_str(&event, "LifecycleActionToken"),
                at: event.time,
            }))
        }
        LAUNCH_SUCCESSFUL | LAUNCH_UNSUCCESSFUL | TERMINATE_SUCCESSFUL => {
            Ok(ScaleTrigger::GroupActivity {
                detail_type: detail_type.to_owned(),
                group: required("AutoScalingGroupName")?,
                instance_id: detail_str(&event, "EC2InstanceId"),
            })
        }
        other => Ok(ScaleTrigger::Other {
            detail_type: other.to_owned(),
        }),
    }
}
