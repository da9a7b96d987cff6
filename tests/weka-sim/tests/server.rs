//! The loopback server over real HTTP: the control plane's JSON-RPC client against it, the
//! scale-down lifecycle, unreachable backends, authentication and the control API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::{Value, json};
use std::time::Duration;
use weka_shared::adapters::weka_rpc::{JsonRpcConnector, RetryPolicy, WekaRpcConfig};
use weka_shared::ports::{Credentials, WekaApi, WekaConnector, WekaError};
use weka_shared::weka::model::{ClusterStatus, HostState, HostStatus, HostsList, WekaCall};

fn connector(server: &weka_sim::RunningServer) -> JsonRpcConnector {
    JsonRpcConnector::new(WekaRpcConfig {
        url_template: server.url_template(),
        timeout: Duration::from_secs(5),
        retry: RetryPolicy::DEFAULT,
    })
}

fn deployment() -> Credentials {
    Credentials {
        username: "weka-deployment".to_owned(),
        password: "deploypw".to_owned(),
    }
}

async fn hosts(api: &impl WekaApi) -> HostsList {
    serde_json::from_value(api.call("hosts_list", json!({})).await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_rpc_client_round_trip_and_scale_down_lifecycle() {
    let (world, _) = common::running_cluster(6);
    let server = weka_sim::start(world, 0).await.unwrap();
    let ips: Vec<String> = (0..6).map(common::ip).collect();
    let api = connector(&server).connect(ips, deployment());

    let status: ClusterStatus =
        serde_json::from_value(api.call("status", json!({})).await.unwrap()).unwrap();
    assert_eq!(status.io_status, "STARTED");
    assert_eq!(status.hosts.backends.total, 18);

    // Deactivate the last machine's containers and drives exactly as scale-down does.
    let victim = common::ip(5);
    let all = hosts(&api).await;
    let ids: Vec<_> = all
        .iter()
        .filter(|(_, h)| h.host_ip == victim)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids.len(), 3);
    let drives: weka_shared::weka::model::DrivesList =
        serde_json::from_value(api.call("disks_list", json!({})).await.unwrap()).unwrap();
    let uuids: Vec<String> = drives
        .values()
        .filter(|d| ids.contains(&d.host_id))
        .map(|d| d.uuid.clone())
        .collect();
    for call in [
        WekaCall::DeactivateDrives {
            drive_uuids: uuids.clone(),
        },
        WekaCall::DeactivateHosts {
            host_ids: ids.clone(),
        },
        WekaCall::EventsTriggerCustom {
            message: "scale down".to_owned(),
        },
    ] {
        api.call(call.method(), call.params()).await.unwrap();
    }
    let now = hosts(&api).await;
    assert!(
        ids.iter()
            .all(|id| now[id].state == HostState::Deactivating)
    );

    // Removing before INACTIVE is refused by WEKA.
    let early = WekaCall::RemoveHost { host_id: ids[0] };
    let err = api.call(early.method(), early.params()).await.unwrap_err();
    assert!(
        matches!(err, WekaError::Rpc { code: -32000, .. }),
        "{err:?}"
    );

    let (code, _) = common::control(
        &server.base_url(),
        "/_sim/clock/advance",
        &json!({"seconds": 61}),
    )
    .await;
    assert_eq!(code, 200);
    let now = hosts(&api).await;
    assert!(
        ids.iter().all(
            |id| now[id].state == HostState::Inactive && now[id].status == HostStatus::Inactive
        )
    );

    for id in &ids {
        let call = WekaCall::RemoveHost { host_id: *id };
        api.call(call.method(), call.params()).await.unwrap();
    }
    let call = WekaCall::RemoveDrives { drive_uuids: uuids };
    api.call(call.method(), call.params()).await.unwrap();
    let after = hosts(&api).await;
    assert_eq!(after.len(), 15);
    assert!(after.values().all(|h| h.host_ip != victim));

    // The removed machine is no longer a backend: it answers like an unreachable one.
    let (code, _) = common::rpc_raw(
        &server.base_url(),
        &victim,
        &json!({"jsonrpc": "2.0", "method": "status", "id": 1}),
        None,
    )
    .await;
    assert_eq!(code, 503);

    let (code, _) = weka_sim::http::post_json(
        &server.base_url(),
        &format!("/{}/dist/v1/install", common::ip(0)),
        b"",
    )
    .await
    .unwrap();
    assert_eq!(code, 200);

    let cluster = common::only_cluster(&server.base_url()).await;
    let methods: Vec<&str> = cluster["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["method"].as_str().unwrap())
        .collect();
    assert!(
        methods.contains(&"cluster_deactivate_hosts") && methods.contains(&"cluster_remove_host")
    );
    assert_eq!(cluster["events"][0]["message"], "scale down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_backend_is_unreachable_and_the_client_fails_over() {
    let (world, _) = common::running_cluster(3);
    let server = weka_sim::start(world, 0).await.unwrap();
    let base = server.base_url();
    let (code, _) = common::control(
        &base,
        &format!("/_sim/machines/{}/down", common::ip(0)),
        &json!({}),
    )
    .await;
    assert_eq!(code, 200);
    let (code, _) = common::rpc_raw(
        &base,
        &common::ip(0),
        &json!({"jsonrpc": "2.0", "method": "user_login", "params": ["admin", "adminpw"], "id": 1}),
        None,
    )
    .await;
    assert_eq!(code, 503);
    let (code, _) = common::rpc_raw(
        &base,
        "10.9.9.9",
        &json!({"jsonrpc": "2.0", "method": "status", "id": 1}),
        None,
    )
    .await;
    assert_eq!(code, 503, "unknown ip");

    let api = connector(&server).connect(vec![common::ip(0), common::ip(1)], deployment());
    let all = hosts(&api).await;
    let down: Vec<_> = all
        .values()
        .filter(|h| h.host_ip == common::ip(0))
        .collect();
    assert!(down.iter().all(|h| h.status == HostStatus::Down));

    // Closing the connection instead of 503 also fails over.
    common::control(&base, "/_sim/config", &json!({"unreachable": "close"})).await;
    let api = connector(&server).connect(vec![common::ip(0), common::ip(2)], deployment());
    api.call("status", json!({})).await.unwrap();

    let api = connector(&server).connect(vec![common::ip(0)], deployment());
    let err = api.call("status", json!({})).await.unwrap_err();
    assert!(
        matches!(err, WekaError::AllBackendsFailed { .. }),
        "{err:?}"
    );

    common::control(
        &base,
        &format!("/_sim/machines/{}/up", common::ip(0)),
        &json!({}),
    )
    .await;
    api.call("status", json!({})).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_required_and_credentials_are_configurable() {
    let (world, _) = common::running_cluster(1);
    let server = weka_sim::start(world, 0).await.unwrap();
    let base = server.base_url();
    let ip = common::ip(0);
    let req = |method: &str, params: Value| json!({"jsonrpc": "2.0", "method": method, "params": params, "id": "a1"});

    let (code, _) = common::rpc_raw(&base, &ip, &req("hosts_list", json!({})), None).await;
    assert_eq!(code, 401);
    let (code, _) =
        common::rpc_raw(&base, &ip, &req("hosts_list", json!({})), Some("forged")).await;
    assert_eq!(code, 401);
    let (code, body) = common::rpc_raw(
        &base,
        &ip,
        &req("user_login", json!(["admin", "wrong"])),
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("login failed")
    );

    let (_, body) = common::rpc_raw(
        &base,
        &ip,
        &req("user_login", json!(["admin", "adminpw"])),
        None,
    )
    .await;
    assert_eq!(body["id"], "a1");
    let token = body["result"]["access_token"].as_str().unwrap().to_owned();
    let refresh = body["result"]["refresh_token"].as_str().unwrap().to_owned();
    let (code, body) =
        common::rpc_raw(&base, &ip, &req("nodes_list", json!({})), Some(&token)).await;
    assert_eq!(code, 200);
    assert_eq!(body["result"].as_object().unwrap().len(), 6);
    let (_, body) =
        common::rpc_raw(&base, &ip, &req("no_such_method", json!({})), Some(&token)).await;
    assert_eq!(body["error"]["code"], -32601);
    let (_, body) =
        common::rpc_raw(&base, &ip, &req("client_query_backend", json!({})), None).await;
    assert_eq!(body["result"]["software_release"], "4.4.2");
    let (_, body) = common::rpc_raw(
        &base,
        &ip,
        &req("user_refresh_token", json!([refresh])),
        None,
    )
    .await;
    assert!(body["result"]["access_token"].is_string());

    // Tokens expire with simulated time.
    common::control(&base, "/_sim/clock/advance", &json!({"seconds": 3601})).await;
    let (code, _) = common::rpc_raw(&base, &ip, &req("status", json!({})), Some(&token)).await;
    assert_eq!(code, 401);

    // Rotating the deployment password: the old one stops working.
    let (code, _) = common::control(
        &base,
        "/_sim/credentials",
        &json!({"username": "weka-deployment", "password": "rotated"}),
    )
    .await;
    assert_eq!(code, 200);
    let old = connector(&server).connect(vec![ip.clone()], deployment());
    assert!(old.call("status", json!({})).await.is_err());
    let new = connector(&server).connect(
        vec![ip],
        Credentials {
            username: "weka-deployment".to_owned(),
            password: "rotated".to_owned(),
        },
    );
    new.call("status", json!({})).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_api_builds_a_cluster_and_sets_overrides() {
    let world = weka_sim::World::new(weka_sim::SimConfig::default(), weka_sim::SimClock::manual());
    let server = weka_sim::start(world, 0).await.unwrap();
    let base = server.base_url();
    let (code, _) = common::control(
        &base,
        "/_sim/credentials",
        &json!({"username": "weka-deployment", "password": "deploypw"}),
    )
    .await;
    assert_eq!(code, 200);
    for i in 0..3 {
        let (code, body) = common::control(
            &base,
            "/_sim/machines",
            &json!({"ip": common::ip(i), "containers": ["drives0", "compute0"]}),
        )
        .await;
        assert_eq!(code, 200, "{body}");
    }
    let machines: Vec<String> = (0..3).map(common::ip).collect();
    let (code, body) = common::control(
        &base,
        "/_sim/cluster/create",
        &json!({"machines": machines, "admin_password": "a"}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    let (code, body) = common::control(&base, "/_sim/drives/scan", &json!({})).await;
    assert_eq!((code, body["added"].as_array().unwrap().len()), (200, 6));
    common::control(&base, "/_sim/start-io", &json!({})).await;
    common::control(&base, "/_sim/machines", &json!({"ip": common::ip(3)})).await;
    let (code, body) = common::control(&base, "/_sim/join", &json!({"ip": common::ip(3)})).await;
    assert_eq!((code, body["host_ids"].as_array().unwrap().len()), (200, 3));
    let (code, _) =
        common::control(&base, "/_sim/overrides", &json!({"key": "skip_scale_down"})).await;
    assert_eq!(code, 200);
    let (code, body) = common::control(&base, "/_sim/nope", &json!({})).await;
    assert_eq!(code, 404, "{body}");
    let (code, _) = common::control(&base, "/_sim/machines/10.9.9.9/down", &json!({})).await;
    assert_eq!(code, 404);

    let api = connector(&server).connect(vec![common::ip(3)], deployment());
    let overrides = api.call("manual_override_list", json!({})).await.unwrap();
    assert_eq!(overrides.as_object().unwrap().len(), 1);
    common::control(
        &base,
        "/_sim/overrides/clear",
        &json!({"key": "skip_scale_down"}),
    )
    .await;
    let overrides = api.call("manual_override_list", json!({})).await.unwrap();
    assert!(overrides.as_object().unwrap().is_empty());
    let status: ClusterStatus =
        serde_json::from_value(api.call("status", json!({})).await.unwrap()).unwrap();
    assert_eq!(status.hosts.backends.total, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_shape_matching_json_rpc_requests_and_every_request_is_logged() {
    let (world, _) = common::running_cluster(2);
    let server = weka_sim::start(world, 0).await.unwrap();
    let base = server.base_url();
    let status = json!({"jsonrpc": "2.0", "method": "status", "id": 1});

    for refused in [
        json!({}),
        json!({"status": 200}),
        json!({"status": 503, "close": true}),
        json!({"status": 503, "count": 0}),
        json!({"status": 503, "colour": "red"}),
    ] {
        let (code, body) = common::control(&base, "/_sim/faults", &refused).await;
        assert_eq!(code, 400, "{refused} -> {body}");
    }
    let (code, body) = common::control(
        &base,
        "/_sim/faults",
        &json!({"ip": common::ip(0), "method": "status", "count": 1, "status": 502}),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["faults"].as_array().unwrap().len(), 1);

    // Another backend or method is not affected; the matching request is, once.
    let (code, _) = common::rpc_raw(&base, &common::ip(1), &status, None).await;
    assert_eq!(code, 401);
    let (code, body) = common::rpc_raw(&base, &common::ip(0), &status, None).await;
    assert_eq!(code, 502, "{body}");
    let (code, _) = common::rpc_raw(&base, &common::ip(0), &status, None).await;
    assert_eq!(code, 401);

    let (_, body) = common::control(&base, "/_sim/requests", &json!({})).await;
    let log = body["requests"].as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(
        log[1],
        json!({"ip": common::ip(0), "method": "status", "status": 502, "injected": true, "delay_ms": 0})
    );
    common::control(&base, "/_sim/requests/clear", &json!({})).await;
    let (_, body) = common::control(&base, "/_sim/requests", &json!({})).await;
    assert!(body["requests"].as_array().unwrap().is_empty());

    // A delay holds the world's answer back; clearing the rules ends it.
    common::control(&base, "/_sim/faults", &json!({"delay_ms": 300})).await;
    let started = std::time::Instant::now();
    let (code, _) = common::rpc_raw(&base, &common::ip(1), &status, None).await;
    assert_eq!(code, 401);
    assert!(started.elapsed() >= Duration::from_millis(300));
    let (_, body) = common::control(&base, "/_sim/faults/clear", &json!({})).await;
    assert_eq!(body["ok"], true);
    let (_, body) = common::control(&base, "/_sim/requests", &json!({})).await;
    assert_eq!(body["requests"][0]["delay_ms"], 300);

    // Revoking tokens logs every session out.
    let login =
        json!({"jsonrpc": "2.0", "method": "user_login", "params": ["admin", "adminpw"], "id": 2});
    let (_, body) = common::rpc_raw(&base, &common::ip(0), &login, None).await;
    let token = body["result"]["access_token"].as_str().unwrap().to_owned();
    let (code, _) = common::rpc_raw(&base, &common::ip(0), &status, Some(&token)).await;
    assert_eq!(code, 200);
    let (code, body) = common::control(&base, "/_sim/tokens/revoke", &json!({})).await;
    assert_eq!((code, body["revoked"].as_u64()), (200, Some(1)), "{body}");
    let (code, _) = common::rpc_raw(&base, &common::ip(0), &status, Some(&token)).await;
    assert_eq!(code, 401);
    let (code, _) =
        common::control(&base, "/_sim/tokens/revoke", &json!({"cluster": "nope"})).await;
    assert_eq!(code, 404);
}

/// The `cluster_deactivate_hosts` entries of a list of calls or requests.
fn deactivations(list: &Value) -> Vec<&Value> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|c| c["method"] == "cluster_deactivate_hosts")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_applied_then_answered_500_takes_effect_once_and_fails_the_call() {
    let (world, _) = common::running_cluster(6);
    let server = weka_sim::start(world, 0).await.unwrap();
    let base = server.base_url();
    let api = connector(&server).connect((0..6).map(common::ip).collect(), deployment());
    let victim: Vec<_> = hosts(&api)
        .await
        .iter()
        .filter(|(_, h)| h.host_ip == common::ip(5))
        .map(|(id, _)| *id)
        .collect();
    for refused in [
        json!({"after": true}),
        json!({"after": true, "delay_ms": 5}),
    ] {
        let (code, body) = common::control(&base, "/_sim/faults", &refused).await;
        assert_eq!(code, 400, "{refused} -> {body}");
    }
    let rule =
        json!({"method": "cluster_deactivate_hosts", "count": 1, "status": 500, "after": true});
    let (code, body) = common::control(&base, "/_sim/faults", &rule).await;
    assert_eq!(code, 200, "{body}");
    common::control(&base, "/_sim/requests/clear", &json!({})).await;

    let call = WekaCall::DeactivateHosts {
        host_ids: victim.clone(),
    };
    let err = api.call(call.method(), call.params()).await.unwrap_err();
    assert!(!matches!(err, WekaError::Rpc { .. }), "{err:?}");

    // WEKA applied it: the hosts are deactivating, one call recorded, none sent again.
    let now = hosts(&api).await;
    assert!(
        victim
            .iter()
            .all(|id| now[id].state == HostState::Deactivating)
    );
    let cluster = common::only_cluster(&base).await;
    let applied = deactivations(&cluster["calls"]);
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["error"], Value::Null);
    let (_, log) = common::control(&base, "/_sim/requests", &json!({})).await;
    let sent = deactivations(&log["requests"]);
    assert_eq!(sent.len(), 1, "the mutation was sent again: {sent:?}");
    assert_eq!(
        (sent[0]["status"].as_u64(), sent[0]["injected"].as_bool()),
        (Some(500), Some(true))
    );
    let (_, rules) = common::control(&base, "/_sim/faults/list", &json!({})).await;
    assert_eq!(rules["faults"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_faults_fail_the_matching_command_before_or_after_it_applies() {
    let (world, _) = common::running_cluster(2);
    let server = weka_sim::start(world, 0).await.unwrap();
    let base = server.base_url();
    let weka = |args: &[&str]| json!({"ip": common::ip(0), "args": args, "stdin": "pw-of-ops"});
    let users = || async {
        let (_, out) = common::control(&base, "/_sim/cli", &weka(&["user", "-J"])).await;
        out["stdout"].as_str().unwrap().to_owned()
    };
    for refused in [
        json!({"cli": ""}),
        json!({"cli": "user add", "status": 500}),
    ] {
        let (code, body) = common::control(&base, "/_sim/faults", &refused).await;
        assert_eq!(code, 400, "{refused} -> {body}");
    }
    common::control(
        &base,
        "/_sim/faults",
        &json!({"cli": "user add", "count": 2}),
    )
    .await;
    // JSON-RPC and other commands pass; `user add` fails twice without reaching the world.
    let (code, _) = common::rpc_raw(
        &base,
        &common::ip(0),
        &json!({"jsonrpc": "2.0", "method": "status", "id": 1}),
        None,
    )
    .await;
    assert_eq!(code, 401);
    let add = weka(&["user", "add", "ops", "clusteradmin"]);
    for _ in 0..2 {
        let (_, out) = common::control(&base, "/_sim/cli", &add).await;
        assert_eq!(out["exit_code"], 1, "{out}");
        assert!(
            out["stderr"].as_str().unwrap().contains("injected fault"),
            "{out}"
        );
        assert!(!users().await.contains("\"ops\""));
    }
    let (_, out) = common::control(&base, "/_sim/cli", &add).await;
    assert_eq!(out["exit_code"], 0, "{out}");
    assert!(users().await.contains("\"ops\""));

    // With `after` the command takes effect and still fails.
    common::control(
        &base,
        "/_sim/faults",
        &json!({"cli": "user add", "count": 1, "after": true}),
    )
    .await;
    let (_, out) = common::control(
        &base,
        "/_sim/cli",
        &weka(&["user", "add", "ops2", "clusteradmin"]),
    )
    .await;
    assert_eq!(out["exit_code"], 1, "{out}");
    assert!(users().await.contains("\"ops2\""));
}
