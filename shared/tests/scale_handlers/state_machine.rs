//! The state machine definition against the functions and their error types.

use super::*;

use std::collections::BTreeSet;
use std::path::PathBuf;
use weka_shared::services::scale_run::DEFAULT_SCALE_LEASE_TTL;
use weka_shared::wire::scale::{PROTOCOL_VERSION, ScaleDownFailure, TerminateInput};

const PLACEHOLDERS: [(&str, &str); 4] = [
    ("fetch_lambda_arn", "scale-fetch"),
    ("scale_down_lambda_arn", "scale-down"),
    ("terminate_lambda_arn", "terminate"),
    ("transient_lambda_arn", "transient"),
];
const LAMBDA_ERRORS: [&str; 4] = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn arn(function: &str) -> String {
    format!("arn:aws:lambda:us-east-1:123456789012:function:weka-poc-{function}-lambda")
}

/// The definition as Terraform's templatefile renders it.
fn definition() -> Value {
    let mut text = std::fs::read_to_string(root().join("state-machine/scale.asl.json")).unwrap();
    for (placeholder, function) in PLACEHOLDERS {
        let token = format!("${{{placeholder}}}");
        assert!(text.contains(&token), "{token} missing");
        text = text.replace(&token, &arn(function));
    }
    assert!(!text.contains("${"), "unknown template placeholder left");
    serde_json::from_str(&text).unwrap()
}

fn function_of(resource: &str) -> &str {
    let name = resource.rsplit(":function:").next().unwrap();
    let (_, f) = PLACEHOLDERS
        .iter()
        .find(|(_, f)| name == format!("weka-poc-{f}-lambda"))
        .unwrap_or_else(|| panic!("task resource {resource} is not a scale function"));
    f
}

fn states(def: &Value) -> &serde_json::Map<String, Value> {
    def["States"].as_object().unwrap()
}

fn successors(state: &Value) -> Vec<String> {
    let mut next: Vec<String> = Vec::new();
    for key in ["Next", "Default"] {
        if let Some(n) = state[key].as_str() {
            next.push(n.to_owned());
        }
    }
    for list in ["Choices", "Catch"] {
        for item in state[list].as_array().into_iter().flatten() {
            next.push(item["Next"].as_str().unwrap().to_owned());
        }
    }
    next
}

fn is_terminal(state: &Value) -> bool {
    matches!(state["Type"].as_str(), Some("Succeed" | "Fail")) || state["End"] == json!(true)
}

#[test]
fn every_task_names_an_existing_function() {
    let def = definition();
    let mut used = BTreeSet::new();
    for (name, state) in states(&def) {
        if state["Type"] == "Task" {
            let f = function_of(state["Resource"].as_str().unwrap());
            assert!(
                root()
                    .join("functions")
                    .join(f)
                    .join("Cargo.toml")
                    .is_file(),
                "{name}: functions/{f} does not exist"
            );
            used.insert(f);
        }
    }
    assert_eq!(used.len(), 4, "all four scale functions are used: {used:?}");
}

#[test]
fn every_custom_error_name_is_one_the_lambdas_emit() {
    let def = definition();
    let emitted: BTreeSet<&str> = ErrorClass::ALL.iter().map(|c| c.error_type()).collect();
    for (name, state) in states(&def) {
        for list in ["Retry", "Catch"] {
            for rule in state[list].as_array().into_iter().flatten() {
                for error in rule["ErrorEquals"].as_array().unwrap() {
                    let error = error.as_str().unwrap();
                    assert!(
                        error.starts_with("States.")
                            || LAMBDA_ERRORS.contains(&error)
                            || emitted.contains(error),
                        "{name}: {error} is never emitted"
                    );
                }
            }
        }
    }
}

#[test]
fn every_path_ends() {
    let def = definition();
    let states = states(&def);
    let start = def["StartAt"].as_str().unwrap();
    assert!(states.contains_key(start));
    let mut reachable = BTreeSet::from([start.to_owned()]);
    let mut queue = vec![start.to_owned()];
    while let Some(name) = queue.pop() {
        let state = &states[&name];
        let next = successors(state);
        assert!(
            is_terminal(state) || state["Next"].is_string() || state["Type"] == "Choice",
            "{name} neither ends nor continues"
        );
        if state["Type"] == "Choice" {
            assert!(state["Default"].is_string(), "{name} has no Default");
        }
        for n in next {
            assert!(states.contains_key(&n), "{name} -> unknown state {n}");
            if reachable.insert(n.clone()) {
                queue.push(n);
            }
        }
    }
    assert_eq!(
        reachable.len(),
        states.len(),
        "unreachable states: {:?}",
        states
            .keys()
            .filter(|k| !reachable.contains(*k))
            .collect::<Vec<_>>()
    );
    // From every state some terminal state is reachable (no trap loop).
    for name in states.keys() {
        let mut seen = BTreeSet::from([name.clone()]);
        let mut queue = vec![name.clone()];
        let mut ends = false;
        while let Some(n) = queue.pop() {
            ends |= is_terminal(&states[&n]);
            for s in successors(&states[&n]) {
                if seen.insert(s.clone()) {
                    queue.push(s);
                }
            }
        }
        assert!(ends, "no path from {name} ends");
    }
}

#[test]
fn every_lambda_task_retries_service_errors_and_catches_the_rest() {
    let def = definition();
    for (name, state) in states(&def) {
        if state["Type"] != "Task" {
            continue;
        }
        let retried: BTreeSet<&str> = state["Retry"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Retry"))
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
            .map(|e| e.as_str().unwrap())
            .collect();
        for error in LAMBDA_ERRORS {
            assert!(retried.contains(error), "{name} does not retry {error}");
        }
        // transient's error is its answer, not a fault: retrying it repeats the answer.
        let function = function_of(state["Resource"].as_str().unwrap());
        assert_eq!(
            retried.contains("Weka.Transient"),
            function != "transient",
            "{name}: Weka.Transient retry"
        );
        let catches: Vec<&str> = state["Catch"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["ErrorEquals"].as_array().unwrap())
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(
            catches.last(),
            Some(&"States.ALL"),
            "{name} catches everything last"
        );
        if function != "transient" {
            assert!(
                catches.contains(&"Weka.Conflict"),
                "{name}: lease held ends cleanly"
            );
            assert_eq!(
                state["Parameters"]["execution.$"], "$$.Execution.Name",
                "{name} passes the lease owner"
            );
        }
    }
    let conflict_target = states(&def)["Fetch"]["Catch"][0]["Next"].as_str().unwrap();
    assert_eq!(states(&def)[conflict_target]["Type"], "Succeed");
}

#[test]
fn fetch_gets_the_execution_input_as_its_event() {
    let def = definition();
    let fetch = &states(&def)["Fetch"];
    assert_eq!(fetch["Parameters"]["event.$"], "$");
    assert_eq!(fetch["Parameters"]["execution.$"], "$$.Execution.Name");
    // Only Fetch sees the event; the later steps get the previous output.
    for name in ["ScaleDown", "Terminate"] {
        assert!(
            states(&def)[name]["Parameters"].get("event.$").is_none(),
            "{name}"
        );
    }
}

#[test]
fn the_run_times_out_after_the_lease_and_carries_no_credentials() {
    let def = definition();
    let timeout = def["TimeoutSeconds"].as_u64().unwrap();
    assert!(timeout > DEFAULT_SCALE_LEASE_TTL.as_secs());
    let text = def.to_string();
    for word in ["password", "fetch_weka_credentials", "show_admin_password"] {
        assert!(!text.contains(word), "{word} in the definition");
    }
}

/// Issue 15 item 4 (review M3): a failed scale-down does not starve terminate. Any error but
/// the held lease is caught into a Pass state that builds terminate's input (no scale answer,
/// the failure carried), Terminate runs its reconcile and detaches, and the execution still
/// ends failed with scale-down's error.
#[test]
fn a_failed_scale_down_still_runs_terminate_then_fails() {
    let def = definition();
    let states = states(&def);
    let catches = states["ScaleDown"]["Catch"].as_array().unwrap();
    assert_eq!(catches[0]["ErrorEquals"], json!(["Weka.Conflict"]));
    assert_eq!(catches[0]["Next"], "LeaseHeld");
    let last = catches.last().unwrap();
    assert_eq!(last["ErrorEquals"], json!(["States.ALL"]));
    let failure_path = last["ResultPath"].as_str().unwrap();
    assert_eq!(failure_path, "$.scale_down_failure");
    let pass = &states[last["Next"].as_str().unwrap()];
    assert_eq!(pass["Type"], "Pass");
    assert_eq!(pass["Next"], "Terminate");

    // The Pass state's template, filled as Step Functions would, is a terminate input that
    // carries the failure and no scale answer.
    let caught =
        json!({"Error": "Weka.InvalidInput", "Cause": "{\"errorMessage\":\"unsafe delta\"}"});
    let mut built = serde_json::Map::new();
    for (key, value) in pass["Parameters"].as_object().unwrap() {
        match key.strip_suffix(".$") {
            Some(field) => {
                assert_eq!(value, "$.scale_down_failure", "{key}");
                built.insert(field.to_owned(), caught.clone());
            }
            None => {
                built.insert(key.clone(), value.clone());
            }
        }
    }
    let input: TerminateInput = serde_json::from_value(Value::Object(built)).unwrap();
    assert_eq!(input.scale.version, PROTOCOL_VERSION);
    assert!(input.scale.hosts.is_empty() && input.scale.to_terminate.is_empty());
    assert!(input.scale.held_back.is_empty() && input.scale.transient_errors.is_empty());
    let failure = input.scale_down_failure.unwrap();
    assert_eq!(failure.error, "Weka.InvalidInput");
    assert_eq!(failure.message(), "unsafe delta");

    // After Terminate (which echoes the failure), the first choice ends in a Fail state
    // carrying scale-down's error and cause.
    assert_eq!(states["Terminate"]["Next"], "ErrorCheck");
    let first = &states["ErrorCheck"]["Choices"][0];
    assert!(
        first.to_string().contains("$.scale_down_failure"),
        "{first}"
    );
    let fail = &states[first["Next"].as_str().unwrap()];
    assert_eq!(fail["Type"], "Fail");
    assert_eq!(fail["ErrorPath"], "$.scale_down_failure.Error");
    assert_eq!(fail["CausePath"], "$.scale_down_failure.Cause");
    let echoed = TerminatedInstancesResponse {
        set_to_terminate_instances: Vec::new(),
        transient_errors: Vec::new(),
        version: PROTOCOL_VERSION,
        scale_down_failure: Some(ScaleDownFailure {
            error: "Weka.InvalidInput".to_owned(),
            cause: "c".to_owned(),
        }),
    };
    assert_eq!(
        serde_json::to_value(&echoed).unwrap()["scale_down_failure"],
        json!({"Error": "Weka.InvalidInput", "Cause": "c"})
    );
}
