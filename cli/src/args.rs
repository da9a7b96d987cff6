//! The command line: global flags that find the deployment, and one subcommand per question.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use weka_shared::domain::events::EventKind;

use crate::deployment::{OutputsSource, Overrides};
use crate::watch::Goal;

/// The operator's console for a WEKA control plane on AWS.
///
/// Finds the deployment from the Terraform root that deployed it (`--tf-dir`, default the
/// current directory: its `control_plane` output) or flags. AWS credentials, profile and
/// region come from the environment, as for the AWS CLI.
///
/// Exit codes: 0 done (watch: goal reached), 1 a call failed, 2 bad usage, 3 deployment not
/// found, 4 watch timed out.
#[derive(Debug, Parser)]
#[command(name = "wekactl-aws", version)]
pub struct Cli {
    /// The Terraform root that deployed the module (runs `terraform output -json` there).
    #[arg(long, global = true, env = "WEKACTL_TF_DIR", value_name = "DIR")]
    pub tf_dir: Option<PathBuf>,
    /// A saved `terraform output -json` instead of running Terraform.
    #[arg(
        long,
        global = true,
        env = "WEKACTL_OUTPUTS",
        value_name = "FILE",
        conflicts_with = "tf_dir"
    )]
    pub outputs: Option<PathBuf>,
    /// AWS region (default: the deployment's, else the SDK's lookup).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The `status` function's name (default: from the outputs).
    #[arg(long, global = true, value_name = "NAME")]
    pub status_function: Option<String>,
    /// The state table (default: from the outputs).
    #[arg(long, global = true, value_name = "TABLE")]
    pub state_table: Option<String>,
    /// The backend state key, `<prefix>-<cluster>-state` (default: from the outputs).
    #[arg(long, global = true, value_name = "KEY")]
    pub state_key: Option<String>,
    /// The NFS gateway group instead of the backends (status, progress, events, watch).
    #[arg(long, global = true)]
    pub nfs: bool,
    /// JSON for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// State, WEKA's live status, refusals, the scale lease, lifecycle waits, the pause.
    Status,
    /// Formation: registrations toward the target and each host's last report.
    Progress,
    /// What the next scale-down run would do to each machine, and why (nothing is changed).
    Plan,
    /// The automatic decisions kept (14 days, 500 at most), newest first.
    Events {
        /// Only this kind: registration, claim, deactivation, removal, termination, detach,
        /// lifecycle or refusal.
        #[arg(long, value_parser = parse_kind, value_name = "KIND")]
        kind: Option<EventKind>,
        /// Only the last DURATION (`90s`, `15m`, `2h`, `3d`).
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        since: Option<Duration>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Pauses scale-down's deactivations and terminate's terminations until `resume`.
    Pause {
        /// Why (shown by status and plan).
        #[arg(long, default_value = "")]
        reason: String,
        /// Who (default: the caller's ARN from STS).
        #[arg(long)]
        by: Option<String>,
    },
    /// Lifts the pause.
    Resume,
    /// A live view while the cluster forms or scales.
    Watch {
        /// Stop once this is reached.
        #[arg(long, value_enum, default_value = "settled")]
        until: GoalArg,
        /// Between polls.
        #[arg(long, value_parser = parse_duration, default_value = "5s", value_name = "DURATION")]
        interval: Duration,
        /// Give up (exit 4) after this long.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
        timeout: Option<Duration>,
        /// Polls failed in a row before giving up (exit 1).
        #[arg(long, default_value_t = 5)]
        max_failures: u32,
    },
}

/// `--until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GoalArg {
    /// Clusterized.
    Formed,
    /// As desired, nothing under way.
    Settled,
    /// Until interrupted or the timeout.
    Never,
}

impl From<GoalArg> for Goal {
    fn from(goal: GoalArg) -> Self {
        match goal {
            GoalArg::Formed => Self::Formed,
            GoalArg::Settled => Self::Settled,
            GoalArg::Never => Self::Never,
        }
    }
}

impl Cli {
    /// Where the deployment's outputs come from: `--outputs`, else `--tf-dir`, else the
    /// current directory unless the status function was given.
    pub fn outputs_source(&self) -> OutputsSource {
        match (&self.outputs, &self.tf_dir) {
            (Some(file), _) => OutputsSource::File(file.clone()),
            (None, Some(dir)) => OutputsSource::TerraformDir(dir.clone()),
            (None, None) if self.status_function.is_some() => OutputsSource::None,
            (None, None) => OutputsSource::TerraformDir(PathBuf::from(".")),
        }
    }

    /// The flags that override the outputs.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            region: self.region.clone(),
            status_function: self.status_function.clone(),
            state_table: self.state_table.clone(),
            state_key: self.state_key.clone(),
        }
    }
}

/// An event kind by its stored name.
pub fn parse_kind(text: &str) -> Result<EventKind, String> {
    EventKind::parse(text).ok_or_else(|| {
        format!(
            "unknown event kind {text:?}: registration, claim, deactivation, removal, \
             termination, detach, lifecycle or refusal"
        )
    })
}

/// `90s`, `15m`, `2h`, `3d`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 90s, 15m, 2h or 3d"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        other => return Err(format!("unknown unit {other:?}: use s, m, h or d")),
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_read_their_unit_and_refuse_the_rest() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(259_200)));
        assert!(parse_duration("5w").unwrap_err().contains("unit"));
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn event_kinds_are_read_by_their_stored_names() {
        assert_eq!(parse_kind("deactivation"), Ok(EventKind::Deactivation));
        assert!(parse_kind("reboot").unwrap_err().contains("lifecycle"));
        let cli = Cli::try_parse_from(["wekactl-aws", "events", "--kind", "claim"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Events {
                kind: Some(EventKind::Claim),
                ..
            }
        ));
    }

    #[test]
    fn the_deployment_comes_from_outputs_a_directory_or_flags() {
        let cli = Cli::try_parse_from(["wekactl-aws", "status"]).unwrap();
        assert_eq!(
            cli.outputs_source(),
            OutputsSource::TerraformDir(".".into())
        );
        let cli = Cli::try_parse_from(["wekactl-aws", "--status-function", "f", "plan"]).unwrap();
        assert_eq!(cli.outputs_source(), OutputsSource::None);
        let cli = Cli::try_parse_from(["wekactl-aws", "plan", "--outputs", "o.json"]).unwrap();
        assert_eq!(cli.outputs_source(), OutputsSource::File("o.json".into()));
        assert!(
            Cli::try_parse_from(["wekactl-aws", "--tf-dir", "d", "--outputs", "o", "plan"])
                .is_err()
        );
        let cli = Cli::try_parse_from([
            "wekactl-aws",
            "watch",
            "--until",
            "formed",
            "--interval",
            "2s",
            "--timeout",
            "10m",
        ])
        .unwrap();
        assert!(matches!(
            cli.command,
            Command::Watch { until: GoalArg::Formed, interval, timeout: Some(t), .. }
                if interval == Duration::from_secs(2) && t == Duration::from_secs(600)
        ));
    }
}
