//! The loopback server: JSON-RPC at `POST /<ip>/api/v1` and the control API under `/_sim/`.
//!
//! `GET /<ip>/dist/v1/install` returns a no-op installer while `<ip>` is a reachable backend.
//!
//! Control API (JSON bodies; answers `{"ok": true, ...}` or `{"error": "..."}` with 4xx):
//! - `GET|POST /_sim/state` — the whole state ([`World::dump`]).
//! - `POST /_sim/machines` [`MachineSpec`] — register an installed machine.
//! - `POST /_sim/machines/<ip>/down`, `/_sim/machines/<ip>/up` — mark a machine down/up.
//! - `POST /_sim/cluster/create` `{"names": [..], "host_ips": ["ip:port", ..],
//!   "admin_password"?}` or `{"machines": ["ip", ..], "admin_password"?}` (every local
//!   container of each machine) → `{"guid"}`.
//! - `POST /_sim/cluster/update` `{"cluster"?, "name"?, "io_status"?, "upgrade"?,
//!   "stripe_data_drives"?, "stripe_protection_drives"?, "hot_spare"?}`.
//! - `POST /_sim/join` `{"ip", "container"?, "join_ips"?, "cluster"?}` → `{"host_ids"}`.
//! - `POST /_sim/drives/scan` `{"cluster"?, "host_ids"?: [n|"HostId<n>"]}` → `{"added"}`.
//! - `POST /_sim/drives/add` `{"cluster"?, "host_id", "devices": [..]}` → `{"added"}`.
//! - `POST /_sim/start-io` `{"cluster"?}`.
//! - `POST /_sim/credentials` `{"cluster"?, "username", "password", "role"?}` — without any
//!   cluster yet, the user is added to every cluster created later.
//! - `POST /_sim/overrides` `{"cluster"?, "key", "value"?, "enabled"?}`;
//!   `POST /_sim/overrides/clear` `{"cluster"?, "key"}`.
//! - `POST /_sim/interface-groups` `{"cluster"?, "name", "type"?, "ips"?, "ports": [{"host_id",
//!   "port"}]}`.
//! - `POST /_sim/clock/advance` `{"seconds"}`; `POST /_sim/clock` `{"factor"}`.
//! - `POST /_sim/config` — a partial [`SimConfig`] merged into the current one.
//! - `POST /_sim/cli` [`CliRequest`] → [`crate::cli::CliOutput`] (what the `weka` shim forwards).
//! - `POST /_sim/faults` [`FaultRule`] `{"ip"?, "method"?, "count"?, "status"?, "close"?,
//!   "delay_ms"?}` — inject a fault into the JSON-RPC requests that match;
//!   `POST /_sim/faults/clear` removes every rule.
//! - `GET|POST /_sim/requests` → `{"requests": [`[`RequestRecord`]`, ..]}` — the JSON-RPC
//!   requests served, oldest first; `POST /_sim/requests/clear` empties the log.
//! - `POST /_sim/tokens/revoke` `{"cluster"?}` → `{"revoked"}` — invalidate every access token.

use crate::cli::{self, CliRequest};
use crate::faults::{FaultAction, FaultRule, RequestRecord, rpc_method};
use crate::http::{self, Reply, Request};
use crate::rpc::{self, RpcReply};
use crate::world::{
    MachineSpec, SimConfig, SimError, SimInterfaceGroup, SimPort, Unreachable, World, parse_host_id,
};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::io::BufReader;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The world shared by every connection; never locked across an await.
pub type SharedWorld = Arc<Mutex<World>>;

/// Locks the world, ignoring poisoning (a panicked handler leaves consistent-enough state for
/// a test double).
pub fn lock(world: &SharedWorld) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running server; stops when dropped.
#[derive(Debug)]
pub struct RunningServer {
    /// Bound address (always loopback).
    pub addr: SocketAddr,
    /// The simulated world.
    pub world: SharedWorld,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The value for the Lambdas' `WEKA_API_URL_TEMPLATE`.
    pub fn url_template(&self) -> String {
        format!("http://{}/{{ip}}/api/v1", self.addr)
    }

    /// Waits for the accept loop (it only ends on a listener error).
    pub async fn wait(mut self) {
        let task = std::mem::replace(&mut self.task, tokio::spawn(async {}));
        if let Err(e) = task.await {
            eprintln!("weka-sim: server task ended: {e}");
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `127.0.0.1:port` (0 = any free port) and serves `world`.
pub async fn start(world: World, port: u16) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let world: SharedWorld = Arc::new(Mutex::new(world));
    let shared = Arc::clone(&world);
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let world = Arc::clone(&shared);
                    tokio::spawn(async move {
                        if let Err(e) = serve_connection(stream, &world).await {
                            eprintln!("weka-sim: connection: {e}");
                        }
                    });
                }
                Err(e) => eprintln!("weka-sim: accept failed: {e}"),
            }
        }
    });
    Ok(RunningServer { addr, world, task })
}

async fn serve_connection(stream: TcpStream, world: &SharedWorld) -> Result<(), http::HttpError> {
    let mut reader = BufReader::new(stream);
    loop {
        let request = match http::read_request(&mut reader).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(()),
            Err(http::HttpError::Malformed(m)) => {
                let body = json!({"error": m}).to_string();
                return http::write_json(reader.get_mut(), 400, body.as_bytes(), true).await;
            }
            Err(e) => return Err(e),
        };
        let close = request
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let (reply, delay) = route(world, &request);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match reply {
            Reply::Json(status, body) => {
                http::write_json(reader.get_mut(), status, &body, close).await?;
                if close {
                    return Ok(());
                }
            }
            Reply::Close => return Ok(()),
        }
    }
}

fn reply(status: u16, value: &Value) -> Reply {
    Reply::Json(status, value.to_string().into_bytes())
}

fn ok(extra: Value) -> Reply {
    let mut v = json!({"ok": true});
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    reply(200, &v)
}

fn fail(e: &SimError) -> Reply {
    reply(e.http_status(), &json!({"error": e.to_string()}))
}

/// Routes one request: the reply, to be sent after the delay (an injected slow answer).
pub fn route(world: &SharedWorld, request: &Request) -> (Reply, Duration) {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [ip, "api", "v1"] => {
            if request.method != "POST" {
                return (reply(405, &json!({"error": "use POST"})), Duration::ZERO);
            }
            json_rpc(&mut lock(world), ip, request)
        }
        _ => (route_other(world, request, &segments), Duration::ZERO),
    }
}

/// One JSON-RPC request to backend `ip`, shaped by the first matching fault rule and logged.
fn json_rpc(w: &mut World, ip: &str, request: &Request) -> (Reply, Duration) {
    let method = rpc_method(&request.body);
    let fault = w.faults.take(ip, method.as_deref());
    let answer = match &fault {
        Some(FaultAction {
            status: Some(status),
            ..
        }) => reply(
            *status,
            &json!({"error": format!("injected fault: http {status}")}),
        ),
        Some(FaultAction { close: true, .. }) => Reply::Close,
        _ => world_answer(w, ip, request),
    };
    let delay = fault.as_ref().map_or(Duration::ZERO, |f| f.delay);
    w.faults.record(RequestRecord {
        ip: ip.to_owned(),
        method,
        status: match &answer {
            Reply::Json(status, _) => Some(*status),
            Reply::Close => None,
        },
        injected: fault.is_some(),
        delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
    });
    (answer, delay)
}

fn world_answer(w: &mut World, ip: &str, request: &Request) -> Reply {
    let unreachable = w.config.unreachable;
    match rpc::handle(w, ip, request.bearer(), &request.body) {
        RpcReply::Json(v) => reply(200, &v),
        RpcReply::Unauthorized => reply(401, &json!({"error": "unauthorized"})),
        RpcReply::Unreachable => match unreachable {
            Unreachable::Http503 => {
                reply(503, &json!({"error": format!("backend {ip} unreachable")}))
            }
            Unreachable::Close => Reply::Close,
        },
    }
}

fn route_other(world: &SharedWorld, request: &Request, segments: &[&str]) -> Reply {
    match segments {
        [ip, "dist", "v1", "install"] => {
            // The join script downloads the installer from a live backend; the fleet simulator
            // rewrites that URL here and gets a no-op installer.
            let w = lock(world);
            if w.reachable_cluster(ip).is_some() {
                Reply::Json(
                    200,
                    b"#!/bin/sh\necho 'weka-sim: install is a no-op'\n".to_vec(),
                )
            } else {
                reply(503, &json!({"error": format!("backend {ip} unreachable")}))
            }
        }
        ["_sim", rest @ ..] => {
            let body: Value = if request.body.is_empty() {
                json!({})
            } else {
                match serde_json::from_slice(&request.body) {
                    Ok(v) => v,
                    Err(e) => return reply(400, &json!({"error": format!("bad json: {e}")})),
                }
            };
            let mut w = lock(world);
            w.settle();
            match control(&mut w, rest, &body) {
                Ok(r) => r,
                Err(e) => fail(&e),
            }
        }
        _ => reply(404, &json!({"error": format!("no route {}", request.path)})),
    }
}

fn opt_str<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

fn req_str<'a>(body: &'a Value, key: &str) -> Result<&'a str, SimError> {
    opt_str(body, key).ok_or_else(|| SimError::Invalid(format!("{key} is required")))
}

fn str_list(body: &Value, key: &str) -> Result<Vec<String>, SimError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => {
            serde_json::from_value(v.clone()).map_err(|e| SimError::Invalid(format!("{key}: {e}")))
        }
    }
}

fn control(w: &mut World, path: &[&str], body: &Value) -> Result<Reply, SimError> {
    let cluster = opt_str(body, "cluster");
    Ok(match path {
        ["state"] => reply(200, &w.dump()),
        ["machines"] => {
            let spec: MachineSpec = serde_json::from_value(body.clone())
                .map_err(|e| SimError::Invalid(format!("machine: {e}")))?;
            let m = w.register_machine(spec)?;
            ok(json!({"machine": m}))
        }
        ["machines", ip, "down"] => {
            w.set_machine_up(ip, false)?;
            ok(json!({}))
        }
        ["machines", ip, "up"] => {
            w.set_machine_up(ip, true)?;
            ok(json!({}))
        }
        ["cluster", "create"] => {
            let admin = opt_str(body, "admin_password");
            let machines = str_list(body, "machines")?;
            let (names, host_ips) = if machines.is_empty() {
                (str_list(body, "names")?, str_list(body, "host_ips")?)
            } else {
                let mut names = Vec::new();
                let mut ips = Vec::new();
                for ip in &machines {
                    let m = w.machine(ip)?;
                    for c in m.containers.values() {
                        names.push(format!("{}-{}", m.instance_id, c.name));
                        ips.push(format!("{ip}:{}", c.base_port));
                    }
                }
                (names, ips)
            };
            let guid = w.create_cluster(&names, &host_ips, admin)?;
            ok(json!({"guid": guid}))
        }
        ["cluster", "update"] => {
            let guid = w.cluster_guid(cluster)?;
            let c = w.cluster_mut(&guid)?;
            if let Some(v) = opt_str(body, "name") {
                v.clone_into(&mut c.name);
            }
            if let Some(v) = opt_str(body, "io_status") {
                v.clone_into(&mut c.io_status);
            }
            if let Some(v) = opt_str(body, "upgrade") {
                v.clone_into(&mut c.upgrade);
            }
            let num = |k: &str| {
                body.get(k)
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            if let Some(n) = num("stripe_data_drives") {
                c.stripe_data_drives = n;
            }
            if let Some(n) = num("stripe_protection_drives") {
                c.stripe_protection_drives = n;
            }
            if let Some(n) = num("hot_spare") {
                c.hot_spare = n;
            }
            ok(json!({}))
        }
        ["join"] => {
            let ip = req_str(body, "ip")?;
            let ids = w.join(
                ip,
                opt_str(body, "container"),
                &str_list(body, "join_ips")?,
                cluster,
            )?;
            ok(json!({"host_ids": ids}))
        }
        ["drives", "scan"] => {
            let guid = w.cluster_guid(cluster)?;
            let ids = match body.get("host_ids").and_then(Value::as_array) {
                Some(list) => list
                    .iter()
                    .map(parse_host_id)
                    .collect::<Result<Vec<_>, _>>()?,
                None => Vec::new(),
            };
            let added = w.scan_drives(&guid, &ids)?;
            ok(json!({"added": added}))
        }
        ["drives", "add"] => {
            let guid = w.cluster_guid(cluster)?;
            let id = parse_host_id(
                body.get("host_id")
                    .ok_or_else(|| SimError::Invalid("host_id is required".to_owned()))?,
            )?;
            let added = w.add_drives(&guid, id, &str_list(body, "devices")?)?;
            ok(json!({"added": added}))
        }
        ["start-io"] => {
            let guid = w.cluster_guid(cluster)?;
            w.start_io(&guid)?;
            ok(json!({}))
        }
        ["credentials"] => {
            let guid = if cluster.is_none() && w.clusters.is_empty() {
                None
            } else {
                Some(w.cluster_guid(cluster)?)
            };
            w.set_user(
                guid.as_deref(),
                req_str(body, "username")?,
                req_str(body, "password")?,
                opt_str(body, "role").unwrap_or("clusteradmin"),
            )?;
            ok(json!({}))
        }
        ["overrides"] => {
            let guid = w.cluster_guid(cluster)?;
            let value = body.get("value").cloned().unwrap_or(json!("true"));
            let enabled = body.get("enabled").and_then(Value::as_bool).unwrap_or(true);
            w.set_override(&guid, req_str(body, "key")?, value, enabled)?;
            ok(json!({}))
        }
        ["overrides", "clear"] => {
            let guid = w.cluster_guid(cluster)?;
            w.clear_override(&guid, req_str(body, "key")?)?;
            ok(json!({}))
        }
        ["interface-groups"] => {
            let guid = w.cluster_guid(cluster)?;
            let name = req_str(body, "name")?.to_owned();
            let mut ports = Vec::new();
            for p in body
                .get("ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let host_id =
                    parse_host_id(p.get("host_id").ok_or_else(|| {
                        SimError::Invalid("port host_id is required".to_owned())
                    })?)?;
                ports.push(SimPort {
                    host_id,
                    port: req_str(p, "port")?.to_owned(),
                });
            }
            let group = SimInterfaceGroup {
                uid: format!("1f000000-0000-4000-8000-{:012x}", w.next_serial()),
                group_type: opt_str(body, "type").unwrap_or("NFS").to_owned(),
                ips: str_list(body, "ips")?,
                ports,
                name,
            };
            w.set_interface_group(&guid, group)?;
            ok(json!({}))
        }
        ["clock", "advance"] => {
            let seconds = body
                .get("seconds")
                .and_then(Value::as_f64)
                .ok_or_else(|| SimError::Invalid("seconds is required".to_owned()))?;
            w.advance(seconds);
            ok(json!({"now": w.now()}))
        }
        ["clock"] => {
            let factor = body
                .get("factor")
                .and_then(Value::as_f64)
                .ok_or_else(|| SimError::Invalid("factor is required".to_owned()))?;
            w.clock.set_factor(factor);
            ok(json!({"now": w.now(), "factor": w.clock.factor()}))
        }
        ["config"] => {
            let mut current = serde_json::to_value(&w.config)
                .map_err(|e| SimError::Invalid(format!("config: {e}")))?;
            if let (Some(obj), Some(patch)) = (current.as_object_mut(), body.as_object()) {
                for (k, v) in patch {
                    obj.insert(k.clone(), v.clone());
                }
            }
            w.config = serde_json::from_value::<SimConfig>(current)
                .map_err(|e| SimError::Invalid(format!("config: {e}")))?;
            ok(json!({"config": w.config}))
        }
        ["faults"] => {
            let rule: FaultRule = serde_json::from_value(body.clone())
                .map_err(|e| SimError::Invalid(format!("fault: {e}")))?;
            w.faults.add(rule).map_err(SimError::Invalid)?;
            ok(json!({"faults": w.faults.rules()}))
        }
        ["faults", "clear"] => {
            w.faults.clear();
            ok(json!({}))
        }
        ["requests"] => {
            let requests: Vec<&RequestRecord> = w.faults.requests().collect();
            ok(json!({"requests": requests}))
        }
        ["requests", "clear"] => {
            w.faults.clear_requests();
            ok(json!({}))
        }
        ["tokens", "revoke"] => {
            let guid = w.cluster_guid(cluster)?;
            let revoked = w.revoke_tokens(&guid)?;
            ok(json!({"revoked": revoked}))
        }
        ["cli"] => {
            let req: CliRequest = serde_json::from_value(body.clone())
                .map_err(|e| SimError::Invalid(format!("cli request: {e}")))?;
            let out = cli::run(w, &req);
            reply(200, &json!(out))
        }
        _ => reply(
            404,
            &json!({"error": format!("no control route /_sim/{}", path.join("/"))}),
        ),
    })
}
