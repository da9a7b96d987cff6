//! The slice of WEKA's REST API (`/api/v2`) the gateway scripts use on their own container:
//! `POST /<ip>/api/v2/login` `{"username","password"}` → `{"data": {"access_token", ...}}` and
//! `GET /<ip>/api/v2/containers` (bearer) → `{"data": [{"uid", "id", "hostname",
//! "container_name", "status", "host_ip", ...}]}`. Both go through the JSON-RPC handler
//! (`user_login`, `hosts_list`), so the same machine, token and reachability rules apply.

use super::reply;
use crate::http::{Reply, Request};
use crate::rpc::{self, RpcReply};
use crate::world::World;
use serde_json::{Value, json};

/// Answers `path` (`login` or `containers`) for backend `ip`; `None` for another path.
pub(super) fn handle(w: &mut World, ip: &str, path: &str, request: &Request) -> Option<Reply> {
    let (method, params) = match (request.method.as_str(), path) {
        ("POST", "login") => {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            ("user_login", json!([field("username"), field("password")]))
        }
        ("GET", "containers") => ("hosts_list", json!({})),
        _ => return None,
    };
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer = rpc::handle(w, ip, request.bearer(), call.to_string().as_bytes());
    Some(match answer {
        RpcReply::Json(v) => match (v.get("result"), path) {
            (Some(result), "login") => reply(200, &json!({"data": result})),
            (Some(result), _) => {
                let containers: Vec<Value> = result
                    .as_object()
                    .map(|hosts| {
                        hosts
                            .iter()
                            .map(|(id, h)| {
                                let mut h = h.clone();
                                if let Some(o) = h.as_object_mut() {
                                    o.insert("id".to_owned(), json!(id));
                                }
                                h
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                reply(200, &json!({"data": containers}))
            }
            (None, _) => reply(400, &json!({"message": v.get("error")})),
        },
        RpcReply::Unauthorized => reply(401, &json!({"message": "unauthorized"})),
        RpcReply::Unreachable => reply(
            503,
            &json!({"message": format!("backend {ip} unreachable")}),
        ),
    })
}
