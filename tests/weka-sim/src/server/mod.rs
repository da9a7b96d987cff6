//! The loopback server: JSON-RPC at `POST /<ip>/api/v1` and the control API under `/_sim/`.
//!
//! `GET /<ip>/dist/v1/install` returns a no-op installer while `<ip>` is a reachable backend;
//! `POST /<ip>/api/v2/login` and `GET /<ip>/api/v2/containers` are the REST calls the gateway
//! scripts make (see `rest`).
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
//!   "delay_ms"?, "after"?}` — inject a fault into the JSON-RPC requests that match (`after`:
//!   the world applies the call first, then `status` is answered: the answer is lost);
//!   `{"cli": "user add", "ip"?, "count"?, "after"?}` — the matching `weka` CLI commands exit 1;
//!   `GET|POST /_sim/faults/list` → `{"faults": [..]}`, the rules not used up yet;
//!   `POST /_sim/faults/clear` removes every rule.
//! - `GET|POST /_sim/requests` → `{"requests": [`[`RequestRecord`]`, ..]}` — the JSON-RPC
//!   requests served, oldest first; `POST /_sim/requests/clear` empties the log.
//! - `POST /_sim/tokens/revoke` `{"cluster"?}` → `{"revoked"}` — invalidate every access token.
//!
//! The handlers are in `control`.
//!
//! [`MachineSpec`]: crate::world::MachineSpec
//! [`SimConfig`]: crate::world::SimConfig
//! [`CliRequest`]: crate::cli::CliRequest
//! [`FaultRule`]: crate::faults::FaultRule

mod control;
mod rest;

use crate::faults::{FaultAction, RequestRecord, rpc_method};
use crate::http::{self, Reply, Request};
use crate::rpc::{self, RpcReply};
use crate::world::{Unreachable, World};
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
            after,
            ..
        }) => {
            if *after {
                // The call takes effect; its answer is lost.
                world_answer(w, ip, request);
            }
            reply(
                *status,
                &json!({"error": format!("injected fault: http {status}")}),
            )
        }
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
        [ip, "api", "v2", path] => {
            let mut w = lock(world);
            rest::handle(&mut w, ip, path, request).unwrap_or_else(|| {
                reply(404, &json!({"error": format!("no route {}", request.path)}))
            })
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
            control::handle(&mut w, rest, &body)
        }
        _ => reply(404, &json!({"error": format!("no route {}", request.path)})),
    }
}
