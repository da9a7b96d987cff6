//! The control API under `/_sim/` (listed in the [`super`] module docs): one handler per route.

use super::reply;
use crate::cli::{self, CliRequest};
use crate::faults::{FaultRule, RequestRecord};
use crate::http::Reply;
use crate::world::{
    MachineSpec, SimConfig, SimError, SimInterfaceGroup, SimPort, World, parse_host_id,
};
use serde_json::{Value, json};

/// Answers one control request; the caller has settled the world.
pub(super) fn handle(w: &mut World, path: &[&str], body: &Value) -> Reply {
    match control(w, path, body) {
        Ok(r) => r,
        Err(e) => fail(&e),
    }
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
        ["faults", "list"] => ok(json!({"faults": w.faults.rules()})),
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
            let out = match w.faults.take_cli(&req.ip, &req.args) {
                None => cli::run(w, &req),
                Some(fault) => {
                    if fault.after {
                        cli::run(w, &req);
                    }
                    cli::CliOutput {
                        exit_code: 1,
                        stdout: String::new(),
                        stderr: format!("error: injected fault: weka {}\n", req.args.join(" ")),
                    }
                }
            };
            reply(200, &json!(out))
        }
        _ => reply(
            404,
            &json!({"error": format!("no control route /_sim/{}", path.join("/"))}),
        ),
    })
}
