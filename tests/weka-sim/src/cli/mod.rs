//! The `weka` CLI as the generated instance scripts use it, mapped onto the simulated world.
//! The shim (`weka-sim cli -- <args>`) forwards its argv and the caller's IP to `POST /_sim/cli`;
//! this module interprets them and returns what the real CLI would print where the scripts
//! parse it. No `weka user login` is needed before other commands.
//!
//! Supported (anything else exits 2 with "unsupported weka command"):
//! - `local stop|start|rm [--all|<name>]`, `local setup container --name N [--base-port P]
//!   [--cores C] [--join-ips a,b] ...` (joins the cluster when `--join-ips` is given),
//!   `local ps`, `local status [-J]`,
//!   `local run|exec --container C wapi machine-query-info --info-types=DISKS -J`,
//!   `local run --container C manhole getServerInfo` (`hostIdValue: N`),
//!   `local exec --container drives0 /weka/tools/weka_sign_drive <dev>`.
//! - `debug manhole -s 0 operational_status` (`"is_ready": true` once joined).
//! - `version`, `version get|prepare|set ...` (no-ops).
//! - `cluster create <names...> --host-ips ip:port,... [--admin-password P]`.
//! - `cluster container|host [-J]`, `cluster container deactivate|remove <ids...>`.
//! - `cluster drive [-J]`, `cluster drive scan [ids...]`, `cluster drive add <id> <devs...>`,
//!   `cluster drive deactivate|remove <uuids...>`.
//! - `cluster process [-J]`, `cluster update --cluster-name|--data-drives|--parity-drives|
//!   --bucket-raft-size`, `cluster hot-spare N`, `cluster start-io|stop-io`.
//! - `user [-J]`, `user login <u> [<p>]`, `user add <u> <role> [<p>]` (refused for a user that
//!   exists, as WEKA's CLI),
//!   `user passwd [<p>] [--username U]` (default user `admin`). A password left out is read at
//!   the CLI's prompt, which without a terminal reads one line of stdin: the shim forwards that
//!   line ([`CliRequest::stdin`], see [`reads_password`]), so scripts keep passwords off argv.
//! - `status [-J]`, `events trigger-event <text>`, `fs [-J]`, `fs create <name> <group> <size>`.
//! - `smb cluster create <name> <domain> <config-fs> --container-ids a,b,c`,
//!   `s3 cluster create <default-fs> <config-fs> --container a,b [--port P]`,
//!   `smb cluster containers add --container-ids a`, `s3 cluster containers add <ids>`,
//!   `smb|s3 cluster status|containers list [-J]`, `smb|s3 cluster wait` (see `protocols`).
//! - Accepted as no-ops: `cloud ...` (`enable` is recorded), `fs group create`, `fs update`,
//!   `fs tier ...`, `nfs global-config set`, `dataservice global-config set`, `alerts mute`.

mod args;
mod protocols;
mod render;

pub use args::parse_size;

use crate::world::{
    DRIVES, FileSystem, LocalContainer, NVME_MODEL, ProtocolKind, SimError, World, default_port,
    parse_host_id_str, typed_id,
};
use args::{csv, flag, has, host_ids, invalid, json_out, number, positional};
use render::{containers, drives, pretty, processes, row, status_text, table};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// One CLI invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliRequest {
    /// Private IP of the calling machine (`WEKA_SIM_IP`).
    pub ip: String,
    /// The argv after `weka`.
    pub args: Vec<String>,
    /// Instance id for a machine seen for the first time (`WEKA_SIM_INSTANCE_ID`).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// Hostname for a machine seen for the first time (`HOSTNAME`).
    #[serde(default)]
    pub hostname: Option<String>,
    /// The answer to the CLI's password prompt (the first line of its stdin, without the
    /// newline), read by the shim only for commands that prompt ([`reads_password`]).
    #[serde(default)]
    pub stdin: Option<String>,
}

/// Whether `weka <args>` asks for a password at its prompt: `user login <u>`, `user add <u>
/// <role>` and `user passwd` without the password among their words.
pub fn reads_password(args: &[String]) -> bool {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let words: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with('-'))
        .collect();
    match words.as_slice() {
        ["user", "login", _] | ["user", "add", _, _] => true,
        // `--username U` puts U among the words.
        ["user", "passwd", rest @ ..] => {
            rest.len() == usize::from(flag(&args, "--username").is_some())
        }
        _ => false,
    }
}

/// What the shim prints and exits with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CliOutput {
    /// Exit status: 0 ok, 1 command failed, 2 unsupported command.
    pub exit_code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("weka-sim: unsupported weka command: weka {0}")]
    Unsupported(String),
    #[error("error: {0}")]
    Sim(#[from] SimError),
}

/// Runs one CLI command against the world.
pub fn run(world: &mut World, req: &CliRequest) -> CliOutput {
    world.settle();
    let args: Vec<&str> = req.args.iter().map(String::as_str).collect();
    let result = world
        .ensure_machine(&req.ip, req.instance_id.as_deref(), req.hostname.as_deref())
        .map_err(CliError::from)
        .and_then(|()| execute(world, &req.ip, &args, req.stdin.as_deref()));
    match result {
        Ok(stdout) => CliOutput {
            exit_code: 0,
            stdout,
            stderr: String::new(),
        },
        Err(e) => CliOutput {
            exit_code: match e {
                CliError::Unsupported(_) => 2,
                CliError::Sim(_) => 1,
            },
            stdout: String::new(),
            stderr: format!("{e}\n"),
        },
    }
}

/// `user add`: as WEKA's CLI, a user that exists already is refused (its password stays).
fn add_user(
    world: &mut World,
    ip: &str,
    user: &str,
    password: &str,
    role: &str,
) -> Result<String, CliError> {
    let guid = world.cluster_of(ip)?;
    if world.cluster(&guid)?.users.contains_key(user) {
        return Err(SimError::Conflict(format!("user {user:?} already exists")).into());
    }
    world.set_user(Some(&guid), user, password, role)?;
    Ok(String::new())
}

/// The answer to the password prompt; none (no stdin, or an empty line) is refused.
fn prompted(stdin: Option<&str>) -> Result<&str, CliError> {
    stdin
        .filter(|p| !p.is_empty())
        .ok_or_else(|| invalid("no password given at the prompt".to_owned()))
}

fn execute(
    world: &mut World,
    ip: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> Result<String, CliError> {
    if !world.machine(ip)?.up {
        return Err(SimError::Conflict(format!("machine {ip} is down")).into());
    }
    let unsupported = || CliError::Unsupported(args.join(" "));
    match args {
        ["local", "stop" | "start" | "restart", ..] => Ok(String::new()),
        ["local", "rm", rest @ ..] => {
            let name = rest.iter().find(|a| !a.starts_with('-')).copied();
            let name = if has(rest, "--all") { None } else { name };
            world.remove_local_containers(ip, name)?;
            Ok(String::new())
        }
        ["local", "setup", "container", rest @ ..] => local_setup(world, ip, rest),
        ["local", "ps", ..] => {
            let m = world.machine(ip)?;
            let mut rows = vec![row(&[
                "CONTAINER",
                "STATE",
                "DISABLED",
                "UPTIME",
                "MONITORING",
                "PERSISTENT",
                "PORT",
                "STATUS",
                "VERSION",
            ])];
            for c in m.containers.values() {
                rows.push(row(&[
                    &c.name,
                    "Running",
                    "False",
                    "0:01:00h",
                    "True",
                    "True",
                    &c.base_port.to_string(),
                    "Ready",
                    &world.config.release,
                ]));
            }
            Ok(table(&rows))
        }
        ["local", "status", rest @ ..] => {
            let m = world.machine(ip)?;
            if json_out(rest) {
                let map: serde_json::Map<String, Value> = m
                    .containers
                    .values()
                    .map(|c| {
                        let v = json!({"name": c.name, "type": "weka", "isRunning": true,
                            "port": c.base_port,
                            "internalStatus": {"state": "READY", "display_status": "READY"}});
                        (c.name.clone(), v)
                    })
                    .collect();
                Ok(pretty(&Value::Object(map)))
            } else {
                let mut out = String::new();
                for c in m.containers.values() {
                    let _ = writeln!(out, "Container {}: Running, READY", c.name);
                }
                Ok(out)
            }
        }
        ["local", "run" | "exec", rest @ ..] => {
            local_run(world, ip, rest).ok_or_else(unsupported)?
        }
        ["debug", "manhole", rest @ ..] if has(rest, "operational_status") => {
            let ready = world.machine(ip)?.cluster.is_some();
            Ok(pretty(
                &json!({"is_ready": ready, "state": if ready { "OPERATIONAL" } else { "JOINING" }}),
            ))
        }
        ["version"] => Ok(format!("* {}\n", world.config.release)),
        ["version", "get" | "prepare" | "set", ..] => Ok(String::new()),
        ["cluster", "create", rest @ ..] => {
            let names: Vec<String> = rest
                .iter()
                .take_while(|a| !a.starts_with('-'))
                .map(|a| (*a).to_owned())
                .collect();
            let host_ips = flag(rest, "--host-ips")
                .map(csv)
                .ok_or_else(|| invalid("--host-ips is required".to_owned()))?;
            let guid = world.create_cluster(&names, &host_ips, flag(rest, "--admin-password"))?;
            Ok(format!(
                "Cluster {guid} created with {} containers\n",
                names.len()
            ))
        }
        ["user", "login", user] => {
            let password = prompted(stdin)?;
            let guid = world.cluster_of(ip)?;
            if world.cluster(&guid)?.check_password(user, password) {
                Ok("Login completed successfully\n".to_owned())
            } else {
                Err(SimError::Conflict("invalid username or password".to_owned()).into())
            }
        }
        ["user", "login", user, password, ..] => {
            let guid = world.cluster_of(ip)?;
            if world.cluster(&guid)?.check_password(user, password) {
                Ok("Login completed successfully\n".to_owned())
            } else {
                Err(SimError::Conflict("invalid username or password".to_owned()).into())
            }
        }
        ["user", "add", user, role] => {
            let password = prompted(stdin)?;
            add_user(world, ip, user, password, role)
        }
        ["user", "passwd", rest @ ..] => {
            let user = flag(rest, "--username").unwrap_or("admin");
            let given: Vec<&str> = rest
                .iter()
                .copied()
                .filter(|a| !a.starts_with('-') && *a != user)
                .collect();
            let password = match given.as_slice() {
                [] => prompted(stdin)?,
                [p] => p,
                _ => return Err(unsupported()),
            };
            let guid = world.cluster_of(ip)?;
            let role = world
                .cluster(&guid)?
                .users
                .get(user)
                .map(|u| u.role.clone())
                .ok_or_else(|| SimError::Conflict(format!("no such user {user:?}")))?;
            world.set_user(Some(&guid), user, password, &role)?;
            Ok("Password changed\n".to_owned())
        }
        ["user", "add", user, role, password, ..] => add_user(world, ip, user, password, role),
        ["user", rest @ ..] if rest.iter().all(|a| a.starts_with('-')) => {
            let guid = world.cluster_of(ip)?;
            let c = world.cluster(&guid)?;
            if json_out(rest) {
                let users: Vec<Value> = c
                    .users
                    .iter()
                    .map(|(n, u)| json!({"username": n, "role": u.role, "source": "Internal"}))
                    .collect();
                return Ok(pretty(&Value::Array(users)));
            }
            let mut rows = vec![row(&["USER", "SOURCE", "ROLE"])];
            rows.extend(c.users.iter().map(|(n, u)| row(&[n, "Internal", &u.role])));
            Ok(table(&rows))
        }
        ["cluster", "container" | "host", "deactivate", ids @ ..] => {
            let guid = world.cluster_of(ip)?;
            let ids = host_ids(ids)?;
            world.deactivate_hosts(&guid, &ids, has(args, "--skip-resource-validation"))?;
            Ok(String::new())
        }
        ["cluster", "container" | "host", "remove", ids @ ..] => {
            let guid = world.cluster_of(ip)?;
            for id in host_ids(ids)? {
                world.remove_host(&guid, id)?;
            }
            Ok(String::new())
        }
        ["cluster", "container" | "host", rest @ ..] if rest.iter().all(|a| a.starts_with('-')) => {
            containers(world, ip, json_out(rest))
        }
        ["cluster", "drive", "scan", ids @ ..] => {
            let guid = world.cluster_of(ip)?;
            let ids = host_ids(ids)?;
            let added = world.scan_drives(&guid, &ids)?;
            Ok(format!("Scan completed: {} drives added\n", added.len()))
        }
        ["cluster", "drive", "add", id, devices @ ..] => {
            let guid = world.cluster_of(ip)?;
            let devices: Vec<String> = devices
                .iter()
                .filter(|d| !d.starts_with('-'))
                .map(|d| (*d).to_owned())
                .collect();
            let added = world.add_drives(&guid, parse_host_id_str(id)?, &devices)?;
            Ok(added.iter().map(|u| format!("{u}\n")).collect())
        }
        ["cluster", "drive", "deactivate", uuids @ ..] => {
            let guid = world.cluster_of(ip)?;
            let uuids = positional(uuids);
            world.deactivate_drives(&guid, &uuids)?;
            Ok(String::new())
        }
        ["cluster", "drive", "remove", uuids @ ..] => {
            let guid = world.cluster_of(ip)?;
            let uuids = positional(uuids);
            world.remove_drives(&guid, &uuids)?;
            Ok(String::new())
        }
        ["cluster", "drive", rest @ ..] if rest.iter().all(|a| a.starts_with('-')) => {
            drives(world, ip, json_out(rest))
        }
        ["cluster", "process" | "nodes", rest @ ..] if rest.iter().all(|a| a.starts_with('-')) => {
            processes(world, ip, json_out(rest))
        }
        ["cluster", "update", rest @ ..] => {
            let guid = world.cluster_of(ip)?;
            let c = world.cluster_mut(&guid)?;
            let mut any = false;
            if let Some(n) = flag(rest, "--cluster-name") {
                n.clone_into(&mut c.name);
                any = true;
            }
            if let Some(n) = flag(rest, "--data-drives") {
                c.stripe_data_drives = number(n, "--data-drives")?;
                any = true;
            }
            if let Some(n) = flag(rest, "--parity-drives") {
                c.stripe_protection_drives = number(n, "--parity-drives")?;
                any = true;
            }
            if let Some(n) = flag(rest, "--bucket-raft-size") {
                c.bucket_raft_size = number(n, "--bucket-raft-size")?;
                any = true;
            }
            if any {
                Ok(String::new())
            } else {
                Err(unsupported())
            }
        }
        ["cluster", "hot-spare", n, ..] => {
            let guid = world.cluster_of(ip)?;
            world.cluster_mut(&guid)?.hot_spare = number(n, "hot spare")?;
            Ok(String::new())
        }
        ["cluster", "start-io", ..] => {
            let guid = world.cluster_of(ip)?;
            world.start_io(&guid)?;
            Ok("Starting IO\n".to_owned())
        }
        ["cluster", "stop-io", ..] => {
            let guid = world.cluster_of(ip)?;
            "STOPPED".clone_into(&mut world.cluster_mut(&guid)?.io_status);
            Ok(String::new())
        }
        ["cloud", "enable", ..] => {
            let guid = world.cluster_of(ip)?;
            world.cluster_mut(&guid)?.cloud_enabled = true;
            Ok(String::new())
        }
        ["cloud", ..]
        | ["fs", "group", "create", ..]
        | ["fs", "update", ..]
        | ["fs", "tier", ..]
        | ["nfs", "global-config", "set", ..]
        | ["dataservice", "global-config", "set", ..]
        | ["alerts", "mute", ..] => {
            world.cluster_of(ip)?;
            Ok(String::new())
        }
        ["fs", "create", name, group, size, ..] => {
            let guid = world.cluster_of(ip)?;
            let size_bytes =
                parse_size(size).ok_or_else(|| invalid(format!("bad capacity {size:?}")))?;
            world.create_fs(
                &guid,
                FileSystem {
                    name: (*name).to_owned(),
                    group: (*group).to_owned(),
                    size_bytes,
                },
            )?;
            Ok(String::new())
        }
        ["fs", rest @ ..] if rest.iter().all(|a| a.starts_with('-')) => {
            let guid = world.cluster_of(ip)?;
            let c = world.cluster(&guid)?;
            if json_out(rest) {
                let list: Vec<Value> = c
                    .filesystems
                    .iter()
                    .map(|f| {
                        json!({"name": f.name, "group_name": f.group,
                                    "total_budget": f.size_bytes, "is_ready": true})
                    })
                    .collect();
                return Ok(pretty(&Value::Array(list)));
            }
            let mut rows = vec![row(&["FILESYSTEM NAME", "GROUP", "TOTAL CAPACITY"])];
            rows.extend(
                c.filesystems
                    .iter()
                    .map(|f| row(&[&f.name, &f.group, &format!("{}B", f.size_bytes)])),
            );
            Ok(table(&rows))
        }
        ["events", "trigger-event", message, ..] => {
            let guid = world.cluster_of(ip)?;
            world.add_event(&guid, message)?;
            Ok(String::new())
        }
        ["status", rest @ ..] | ["cluster", "status", rest @ ..] => {
            let guid = world.cluster_of(ip)?;
            let status = world.status(&guid)?;
            if json_out(rest) {
                Ok(pretty(&status))
            } else {
                Ok(status_text(&status))
            }
        }
        ["smb", "cluster", rest @ ..] => {
            protocols::execute(world, ip, ProtocolKind::Smb, rest).ok_or_else(unsupported)?
        }
        ["s3", "cluster", rest @ ..] => {
            protocols::execute(world, ip, ProtocolKind::S3, rest).ok_or_else(unsupported)?
        }
        _ => Err(unsupported()),
    }
}

fn local_setup(world: &mut World, ip: &str, rest: &[&str]) -> Result<String, CliError> {
    let name = flag(rest, "--name").ok_or_else(|| invalid("--name is required".to_owned()))?;
    let base_port = match flag(rest, "--base-port") {
        Some(p) => number(p, "--base-port")?,
        None => default_port(name),
    };
    let cores = match flag(rest, "--cores") {
        Some(c) => number(c, "--cores")?,
        None => 1,
    };
    world.setup_local_container(
        ip,
        LocalContainer {
            name: name.to_owned(),
            base_port,
            cores,
        },
    )?;
    let join_ips = flag(rest, "--join-ips").map(csv).unwrap_or_default();
    if join_ips.is_empty() {
        return Ok(format!("Container {name} is set up\n"));
    }
    let ids = world.join(ip, Some(name), &join_ips, None)?;
    Ok(format!(
        "Container {name} is set up and joined the cluster as {}\n",
        ids.iter()
            .map(|i| typed_id("HostId", *i))
            .collect::<Vec<_>>()
            .join(",")
    ))
}

/// `weka local run|exec --container C <command...>`; `None` when the command is unknown.
fn local_run(world: &mut World, ip: &str, rest: &[&str]) -> Option<Result<String, CliError>> {
    let container = flag(rest, "--container").unwrap_or(DRIVES);
    if has(rest, "machine-query-info") {
        let m = world.machine(ip).ok()?;
        let disks: Vec<Value> = m
            .nvme_devices
            .iter()
            .map(|d| {
                json!({"devPath": d, "isRotational": false, "type": "DISK",
                            "isMounted": false, "model": NVME_MODEL,
                            "sizeBytes": world.config.drive_size_bytes})
            })
            .collect();
        return Some(Ok(pretty(&json!({"disks": disks}))));
    }
    if has(rest, "getServerInfo") {
        return Some(server_info(world, ip, container));
    }
    if let Some(pos) = rest.iter().position(|a| a.ends_with("weka_sign_drive")) {
        let device = rest.get(pos + 1)?;
        return Some(
            world
                .sign_device(ip, device)
                .map(|()| format!("Signed {device}\n"))
                .map_err(CliError::from),
        );
    }
    None
}

fn server_info(world: &World, ip: &str, container: &str) -> Result<String, CliError> {
    let guid = world
        .machine(ip)?
        .cluster
        .clone()
        .ok_or_else(|| SimError::Conflict(format!("machine {ip} is not part of a cluster")))?;
    let host = world
        .cluster(&guid)?
        .hosts
        .values()
        .find(|h| h.ip == ip && h.container_name == container)
        .ok_or_else(|| {
            SimError::Conflict(format!("container {container} on {ip} has not joined"))
        })?;
    Ok(format!(
        "hostIdValue: {}\nhostId: {}\nclusterGuid: {guid}\n",
        host.id,
        typed_id("HostId", host.id)
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::world::{COMPUTE, FRONTEND};
    use crate::{MachineSpec, SimClock, SimConfig};

    fn weka(world: &mut World, args: &[&str], stdin: Option<&str>) -> CliOutput {
        run(
            world,
            &CliRequest {
                ip: "10.0.0.10".to_owned(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
                instance_id: None,
                hostname: None,
                stdin: stdin.map(str::to_owned),
            },
        )
    }

    /// As WEKA's CLI: `user add` of a user that exists fails (the clusterization script then
    /// finds it in `weka user -J`) and leaves its password as it was.
    #[test]
    fn user_add_refuses_a_user_that_exists() {
        let mut w = World::new(SimConfig::default(), SimClock::manual());
        w.register_machine(MachineSpec {
            ip: "10.0.0.10".to_owned(),
            ..MachineSpec::default()
        })
        .unwrap();
        let (names, ips): (Vec<String>, Vec<String>) =
            [(DRIVES, 14000), (COMPUTE, 15000), (FRONTEND, 16000)]
                .iter()
                .map(|(c, p)| (format!("i-0-{c}"), format!("10.0.0.10:{p}")))
                .unzip();
        w.create_cluster(&names, &ips, Some("pw")).unwrap();
        let add = ["user", "add", "weka-deployment", "clusteradmin"];
        assert_eq!(weka(&mut w, &add, Some("first")).exit_code, 0);
        let again = weka(&mut w, &add, Some("second"));
        assert_eq!(again.exit_code, 1);
        assert!(again.stderr.contains("already exists"), "{}", again.stderr);
        let argv = ["user", "add", "weka-deployment", "clusteradmin", "third"];
        assert_eq!(weka(&mut w, &argv, None).exit_code, 1);
        let login = ["user", "login", "weka-deployment"];
        assert_eq!(weka(&mut w, &login, Some("first")).exit_code, 0);
        let users = weka(&mut w, &["user", "-J"], None).stdout;
        assert!(users.contains("\"weka-deployment\""), "{users}");
    }
}
