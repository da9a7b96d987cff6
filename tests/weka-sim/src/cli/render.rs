//! What the CLI prints: pretty JSON, aligned tables and the container, drive, process and
//! status listings.

use super::CliError;
use crate::world::{World, drive_str, state_str, typed_id};
use serde_json::{Value, json};

pub(super) fn pretty(v: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
    )
}

pub(super) fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(String::len)
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub(super) fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

pub(super) fn containers(world: &World, ip: &str, json: bool) -> Result<String, CliError> {
    let guid = world.cluster_of(ip)?;
    let list = world.hosts_list(&guid)?;
    let hosts = list.as_object().cloned().unwrap_or_default();
    if json {
        let arr: Vec<Value> = hosts
            .iter()
            .map(|(id, h)| {
                let mut h = h.clone();
                if let Some(o) = h.as_object_mut() {
                    o.insert("host_id".to_owned(), json!(id));
                }
                h
            })
            .collect();
        return Ok(pretty(&Value::Array(arr)));
    }
    let mut rows = vec![row(&[
        "CONTAINER ID",
        "HOSTNAME",
        "CONTAINER",
        "IPS",
        "STATUS",
        "STATE",
        "RELEASE",
        "FAILURE DOMAIN",
        "CORES",
    ])];
    for h in world.cluster(&guid)?.hosts.values() {
        let status = hosts
            .get(&typed_id("HostId", h.id))
            .and_then(|v| v.get("status"))
            .and_then(Value::as_str)
            .unwrap_or("UP")
            .to_owned();
        rows.push(row(&[
            &h.id.to_string(),
            &h.hostname,
            &h.container_name,
            &h.ip,
            &status,
            state_str(h.state),
            &world.config.release,
            &h.failure_domain,
            &h.cores.to_string(),
        ]));
    }
    Ok(table(&rows))
}

pub(super) fn drives(world: &World, ip: &str, json: bool) -> Result<String, CliError> {
    let guid = world.cluster_of(ip)?;
    if json {
        return Ok(pretty(&world.disks_list(&guid)?));
    }
    let c = world.cluster(&guid)?;
    let mut rows = vec![row(&[
        "DISK ID",
        "UUID",
        "HOSTNAME",
        "CONTAINER ID",
        "SIZE",
        "STATUS",
        "PATH",
    ])];
    for d in c.drives.values() {
        let hostname = c.hosts.get(&d.host_id).map_or("", |h| h.hostname.as_str());
        rows.push(row(&[
            &d.id.to_string(),
            &d.uuid,
            hostname,
            &d.host_id.to_string(),
            &format!("{}B", d.size_bytes),
            drive_str(d.status),
            &d.device_path,
        ]));
    }
    Ok(table(&rows))
}

pub(super) fn processes(world: &World, ip: &str, json: bool) -> Result<String, CliError> {
    let guid = world.cluster_of(ip)?;
    if json {
        return Ok(pretty(&world.nodes_list(&guid)?));
    }
    let c = world.cluster(&guid)?;
    let mut rows = vec![row(&[
        "PROCESS ID",
        "CONTAINER ID",
        "HOSTNAME",
        "CONTAINER",
        "STATUS",
        "ROLES",
    ])];
    for n in c.nodes.values() {
        let host = c.hosts.get(&n.host_id);
        rows.push(row(&[
            &n.id.to_string(),
            &n.host_id.to_string(),
            host.map_or("", |h| h.hostname.as_str()),
            host.map_or("", |h| h.container_name.as_str()),
            if n.up { "UP" } else { "DOWN" },
            if n.id % 20 == 0 {
                "MANAGEMENT"
            } else {
                "COMPUTE"
            },
        ]));
    }
    Ok(table(&rows))
}

pub(super) fn status_text(s: &Value) -> String {
    let g = |path: &[&str]| {
        path.iter()
            .try_fold(s, |v, k| v.get(*k))
            .map(|v| match v {
                Value::String(t) => t.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default()
    };
    format!(
        "WekaIO v{release} (CLI build {release})\n\n       cluster: {name} ({guid})\n        status: {status} ({up}/{total} backend containers UP, {dup}/{dtotal} drives UP)\n    protection: {d}+{p}\n     hot spare: {hs} failure domains\n     io status: {io}\n",
        release = g(&["release"]),
        name = g(&["name"]),
        guid = g(&["guid"]),
        status = g(&["status"]),
        up = g(&["hosts", "backends", "active"]),
        total = g(&["hosts", "backends", "total"]),
        dup = g(&["drives", "active"]),
        dtotal = g(&["drives", "total"]),
        d = g(&["stripe_data_drives"]),
        p = g(&["stripe_protection_drives"]),
        hs = g(&["hot_spare"]),
        io = g(&["io_status"]),
    )
}
