//! The JSON-RPC 2.0 endpoint of one backend (`POST /<ip>/api/v1`): login, bearer-token checks,
//! and the methods the Lambdas and instance scripts call (behaviour.md §9.2).

use crate::world::{CallRecord, SimError, World, parse_host_id};
use serde_json::{Value, json};

/// What the HTTP layer should answer.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcReply {
    /// HTTP 200 with this JSON-RPC response body.
    Json(Value),
    /// HTTP 401: missing, unknown or expired bearer token.
    Unauthorized,
    /// The backend is unreachable (machine unknown, down or not in a cluster).
    Unreachable,
}

/// Methods that need no bearer token.
const PUBLIC: &[&str] = &["user_login", "user_refresh_token", "client_query_backend"];

/// Methods recorded in the cluster's call log.
const MUTATING: &[&str] = &[
    "cluster_remove_drives",
    "cluster_remove_host",
    "cluster_deactivate_drives",
    "cluster_deactivate_hosts",
    "interface_group_delete_port",
    "events_trigger_custom",
];

fn error(id: &Value, code: i64, message: &str) -> RpcReply {
    RpcReply::Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
}

/// Handles one JSON-RPC request sent to backend `ip` with an optional bearer token.
pub fn handle(world: &mut World, ip: &str, bearer: Option<&str>, body: &[u8]) -> RpcReply {
    world.settle();
    let Some(guid) = world.reachable_cluster(ip) else {
        return RpcReply::Unreachable;
    };
    let request: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return error(&Value::Null, -32700, &format!("parse error: {e}")),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let Some(method) = request.get("method").and_then(Value::as_str) else {
        return error(&id, -32600, "invalid request: no method");
    };
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    if !PUBLIC.contains(&method) {
        let now = world.now();
        let authorized = world
            .cluster(&guid)
            .ok()
            .zip(bearer)
            .is_some_and(|(c, t)| c.token_user(t, now).is_some());
        if !authorized {
            return RpcReply::Unauthorized;
        }
    }
    let result = dispatch(world, &guid, ip, method, &params);
    if MUTATING.contains(&method) {
        let record = CallRecord {
            time: world.now(),
            ip: ip.to_owned(),
            method: method.to_owned(),
            params: params.clone(),
            error: result.as_ref().err().map(|e| e.to_string()),
        };
        if let Ok(c) = world.cluster_mut(&guid) {
            c.calls.push(record);
        }
    }
    match result {
        Ok(Some(value)) => RpcReply::Json(json!({"jsonrpc": "2.0", "id": id, "result": value})),
        Ok(None) => error(&id, -32601, &format!("Method not found: {method}")),
        Err(e) => error(&id, e.rpc_code(), &e.to_string()),
    }
}

/// Positional (`[a, b]`) or named (`{"k": ..}`) string parameter.
fn param_str(params: &Value, index: usize, name: &str) -> Result<String, SimError> {
    params
        .get(index)
        .or_else(|| params.get(name))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| SimError::Invalid(format!("missing parameter {name}")))
}

fn uuids(params: &Value) -> Result<Vec<String>, SimError> {
    params
        .get("drive_uuids")
        .and_then(Value::as_array)
        .ok_or_else(|| SimError::Invalid("missing parameter drive_uuids".to_owned()))?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| SimError::Invalid(format!("bad drive uuid {v}")))
        })
        .collect()
}

fn dispatch(
    world: &mut World,
    guid: &str,
    ip: &str,
    method: &str,
    params: &Value,
) -> Result<Option<Value>, SimError> {
    let value = match method {
        "user_login" => {
            let user = param_str(params, 0, "username")?;
            let password = param_str(params, 1, "password")?;
            world.login(guid, &user, &password)?
        }
        "user_refresh_token" => {
            let token = param_str(params, 0, "refresh_token")?;
            world.refresh(guid, &token)?
        }
        "client_query_backend" => {
            let cluster = world.cluster(guid)?;
            json!({"software_release": world.config.release, "cluster_guid": cluster.guid,
                   "cluster_name": cluster.name, "ip": ip})
        }
        "status" => world.status(guid)?,
        "hosts_list" => world.hosts_list(guid)?,
        "disks_list" => world.disks_list(guid)?,
        "nodes_list" => world.nodes_list(guid)?,
        "interface_group_list" => world.interface_group_list(guid)?,
        "manual_override_list" => world.manual_override_list(guid)?,
        "cluster_remove_drives" => {
            world.remove_drives(guid, &uuids(params)?)?;
            json!({})
        }
        "cluster_deactivate_drives" => {
            world.deactivate_drives(guid, &uuids(params)?)?;
            json!({})
        }
        "cluster_remove_host" => {
            let id = params
                .get("host_id")
                .ok_or_else(|| SimError::Invalid("missing parameter host_id".to_owned()))?;
            world.remove_host(guid, parse_host_id(id)?)?;
            json!({})
        }
        "cluster_deactivate_hosts" => {
            let ids = params
                .get("host_ids")
                .and_then(Value::as_array)
                .ok_or_else(|| SimError::Invalid("missing parameter host_ids".to_owned()))?
                .iter()
                .map(parse_host_id)
                .collect::<Result<Vec<_>, _>>()?;
            let skip = params
                .get("skip_resource_validation")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            world.deactivate_hosts(guid, &ids, skip)?;
            json!({})
        }
        "interface_group_delete_port" => {
            let name = param_str(params, usize::MAX, "name")?;
            let port = param_str(params, usize::MAX, "port")?;
            let host = params
                .get("host_id")
                .ok_or_else(|| SimError::Invalid("missing parameter host_id".to_owned()))?;
            world.delete_port(guid, &name, parse_host_id(host)?, &port)?;
            json!({})
        }
        "events_trigger_custom" => {
            let message = param_str(params, usize::MAX, "message")?;
            world.add_event(guid, &message)?;
            json!({})
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}
