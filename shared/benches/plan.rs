//! Decode + plan timings for realistic 1,000 and 10,000 machine clusters (run with `cargo bench`).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use weka_shared::domain::scale_down::{ClusterSnapshot, SafetyFloor, ScaleDownPolicy, plan};
use weka_shared::weka::decode::{cluster_lists, disks_list, hosts_list, nodes_list};
use weka_shared::weka::model::{ClusterStatus, DrivesList, HostsList, NodesList};
use weka_shared::wire::scale::{HostGroupInfoResponse, InstanceRef, Secret};

/// The Lambdas' allocator, so that the figures are those of production.
#[global_allocator]
static ALLOCATOR: weka_shared::lambda::Allocator = weka_shared::lambda::ALLOCATOR;

const RUNS: usize = 7;

/// The speed goal: decode + plan of a 10,000-machine cluster in at most 0.05x the time
/// `serde_json` takes to build a `Value` of the same text, in the same run (a ratio, so that it
/// holds on any machine and under any load).
const GOAL_MACHINES: usize = 10_000;
const GOAL_RATIO: f64 = 0.05;

/// Set in the child process that measures peak memory ([`peak_child`]).
const PEAK_DIR_ENV: &str = "PLAN_BENCH_PEAK_DIR";
const PEAK_MACHINES_ENV: &str = "PLAN_BENCH_MACHINES";

struct Payload {
    hosts: String,
    disks: String,
    nodes: String,
    info: HostGroupInfoResponse,
}

fn now() -> DateTime<Utc> {
    "2026-11-10T00:00:00Z".parse().unwrap()
}

fn ip(m: usize) -> String {
    format!("10.{}.{}.{}", m / 65_536, (m / 256) % 256, m % 256)
}

/// Builds the JSON-RPC results as WEKA returns them, with the usual unused fields.
fn build(machines: usize) -> Payload {
    let (mut hosts, mut disks, mut nodes) = (Map::new(), Map::new(), Map::new());
    let t = |d: TimeDelta| (now() - d).to_rfc3339();
    for m in 0..machines {
        let ip = ip(m);
        let unhealthy = m % 97 == 5;
        let deactivating = m % 211 == 7;
        for (c, name) in ["drives0", "compute0", "frontend0"].iter().enumerate() {
            let hid = m * 3 + c;
            hosts.insert(
                format!("HostId<{hid}>"),
                json!({
                    "uid": format!("{hid:08x}-6c1e-4f0a-9d1b-{m:012x}"), "mode": "backend",
                    "container_name": name, "host_ip": ip, "hostname": format!("ip-{}", ip.replace('.', "-")),
                    "machine_identifier": format!("ec2-{m:016x}"),
                    "added_time": t(TimeDelta::hours(24 + (m % 500) as i64)),
                    "state_changed_time": if unhealthy { Value::String(t(TimeDelta::hours(3))) } else { Value::Null },
                    "state": if deactivating { "DEACTIVATING" } else { "ACTIVE" },
                    "status": if unhealthy { "DOWN" } else { "UP" }, "auto_remove_timeout": null,
                    "aws": {"instance_id": format!("i-{m:017x}"), "instance_type": "i3en.6xlarge", "availability_zone": "us-east-1a"},
                    "mgmt_port": 14000, "failure_domain": format!("FD_{m}"), "failure_domain_id": format!("FailureDomainId<{m}>"),
                    "failure_domain_type": "AUTO", "ips": [ip], "cores": 2, "cores_ids": [1, 2], "memory": 0,
                    "sw_version": "4.4.2.1", "io_nodes": 1, "member_of_leadership": m < 9, "leadership_role": null,
                    "last_failure": "", "last_failure_code": "", "last_failure_time": null,
                    "start_time": t(TimeDelta::hours(20)), "os_info": {"kernel_name": "Linux", "kernel_release": "6.1"},
                    "bandwidth": 0, "is_dedicated": true, "drives_dedicated_cores": 1, "frontend_dedicated_cores": 1
                }),
            );
            for n in 0..3usize {
                let nid = hid * 20 + n;
                nodes.insert(
                    format!("NodeId<{nid}>"),
                    json!({
                        "host_id": format!("HostId<{hid}>"),
                        "status": if unhealthy && n == 0 { "DOWN" } else { "UP" },
                        "last_fencing_time": null, "up_since": t(TimeDelta::hours(20)),
                        "roles": [if n == 0 { "MANAGEMENT" } else { "COMPUTE" }], "hostname": format!("ip-{m}"),
                        "mode": "backend", "cores": 1
                    }),
                );
            }
            if c == 0 {
                for d in 0..6usize {
                    let did = m * 6 + d;
                    disks.insert(
                        format!("DiskId<{did}>"),
                        json!({
                            "host_id": format!("HostId<{hid}>"), "status": "ACTIVE",
                            "uuid": format!("{did:08x}-0000-4000-8000-{m:012x}"), "should_be_active": !deactivating,
                            "node_id": format!("NodeId<{}>", hid * 20 + 1), "model": "Amazon EC2 NVMe Instance Storage",
                            "serial_number": format!("AWS{did:020}"), "device_path": "0000:00:1f.0", "size_bytes": 7_500_000_000_000_u64,
                            "block_size": 4096, "added_time": t(TimeDelta::hours(24)), "removed_time": null,
                            "failure_domain": format!("FD_{m}"), "hostname": format!("ip-{m}"), "attachment": "OK",
                            "vendor": "AMAZON", "firmware": "0", "spares_remaining": 100, "spares_threshold": 10, "percentage_used": 0
                        }),
                    );
                }
            }
        }
    }
    Payload {
        hosts: serde_json::to_string(&hosts).unwrap(),
        disks: serde_json::to_string(&disks).unwrap(),
        nodes: serde_json::to_string(&nodes).unwrap(),
        info: info(machines),
    }
}

/// The ASG side of the cluster: every machine an instance, desired capacity 2 % below.
fn info(machines: usize) -> HostGroupInfoResponse {
    let instances = (0..machines)
        .map(|m| InstanceRef {
            id: format!("i-{m:017x}"),
            private_ip: ip(m),
        })
        .collect();
    HostGroupInfoResponse {
        username: "admin".to_owned(),
        password: Secret::new("pw"),
        admin_password: Secret::default(),
        weka_backends_desired_capacity: i64::try_from(machines - machines / 50).unwrap(),
        nfs_backends_desired_capacity: 0,
        weka_backend_instances: instances,
        nfs_backend_instances: None,
        nfs_interface_group_instance_ips: None,
        down_backends_removal_timeout: 3 * 3_600 * 1_000_000_000,
        backend_ips: vec![],
        role: "backend".to_owned(),
        version: 1,
        lifecycle_waits: None,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time<T>(mut f: impl FnMut() -> T) -> f64 {
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        black_box(f());
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    median(samples)
}

fn status() -> ClusterStatus {
    ClusterStatus {
        io_status: "STARTED".to_owned(),
        ..ClusterStatus::default()
    }
}

/// Decodes as the scale-down handler does (`read_cluster`): the three lists through
/// `weka::decode::cluster_lists`, on the available cores.
fn decode(p: &Payload) -> ClusterSnapshot {
    let (hosts, drives, nodes) =
        cluster_lists(p.hosts.as_bytes(), p.disks.as_bytes(), p.nodes.as_bytes());
    ClusterSnapshot {
        status: status(),
        hosts: hosts.unwrap(),
        drives: drives.unwrap(),
        nodes: nodes.unwrap(),
        ..ClusterSnapshot::default()
    }
}

/// [`decode`] on one thread.
fn decode_one_thread(p: &Payload) -> ClusterSnapshot {
    ClusterSnapshot {
        status: status(),
        hosts: hosts_list(p.hosts.as_bytes()).unwrap(),
        drives: disks_list(p.disks.as_bytes()).unwrap(),
        nodes: nodes_list(p.nodes.as_bytes()).unwrap(),
        ..ClusterSnapshot::default()
    }
}

/// The typed serde decode the handler used before `weka::decode` (for comparison).
fn decode_serde(p: &Payload) -> ClusterSnapshot {
    ClusterSnapshot {
        status: status(),
        hosts: serde_json::from_str::<HostsList>(&p.hosts).unwrap(),
        drives: serde_json::from_str::<DrivesList>(&p.disks).unwrap(),
        nodes: serde_json::from_str::<NodesList>(&p.nodes).unwrap(),
        ..ClusterSnapshot::default()
    }
}

/// A `/proc/self/status` figure in MB (`VmRSS`, `VmHWM`).
fn proc_status_mb(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024.0
}

/// In a fresh process (nothing allocated before, so the allocator reuses no freed pages): reads
/// the three lists from `dir` as the responses' bodies would be held, decodes, drops the bodies and
/// plans, and prints `resident-before-input input-bodies peak` in MB.
fn peak_child(dir: &Path, machines: usize) {
    let before = proc_status_mb("VmRSS");
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let p = Payload {
        hosts: read("hosts.json"),
        disks: read("disks.json"),
        nodes: read("nodes.json"),
        info: info(machines),
    };
    let with_input = proc_status_mb("VmRSS");
    let policy = ScaleDownPolicy::new(SafetyFloor::from_geometry(3, 2, 1));
    let snapshot = decode(&p);
    // As in the handler, the bodies are dropped once decoded, before planning.
    drop((p.hosts, p.disks, p.nodes));
    black_box(plan(&p.info, &snapshot, &policy, now()).unwrap());
    println!(
        "{before:.1} {:.1} {:.1}",
        with_input - before,
        proc_status_mb("VmHWM")
    );
}

/// Runs [`peak_child`] on `p` in a child process: (input MB, peak resident MB).
fn peak_memory(p: &Payload, machines: usize) -> (f64, f64) {
    let dir: PathBuf = std::env::temp_dir().join(format!("plan-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("hosts.json", &p.hosts),
        ("disks.json", &p.disks),
        ("nodes.json", &p.nodes),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .env(PEAK_DIR_ENV, &dir)
        .env(PEAK_MACHINES_ENV, machines.to_string())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: Vec<f64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    (figures[1], figures[2])
}

/// `PLAN_BENCH_PROFILE=decode|decode1|plan|all`: only that step at 10,000 machines, 20 times (or
/// `PLAN_BENCH_REPEAT` times), for `perf record` / `perf stat` (counters are steadier than wall
/// time on a shared machine).
fn profile(what: &str) {
    let repeat: u32 = std::env::var("PLAN_BENCH_REPEAT").map_or(20, |r| r.parse().unwrap());
    let p = build(10_000);
    let policy = ScaleDownPolicy::new(SafetyFloor::from_geometry(3, 2, 1));
    let snapshot = decode(&p);
    let (start, cpu_start) = (Instant::now(), cpu_ms());
    for _ in 0..repeat {
        match what {
            "decode" => drop(black_box(decode(&p))),
            "decode1" => drop(black_box(decode_one_thread(&p))),
            "plan" => drop(black_box(plan(&p.info, &snapshot, &policy, now()).unwrap())),
            _ => {
                let s = decode(&p);
                drop(black_box(plan(&p.info, &s, &policy, now()).unwrap()));
            }
        }
    }
    println!(
        "{what}: {:.2} ms per run, {:.2} ms CPU per run",
        start.elapsed().as_secs_f64() * 1e3 / f64::from(repeat),
        (cpu_ms() - cpu_start) / f64::from(repeat)
    );
}

/// `PLAN_BENCH_SPLIT`: decode, plan and drop of the decoded lists timed apart at 10,000
/// machines (medians of 15), with the `Value` build as the yardstick.
fn split() {
    let p = build(10_000);
    let policy = ScaleDownPolicy::new(SafetyFloor::from_geometry(3, 2, 1));
    let (mut d, mut d1, mut pl, mut dr, mut v) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..15 {
        let t = Instant::now();
        let s = black_box(decode(&p));
        d.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        black_box(plan(&p.info, &s, &policy, now()).unwrap());
        pl.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        drop(s);
        dr.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        drop(black_box(decode_one_thread(&p)));
        d1.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        drop(black_box(serde_json::from_str::<Value>(&p.hosts).unwrap()));
        drop(black_box(serde_json::from_str::<Value>(&p.disks).unwrap()));
        drop(black_box(serde_json::from_str::<Value>(&p.nodes).unwrap()));
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (d, d1, pl, dr, v) = (median(d), median(d1), median(pl), median(dr), median(v));
    println!(
        "decode {d:.2} ms (1-thread decode+drop {d1:.2}), plan {pl:.2} ms, drop {dr:.2} ms; value {v:.2} ms; (decode+plan+drop)/value {:.3}",
        (d + pl + dr) / v
    );
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (in clock ticks of
/// 10 ms).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks * 10.0
}

fn main() {
    if let Ok(dir) = std::env::var(PEAK_DIR_ENV) {
        let machines = std::env::var(PEAK_MACHINES_ENV).unwrap().parse().unwrap();
        return peak_child(Path::new(&dir), machines);
    }
    if std::env::var("PLAN_BENCH_SPLIT").is_ok() {
        return split();
    }
    if let Ok(what) = std::env::var("PLAN_BENCH_PROFILE") {
        return profile(&what);
    }
    let policy = ScaleDownPolicy::new(SafetyFloor::from_geometry(3, 2, 1));
    println!(
        "{:>9} {:>9} {:>10} {:>10} {:>11} {:>10} {:>9} {:>13} {:>10} {:>8} {:>8}",
        "machines",
        "MB json",
        "value ms",
        "serde ms",
        "1-thread ms",
        "decode ms",
        "plan ms",
        "decode+plan",
        "vs value",
        "actions",
        "peak MB"
    );
    let mut goal = None;
    for machines in [1_000, 10_000] {
        let p = build(machines);
        let mb = (p.hosts.len() + p.disks.len() + p.nodes.len()) as f64 / 1e6;
        let baseline = time(|| {
            (
                serde_json::from_str::<Value>(&p.hosts).unwrap(),
                serde_json::from_str::<Value>(&p.disks).unwrap(),
                serde_json::from_str::<Value>(&p.nodes).unwrap(),
            )
        });
        let serde_ms = time(|| decode_serde(&p));
        let one_thread_ms = time(|| decode_one_thread(&p));
        let decode_ms = time(|| decode(&p));
        let snap = decode(&p);
        assert_eq!(snap, decode_serde(&p), "decoders disagree");
        let plan_ms = time(|| plan(&p.info, &snap, &policy, now()).unwrap());
        let both = time(|| {
            let s = decode(&p);
            plan(&p.info, &s, &policy, now()).unwrap().phases.len()
        });
        let actions = plan(&p.info, &snap, &policy, now())
            .unwrap()
            .actions()
            .count();
        let (_, peak_mb) = peak_memory(&p, machines);
        println!(
            "{machines:>9} {mb:>9.1} {baseline:>10.2} {serde_ms:>10.2} {one_thread_ms:>11.2} {decode_ms:>10.2} {plan_ms:>9.2} {both:>13.2} {:>9.3}x {actions:>8} {peak_mb:>8.0}",
            both / baseline
        );
        if machines == GOAL_MACHINES {
            goal = Some((both, baseline));
        }
    }
    println!(
        "(median of {RUNS} runs; 'value' = the same JSON into serde_json::Value, 'serde' = typed \
         serde_json decode, 'decode' = weka::decode::cluster_lists as the handler decodes (on all cores; \
         '1-thread' = on one); \
         'vs value' = decode+plan / value; 'peak MB' = peak resident memory of a fresh process that holds the three response bodies, decodes and plans once)"
    );
    if let Some((ms, value_ms)) = goal {
        let ratio = ms / value_ms;
        let verdict = if ratio <= GOAL_RATIO {
            "met"
        } else {
            "NOT met"
        };
        println!(
            "goal: decode+plan of {GOAL_MACHINES} machines at most {GOAL_RATIO}x the Value build: \
             {ms:.1} ms / {value_ms:.1} ms = {ratio:.3}x, {verdict}"
        );
    }
}
