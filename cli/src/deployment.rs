//! Which deployment the console speaks to: the module's `control_plane` output, read with
//! `terraform output -json` in `--tf-dir` or from a saved copy (`--outputs`), each field
//! overridable by a flag. A root module written for WEKA's module (no `control_plane` output)
//! still finds its `status` function through `lambda_status_name`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use weka_shared::config::StateConfig;

/// The deployment, as far as the console needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// AWS region (`None`: the SDK's own lookup, `AWS_REGION` or the profile).
    pub region: Option<String>,
    /// The `status` function's name.
    pub status_function: String,
    /// The state table and keys (pause and resume need them).
    pub state: Option<StateConfig>,
}

/// Values given as flags; each wins over the outputs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--region`.
    pub region: Option<String>,
    /// `--status-function`.
    pub status_function: Option<String>,
    /// `--state-table`.
    pub state_table: Option<String>,
    /// `--state-key`.
    pub state_key: Option<String>,
}

/// Where the outputs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputsSource {
    /// `terraform output -json` run in this directory.
    TerraformDir(PathBuf),
    /// A file holding what `terraform output -json` printed.
    File(PathBuf),
    /// No outputs: flags only.
    None,
}

/// Why the deployment could not be found.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentError {
    /// `terraform output -json` could not run or failed.
    #[error("`terraform output -json` in {dir} failed: {reason}")]
    Terraform {
        /// The directory.
        dir: String,
        /// What went wrong (its stderr).
        reason: String,
    },
    /// The outputs file could not be read.
    #[error("{path} could not be read: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The outputs are not `terraform output -json`'s.
    #[error("the outputs are not what `terraform output -json` prints: {0}")]
    NotOutputs(String),
    /// Something the command needs is neither in the outputs nor given.
    #[error(
        "{what} is unknown: give --tf-dir (a root module with this module's `control_plane` output), --outputs, or --{flag}"
    )]
    Missing {
        /// What is missing.
        what: &'static str,
        /// The flag that gives it.
        flag: &'static str,
    },
}

impl Deployment {
    /// The state table and keys, or which flag is missing.
    pub fn state(&self) -> Result<&StateConfig, DeploymentError> {
        self.state.as_ref().ok_or(DeploymentError::Missing {
            what: "the state table and key",
            flag: "state-table and --state-key",
        })
    }
}

/// Reads the outputs from `source`: `Value::Null` when there is none.
pub fn read_outputs(source: &OutputsSource) -> Result<Value, DeploymentError> {
    match source {
        OutputsSource::None => Ok(Value::Null),
        OutputsSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| DeploymentError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            serde_json::from_str(&text).map_err(|e| DeploymentError::NotOutputs(e.to_string()))
        }
        OutputsSource::TerraformDir(dir) => terraform_outputs(dir),
    }
}

fn terraform_outputs(dir: &Path) -> Result<Value, DeploymentError> {
    let failed = |reason: String| DeploymentError::Terraform {
        dir: dir.display().to_string(),
        reason,
    };
    let out = Command::new("terraform")
        .args(["output", "-json"])
        .current_dir(dir)
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| DeploymentError::NotOutputs(e.to_string()))
}

/// The deployment named by `outputs` (`terraform output -json`, or `Value::Null`) and the
/// flags.
pub fn resolve(outputs: &Value, flags: &Overrides) -> Result<Deployment, DeploymentError> {
    if !(outputs.is_null() || outputs.is_object()) {
        return Err(DeploymentError::NotOutputs("not a JSON object".to_owned()));
    }
    let plane = output(outputs, "control_plane");
    let field = |name: &str| plane.and_then(|p| p.get(name)).and_then(text);
    let status_function = flags
        .status_function
        .clone()
        .or_else(|| field("status_function"))
        .or_else(|| output(outputs, "lambda_status_name").and_then(text))
        .or_else(|| {
            output(outputs, "weka_deployment")
                .and_then(|d| d.get("lambda_status_name"))
                .and_then(text)
        })
        .ok_or(DeploymentError::Missing {
            what: "the status function",
            flag: "status-function",
        })?;
    let table = flags
        .state_table
        .clone()
        .or_else(|| field("state_table"))
        .or_else(|| output(outputs, "state_table_name").and_then(text));
    let state_key = flags.state_key.clone().or_else(|| field("state_key"));
    let state = match (table, state_key) {
        (Some(table), Some(state_key)) => Some(StateConfig {
            table,
            nfs_state_key: field("nfs_state_key").unwrap_or_else(|| nfs_key_of(&state_key)),
            state_key,
        }),
        _ => None,
    };
    Ok(Deployment {
        region: flags.region.clone().or_else(|| field("region")),
        status_function,
        state,
    })
}

/// An output's value: `terraform output -json` wraps each in `{"value": ..., "type": ...}`.
fn output<'a>(outputs: &'a Value, name: &str) -> Option<&'a Value> {
    let entry = outputs.get(name)?;
    match entry.get("value") {
        Some(value) if entry.get("type").is_some() || entry.get("sensitive").is_some() => {
            Some(value)
        }
        _ => Some(entry),
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The module names the NFS key after the backend one (`<prefix>-<cluster>-state` →
/// `<prefix>-<cluster>-nfs-state`).
fn nfs_key_of(state_key: &str) -> String {
    match state_key.strip_suffix("-state") {
        Some(stem) => format!("{stem}-nfs-state"),
        None => format!("{state_key}-nfs"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn wrapped(value: &Value) -> Value {
        json!({"sensitive": false, "type": "object", "value": value})
    }

    #[test]
    fn the_control_plane_output_names_everything() {
        let outputs = json!({"control_plane": wrapped(&json!({
            "region": "eu-west-1", "status_function": "p-c-status-lambda",
            "state_table": "p-c-weka-state", "state_key": "p-c-state",
            "nfs_state_key": "p-c-nfs-state"}))});
        let d = resolve(&outputs, &Overrides::default()).unwrap();
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert_eq!(d.status_function, "p-c-status-lambda");
        let state = d.state().unwrap();
        assert_eq!(
            (
                state.table.as_str(),
                state.state_key.as_str(),
                state.nfs_state_key.as_str()
            ),
            ("p-c-weka-state", "p-c-state", "p-c-nfs-state")
        );
    }

    #[test]
    fn flags_win_and_a_reference_root_still_finds_status() {
        let outputs =
            json!({"weka_deployment": wrapped(&json!({"lambda_status_name": "ref-status"}))});
        let d = resolve(&outputs, &Overrides::default()).unwrap();
        assert_eq!(d.status_function, "ref-status");
        let err = d.state().unwrap_err().to_string();
        assert!(err.contains("--state-table"), "{err}");
        let flags = Overrides {
            status_function: Some("mine".to_owned()),
            state_table: Some("t".to_owned()),
            state_key: Some("a-b-state".to_owned()),
            ..Overrides::default()
        };
        let d = resolve(&outputs, &flags).unwrap();
        assert_eq!(d.status_function, "mine");
        assert_eq!(d.state().unwrap().nfs_state_key, "a-b-nfs-state");
    }

    #[test]
    fn nothing_known_is_refused_naming_the_flag() {
        let err = resolve(&Value::Null, &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("--status-function"), "{err}");
        assert!(matches!(
            resolve(&json!([1]), &Overrides::default()),
            Err(DeploymentError::NotOutputs(_))
        ));
    }

    #[test]
    fn an_outputs_file_is_read_and_a_missing_one_named() {
        let dir = std::env::temp_dir().join(format!("wekactl-outputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("outputs.json");
        std::fs::write(
            &path,
            r#"{"lambda_status_name":{"value":"s","type":"string"}}"#,
        )
        .unwrap();
        let outputs = read_outputs(&OutputsSource::File(path.clone())).unwrap();
        assert_eq!(
            resolve(&outputs, &Overrides::default())
                .unwrap()
                .status_function,
            "s"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let err = read_outputs(&OutputsSource::File(path)).unwrap_err();
        assert!(err.to_string().contains("outputs.json"), "{err}");
    }
}
