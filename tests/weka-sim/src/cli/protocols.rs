//! `weka smb cluster …` and `weka s3 cluster …`: create, add containers, status, wait.
//! Status is a JSON list (`-J`) or a table of the member containers, `Ready` while the
//! container is active and up; without a cluster the commands fail as WEKA's do.

use super::CliError;
use super::args::{csv, flag, invalid, json_out, number};
use super::render::{pretty, row, table};
use crate::world::{
    HostState, ProtocolCreate, ProtocolKind, SimError, World, parse_host_id_str, typed_id,
};
use serde_json::{Value, json};

/// Default S3 port, as WEKA's.
const S3_PORT: u16 = 9000;

/// Dispatches `weka smb|s3 cluster <rest>`; `None` for an unknown subcommand.
pub(super) fn execute(
    world: &mut World,
    ip: &str,
    kind: ProtocolKind,
    rest: &[&str],
) -> Option<Result<String, CliError>> {
    let result = match rest {
        ["create", args @ ..] => create(world, ip, kind, args),
        ["containers", "add", args @ ..] => add(world, ip, kind, args),
        ["containers", "list", args @ ..] | ["status", args @ ..] => status(world, ip, kind, args),
        ["wait", ..] => wait(world, ip, kind),
        _ => return None,
    };
    Some(result)
}

/// Arguments that are neither flags nor the value of one of `valued` flags.
fn positionals<'a>(args: &[&'a str], valued: &[&str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if a.starts_with('-') {
            skip = valued.contains(a);
        } else {
            out.push(*a);
        }
    }
    out
}

/// Every value of a repeatable comma-list flag (`--container 1,2 --container 3`).
fn ids_of(args: &[&str], name: &str) -> Result<Vec<i64>, CliError> {
    let mut ids = Vec::new();
    for (i, a) in args.iter().enumerate() {
        let value = if *a == name {
            args.get(i + 1).copied()
        } else {
            a.strip_prefix(name).and_then(|r| r.strip_prefix('='))
        };
        if let Some(value) = value {
            for id in csv(value) {
                ids.push(parse_host_id_str(&id)?);
            }
        }
    }
    Ok(ids)
}

fn create(
    world: &mut World,
    ip: &str,
    kind: ProtocolKind,
    args: &[&str],
) -> Result<String, CliError> {
    let guid = world.cluster_of(ip)?;
    let spec = match kind {
        ProtocolKind::Smb => {
            let [name, domain, config_fs] = positionals(args, &["--container-ids"])[..] else {
                return Err(invalid(
                    "usage: weka smb cluster create <netbios-name> <domain> <config-fs-name> --container-ids <ids>"
                        .to_owned(),
                ));
            };
            ProtocolCreate {
                name: name.to_owned(),
                domain: domain.to_owned(),
                config_fs: config_fs.to_owned(),
                port: 0,
                container_ids: ids_of(args, "--container-ids")?,
            }
        }
        ProtocolKind::S3 => {
            let [default_fs, config_fs] = positionals(args, &["--container", "--port"])[..] else {
                return Err(invalid(
                    "usage: weka s3 cluster create <default-fs-name> <config-fs-name> --container <ids> [--port P]"
                        .to_owned(),
                ));
            };
            if !world
                .cluster(&guid)?
                .filesystems
                .iter()
                .any(|f| f.name == default_fs)
            {
                return Err(SimError::Conflict(format!(
                    "filesystem {default_fs:?} does not exist"
                ))
                .into());
            }
            ProtocolCreate {
                name: default_fs.to_owned(),
                domain: String::new(),
                config_fs: config_fs.to_owned(),
                port: match flag(args, "--port") {
                    Some(p) => number(p, "--port")?,
                    None => S3_PORT,
                },
                container_ids: ids_of(args, "--container")?,
            }
        }
    };
    let count = spec.container_ids.len();
    world.create_protocol_cluster(&guid, kind, spec)?;
    Ok(format!(
        "{} cluster created with {count} containers\n",
        kind.label()
    ))
}

fn add(world: &mut World, ip: &str, kind: ProtocolKind, args: &[&str]) -> Result<String, CliError> {
    let guid = world.cluster_of(ip)?;
    let ids = match kind {
        ProtocolKind::Smb => ids_of(args, "--container-ids")?,
        ProtocolKind::S3 => positionals(args, &[])
            .iter()
            .flat_map(|a| csv(a))
            .map(|id| parse_host_id_str(&id))
            .collect::<Result<_, _>>()?,
    };
    if ids.is_empty() {
        return Err(invalid("no container ids given".to_owned()));
    }
    world.add_protocol_containers(&guid, kind, &ids)?;
    Ok(format!(
        "{} containers added to the {} cluster\n",
        ids.len(),
        kind.label()
    ))
}

fn existing<'a>(
    world: &'a World,
    ip: &str,
    kind: ProtocolKind,
) -> Result<&'a crate::world::SimProtocolCluster, CliError> {
    let guid = world.cluster_of(ip)?;
    world.protocol_cluster(&guid, kind)?.ok_or_else(|| {
        SimError::Conflict(format!("{} cluster is not configured", kind.label())).into()
    })
}

fn wait(world: &World, ip: &str, kind: ProtocolKind) -> Result<String, CliError> {
    existing(world, ip, kind)?;
    Ok(String::new())
}

fn status(world: &World, ip: &str, kind: ProtocolKind, args: &[&str]) -> Result<String, CliError> {
    let protocol = existing(world, ip, kind)?;
    let guid = world.cluster_of(ip)?;
    let cluster = world.cluster(&guid)?;
    let members: Vec<Value> = protocol
        .container_ids
        .iter()
        .map(|id| {
            let host = cluster.hosts.get(id);
            let up = host.is_some_and(|h| {
                h.state == HostState::Active && world.machines.get(&h.ip).is_none_or(|m| m.up)
            });
            json!({
                "host_id": typed_id("HostId", *id), "container_id": id,
                "hostname": host.map(|h| h.hostname.clone()),
                "host_ip": host.map(|h| h.ip.clone()),
                "status": if up { "Ready" } else { "Not Ready" },
            })
        })
        .collect();
    if json_out(args) {
        return Ok(pretty(&Value::Array(members)));
    }
    let mut rows = vec![row(&["HOST ID", "HOSTNAME", "IP", "STATUS"])];
    for m in &members {
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        rows.push(row(&[
            &text("host_id"),
            &text("hostname"),
            &text("host_ip"),
            &text("status"),
        ]));
    }
    Ok(table(&rows))
}
