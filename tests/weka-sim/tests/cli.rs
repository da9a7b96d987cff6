//! The `weka` CLI mapping, driven the way the generated deploy/clusterize/join scripts drive it,
//! plus the `weka-sim` binary (serve with a port file, and the cli shim) end to end.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;
use weka_sim::cli::{self, CliOutput, CliRequest};
use weka_sim::{SimClock, SimConfig, World};

fn weka(world: &mut World, ip: &str, line: &[&str]) -> CliOutput {
    cli::run(
        world,
        &CliRequest {
            ip: ip.to_owned(),
            args: line.iter().map(|s| (*s).to_owned()).collect(),
            instance_id: Some(format!("i-{}", ip.replace('.', ""))),
            hostname: Some(format!("ip-{}", ip.replace('.', "-"))),
            stdin: None,
        },
    )
}

/// `weka <line>` answering the CLI's password prompt with `password` (stdin).
fn weka_prompted(world: &mut World, ip: &str, line: &[&str], password: &str) -> CliOutput {
    let args: Vec<String> = line.iter().map(|s| (*s).to_owned()).collect();
    assert!(cli::reads_password(&args), "weka {line:?} does not prompt");
    cli::run(
        world,
        &CliRequest {
            ip: ip.to_owned(),
            args,
            instance_id: Some(format!("i-{}", ip.replace('.', ""))),
            hostname: Some(format!("ip-{}", ip.replace('.', "-"))),
            stdin: Some(password.to_owned()),
        },
    )
}

/// Review M7: what clusterize.sh now runs, no password in argv: create with the default admin
/// password, log in with it, set the real one at the prompt, log in again, add the deployment
/// user with its password at the prompt.
#[test]
fn passwords_are_read_at_the_prompt_from_stdin() {
    let mut world = World::new(SimConfig::default(), SimClock::manual());
    let ip = common::ip(0);
    deploy(&mut world, &ip, None);
    let name_d = format!("i-{}-drives0", ip.replace('.', ""));
    let host_ips = format!("{ip}:14000");
    ok(
        &mut world,
        &ip,
        &["cluster", "create", &name_d, "--host-ips", &host_ips],
    );
    let login = ["user", "login", "admin"];
    assert_eq!(weka_prompted(&mut world, &ip, &login, "admin").exit_code, 0);
    let passwd = ["user", "passwd", "--username", "admin"];
    assert_eq!(
        weka_prompted(&mut world, &ip, &passwd, "S3cret").exit_code,
        0
    );
    assert_eq!(weka_prompted(&mut world, &ip, &login, "admin").exit_code, 1);
    assert_eq!(
        weka_prompted(&mut world, &ip, &login, "S3cret").exit_code,
        0
    );
    let add = ["user", "add", "weka-deployment", "clusteradmin"];
    assert_eq!(weka_prompted(&mut world, &ip, &add, "dep").exit_code, 0);
    let users: Value = serde_json::from_str(&ok(&mut world, &ip, &["user", "-J"])).unwrap();
    assert!(
        users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["username"] == "weka-deployment" && u["role"] == "clusteradmin")
    );
    let dep_login = ["user", "login", "weka-deployment"];
    assert_eq!(
        weka_prompted(&mut world, &ip, &dep_login, "dep").exit_code,
        0
    );
    // The admin keeps its role; a prompt left unanswered is refused, as is an unknown user.
    let out = weka(&mut world, &ip, &login);
    assert_eq!(out.exit_code, 1, "{}", out.stdout);
    let unknown = ["user", "passwd", "--username", "nobody"];
    assert_eq!(weka_prompted(&mut world, &ip, &unknown, "x").exit_code, 1);
    // Commands with the password in argv still work; they do not prompt.
    assert!(!cli::reads_password(&[
        "user".into(),
        "login".into(),
        "a".into(),
        "b".into()
    ]));
    assert!(!cli::reads_password(&[
        "cluster".into(),
        "container".into()
    ]));
}

fn ok(world: &mut World, ip: &str, line: &[&str]) -> String {
    let out = weka(world, ip, line);
    assert_eq!(out.exit_code, 0, "weka {line:?}: {}", out.stderr);
    out.stdout
}

/// What `deploy_backend.sh` runs on a fresh instance: containers, NVMe discovery and signing.
fn deploy(world: &mut World, ip: &str, join_ips: Option<&str>) {
    ok(world, ip, &["local", "stop"]);
    ok(world, ip, &["local", "rm", "default", "--force"]);
    for (name, port) in [
        ("drives0", "14000"),
        ("compute0", "15000"),
        ("frontend0", "16000"),
    ] {
        let mut line = vec![
            "local",
            "setup",
            "container",
            "--name",
            name,
            "--base-port",
            port,
            "--cores",
            "2",
            "--no-frontends",
            "--dedicate",
            "--net",
            "udp",
        ];
        if let Some(j) = join_ips {
            line.extend(["--join-ips", j, "--management-ips", ip]);
        }
        ok(world, ip, &line);
    }
    let ps = ok(world, ip, &["local", "ps"]);
    assert_eq!(
        ps.lines()
            .filter(|l| l.to_lowercase().contains("running"))
            .count(),
        3
    );
    let disks: Value = serde_json::from_str(&ok(
        world,
        ip,
        &[
            "local",
            "run",
            "--container",
            "compute0",
            "wapi",
            "machine-query-info",
            "--info-types=DISKS",
            "-J",
        ],
    ))
    .unwrap();
    for d in disks["disks"].as_array().unwrap() {
        assert_eq!(d["model"], "Amazon EC2 NVMe Instance Storage");
        let dev = d["devPath"].as_str().unwrap();
        ok(
            world,
            ip,
            &[
                "local",
                "exec",
                "--container",
                "drives0",
                "/weka/tools/weka_sign_drive",
                dev,
            ],
        );
    }
}

#[test]
fn clusterize_script_flow() {
    let mut world = World::new(SimConfig::default(), SimClock::manual());
    let ips: Vec<String> = (0..3).map(common::ip).collect();
    for ip in &ips {
        deploy(&mut world, ip, None);
    }
    let mut names = Vec::new();
    let mut host_ips = Vec::new();
    for ip in &ips {
        for (c, p) in [
            ("drives0", 14000),
            ("compute0", 15000),
            ("frontend0", 16000),
        ] {
            names.push(format!("i-{}-{c}", ip.replace('.', "")));
            host_ips.push(format!("{ip}:{p}"));
        }
    }
    let csv = host_ips.join(",");
    let me = ips[2].as_str();
    let mut create: Vec<&str> = vec!["cluster", "create"];
    create.extend(names.iter().map(String::as_str));
    create.extend(["--host-ips", &csv, "--admin-password", "adminpw"]);
    ok(&mut world, me, &create);
    assert_eq!(
        weka(&mut world, me, &["user", "login", "admin", "nope"]).exit_code,
        1
    );
    ok(&mut world, me, &["user", "login", "admin", "adminpw"]);
    ok(
        &mut world,
        me,
        &["user", "add", "weka-deployment", "clusteradmin", "deploypw"],
    );

    // mapfile -t drive_containers < <(weka cluster container | grep drives0 | awk '{ print $1 }')
    let table = ok(&mut world, me, &["cluster", "container"]);
    let drive_containers: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("drives0"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(drive_containers, ["0", "3", "6"]);
    for id in &drive_containers {
        ok(&mut world, me, &["cluster", "drive", "scan", id]);
    }
    ok(&mut world, me, &["cluster", "update", "--cluster-name=poc"]);
    ok(&mut world, me, &["cloud", "enable"]);
    ok(
        &mut world,
        me,
        &[
            "cluster",
            "update",
            "--data-drives",
            "1",
            "--parity-drives",
            "1",
        ],
    );
    ok(&mut world, me, &["cluster", "hot-spare", "1"]);
    ok(&mut world, me, &["cluster", "start-io"]);
    for line in [
        &["cluster", "process"][..],
        &["cluster", "drive"],
        &["cluster", "container"],
    ] {
        ok(&mut world, me, line);
    }
    ok(
        &mut world,
        me,
        &[
            "fs",
            "group",
            "create",
            "default",
            "--target-ssd-retention=86400",
            "--start-demote=10",
        ],
    );
    ok(
        &mut world,
        me,
        &["fs", "create", ".config_fs", "default", "22GB"],
    );
    ok(
        &mut world,
        me,
        &["nfs", "global-config", "set", "--config-fs", ".config_fs"],
    );
    let status: Value = serde_json::from_str(&ok(&mut world, me, &["status", "-J"])).unwrap();
    let unprovisioned = status["capacity"]["unprovisioned_bytes"].as_u64().unwrap();
    assert!(unprovisioned > 0);
    ok(
        &mut world,
        me,
        &[
            "fs",
            "create",
            "default",
            "default",
            &format!("{unprovisioned}B"),
        ],
    );
    ok(
        &mut world,
        me,
        &["alerts", "mute", "JumboConnectivity", "365d"],
    );
    let fs: Value = serde_json::from_str(&ok(&mut world, me, &["fs", "-J"])).unwrap();
    assert_eq!(fs.as_array().unwrap().len(), 2);

    let guid = world.cluster_guid(None).unwrap();
    let cluster = world.cluster(&guid).unwrap();
    assert_eq!(cluster.name, "poc");
    assert_eq!(cluster.io_status, "STARTED");
    assert_eq!(cluster.hosts.len(), 9);
    assert_eq!(cluster.drives.len(), 6);
    assert!(
        world
            .cluster(&guid)
            .unwrap()
            .check_password("weka-deployment", "deploypw")
    );
    let text = ok(&mut world, me, &["status"]);
    assert!(text.contains("cluster: poc"), "{text}");
}

#[test]
fn join_script_flow_and_failed_scan_deactivation() {
    let (mut world, guid) = common::running_cluster(3);
    let new = common::ip(7);
    let hostname = format!("ip-{}", new.replace('.', "-"));
    let out = weka(
        &mut world,
        &new,
        &["debug", "manhole", "-s", "0", "operational_status"],
    );
    assert!(out.stdout.contains("\"is_ready\": false"), "{}", out.stdout);
    ok(
        &mut world,
        &new,
        &[
            "version",
            "get",
            "--from",
            "10.0.1.10:14000",
            "4.4.2",
            "--set-current",
        ],
    );
    ok(&mut world, &new, &["local", "rm", "--all", "-f"]);
    deploy(&mut world, &new, Some("10.0.1.10,10.0.1.11"));
    let out = ok(
        &mut world,
        &new,
        &["debug", "manhole", "-s", "0", "operational_status"],
    );
    assert!(out.contains("\"is_ready\": true"), "{out}");
    // host_id="$(weka local run --container compute0 manhole getServerInfo | grep hostIdValue: | awk '{ print $2 }')"
    let info = ok(
        &mut world,
        &new,
        &[
            "local",
            "run",
            "--container",
            "compute0",
            "manhole",
            "getServerInfo",
        ],
    );
    let host_id = info
        .lines()
        .find(|l| l.starts_with("hostIdValue:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_owned();
    assert_eq!(host_id, "10");
    let scan = ok(&mut world, &new, &["cluster", "drive", "scan", &host_id]);
    assert!(scan.contains("2 drives added"), "{scan}");
    ok(
        &mut world,
        &new,
        &["events", "trigger-event", "Scale up operation completed"],
    );
    assert_eq!(world.cluster(&guid).unwrap().drives.len(), 8);

    // deactivate_and_exit: every container row matching $HOSTNAME.
    let table = ok(&mut world, &new, &["cluster", "container"]);
    let mine: Vec<String> = table
        .lines()
        .filter(|l| l.contains(&hostname))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    assert_eq!(mine, ["9", "10", "11"]);
    for id in &mine {
        ok(
            &mut world,
            &new,
            &["cluster", "container", "deactivate", id],
        );
    }
    let hosts = world.hosts_list(&guid).unwrap();
    assert_eq!(hosts["HostId<9>"]["state"], "DEACTIVATING");
}

#[test]
fn unsupported_and_failing_commands_exit_non_zero() {
    let mut world = World::new(SimConfig::default(), SimClock::manual());
    let out = weka(&mut world, "10.0.0.1", &["smb", "cluster", "destroy"]);
    assert_eq!(out.exit_code, 2);
    assert!(
        out.stderr
            .contains("unsupported weka command: weka smb cluster destroy")
    );
    let out = weka(&mut world, "10.0.0.1", &["status", "-J"]);
    assert_eq!(out.exit_code, 1, "no cluster yet");
    let out = weka(
        &mut world,
        "10.0.0.1",
        &[
            "cluster",
            "create",
            "a-drives0",
            "--host-ips",
            "10.0.0.1:14000",
        ],
    );
    assert_eq!(out.exit_code, 1, "no local container yet: {}", out.stderr);
}

#[test]
fn binary_serves_with_a_port_file_and_the_cli_shim_talks_to_it() {
    use std::process::{Command, Stdio};
    let exe = env!("CARGO_BIN_EXE_weka-sim");
    let dir = std::env::temp_dir().join(format!("weka-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port_file = dir.join("port");
    let mut child = Command::new(exe)
        .args(["serve", "--port", "0", "--time-factor", "0", "--port-file"])
        .arg(&port_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(&port_file) {
            break p.trim().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "no port file");
        std::thread::yield_now();
    };
    let url = format!("http://127.0.0.1:{port}");
    let shim = dir.join("weka");
    let status = Command::new(exe).arg("shim").arg(&shim).status().unwrap();
    assert!(status.success());
    let run = |ip: &str, args: &[&str]| {
        Command::new(&shim)
            .args(args)
            .env("WEKA_SIM_URL", &url)
            .env("WEKA_SIM_IP", ip)
            .env("WEKA_SIM_INSTANCE_ID", "i-0abc")
            .output()
            .unwrap()
    };
    let ip = "10.0.2.5";
    for (name, port) in [("drives0", "14000"), ("compute0", "15000")] {
        let out = run(
            ip,
            &[
                "local",
                "setup",
                "container",
                "--name",
                name,
                "--base-port",
                port,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(
        ip,
        &[
            "local",
            "exec",
            "--container",
            "drives0",
            "/weka/tools/weka_sign_drive",
            "/dev/nvme1n1",
        ],
    );
    assert!(out.status.success());
    let out = run(
        ip,
        &[
            "cluster",
            "create",
            "i-0abc-drives0",
            "i-0abc-compute0",
            "--host-ips",
            "10.0.2.5:14000,10.0.2.5:15000",
            "--admin-password",
            "pw",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A password left out of argv is read from stdin (the CLI's prompt without a terminal).
    let login = |password: &str| {
        let mut child = Command::new(&shim)
            .args(["user", "login", "admin"])
            .env("WEKA_SIM_URL", &url)
            .env("WEKA_SIM_IP", ip)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait().unwrap().success()
    };
    assert!(login("pw"));
    assert!(!login("wrong"));
    let out = run(ip, &["cluster", "drive", "scan", "0"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 drives added"));
    let out = run(ip, &["status", "-J"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["drives"]["total"], 1);
    let out = run(ip, &["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A running cluster of 6 backends plus `gateways` frontend-only machines joined as the gateway
/// scripts join them, with `.config_fs` and `default`; returns the gateways' container ids.
fn cluster_with_gateways(gateways: usize) -> (World, String, Vec<String>) {
    let (mut world, guid) = common::running_cluster(6);
    ok(
        &mut world,
        &common::ip(0),
        &["fs", "create", ".config_fs", "default", "22GB"],
    );
    ok(
        &mut world,
        &common::ip(0),
        &["fs", "create", "default", "default", "1TB"],
    );
    let mut ids = Vec::new();
    for g in 0..gateways {
        let gw = common::ip(100 + g);
        ok(&mut world, &gw, &["local", "rm", "--all", "-f"]);
        let out = ok(
            &mut world,
            &gw,
            &[
                "local",
                "setup",
                "container",
                "--name",
                "frontend0",
                "--base-port",
                "14000",
                "--cores",
                "1",
                "--allow-protocols",
                "true",
                "--join-ips",
                &common::ip(0),
            ],
        );
        let id = out
            .trim()
            .rsplit("HostId<")
            .next()
            .and_then(|r| r.strip_suffix('>'))
            .unwrap()
            .to_owned();
        ids.push(id);
    }
    (world, guid, ids)
}

fn line(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn fails(world: &mut World, ip: &str, line: &[&str], needle: &str) {
    let out = weka(world, ip, line);
    assert_eq!(
        out.exit_code, 1,
        "weka {line:?} should fail: {}",
        out.stdout
    );
    assert!(out.stderr.contains(needle), "weka {line:?}: {}", out.stderr);
}

#[test]
fn smb_cluster_is_created_once_on_frontend_containers() {
    let (mut world, guid, ids) = cluster_with_gateways(4);
    let gw = common::ip(100);
    let three = ids[..3].join(",");
    let create = |ids: &str, fs: &str| -> Vec<String> {
        ["smb", "cluster", "create", "Weka-SMB", "weka.local", fs]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(["--container-ids".to_owned(), ids.to_owned()])
            .collect()
    };
    fails(
        &mut world,
        &gw,
        &["smb", "cluster", "status", "-J"],
        "SMB cluster is not configured",
    );
    fails(
        &mut world,
        &gw,
        &["smb", "cluster", "wait"],
        "not configured",
    );
    fails(
        &mut world,
        &gw,
        &line(&create(&three, ".missing_fs")),
        "filesystem \".missing_fs\" does not exist",
    );
    fails(
        &mut world,
        &gw,
        &line(&create(&ids[..2].join(","), ".config_fs")),
        "3 to 8 containers",
    );
    fails(
        &mut world,
        &gw,
        &line(&create(&format!("{three},999"), ".config_fs")),
        "no host HostId<999>",
    );
    // HostId<0> is a backend's drives0 container.
    fails(
        &mut world,
        &gw,
        &line(&create(&format!("0,{}", ids[..2].join(",")), ".config_fs")),
        "not a frontend container",
    );
    fails(
        &mut world,
        &gw,
        &[
            "smb",
            "cluster",
            "create",
            "Weka-SMB",
            "",
            ".config_fs",
            "--container-ids",
            &three,
        ],
        "SMB domain is required",
    );
    fails(
        &mut world,
        &gw,
        &[
            "smb",
            "cluster",
            "create",
            "a-name-longer-than-15",
            "weka.local",
            ".config_fs",
            "--container-ids",
            &three,
        ],
        "not a NetBIOS name",
    );
    ok(&mut world, &gw, &line(&create(&three, ".config_fs")));
    ok(&mut world, &gw, &["smb", "cluster", "wait"]);
    fails(
        &mut world,
        &gw,
        &line(&create(&three, ".config_fs")),
        "SMB cluster already exists",
    );
    let status: Value =
        serde_json::from_str(&ok(&mut world, &gw, &["smb", "cluster", "status", "-J"])).unwrap();
    let members: Vec<String> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["status"], "Ready");
            m["container_id"].to_string()
        })
        .collect();
    assert_eq!(members, ids[..3]);
    fails(
        &mut world,
        &gw,
        &[
            "smb",
            "cluster",
            "containers",
            "add",
            "--container-ids",
            &ids[0],
        ],
        "already in the SMB cluster",
    );
    ok(
        &mut world,
        &gw,
        &[
            "smb",
            "cluster",
            "containers",
            "add",
            "--container-ids",
            &ids[3],
        ],
    );
    let smb = world.cluster(&guid).unwrap().smb.clone().unwrap();
    assert_eq!(smb.container_ids.len(), 4);
    assert_eq!(
        (smb.name.as_str(), smb.domain.as_str()),
        ("Weka-SMB", "weka.local")
    );
    assert_eq!(smb.creates, 1);
    let text = ok(&mut world, &gw, &["smb", "cluster", "status"]);
    assert_eq!(text.matches("Ready").count(), 4, "{text}");
}

#[test]
fn s3_cluster_is_created_once_with_its_port() {
    let (mut world, guid, ids) = cluster_with_gateways(2);
    let gw = common::ip(101);
    let create = |default_fs: &'static str, config_fs: &'static str, id: &str| -> Vec<String> {
        [
            "s3",
            "cluster",
            "create",
            default_fs,
            config_fs,
            "--container",
            id,
            "--port",
            "9000",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    fails(
        &mut world,
        &gw,
        &["s3", "cluster", "status"],
        "S3 cluster is not configured",
    );
    fails(
        &mut world,
        &gw,
        &line(&create("default", ".nope", &ids[0])),
        "filesystem \".nope\" does not exist",
    );
    fails(
        &mut world,
        &gw,
        &line(&create("nodefault", ".config_fs", &ids[0])),
        "filesystem \"nodefault\" does not exist",
    );
    fails(
        &mut world,
        &gw,
        &line(&create("default", ".config_fs", "4242")),
        "no host HostId<4242>",
    );
    ok(
        &mut world,
        &gw,
        &line(&create("default", ".config_fs", &ids[0])),
    );
    fails(
        &mut world,
        &gw,
        &line(&create("default", ".config_fs", &ids[1])),
        "S3 cluster already exists",
    );
    ok(
        &mut world,
        &gw,
        &["s3", "cluster", "containers", "add", &ids[1]],
    );
    fails(
        &mut world,
        &gw,
        &["s3", "cluster", "containers", "add", &ids[1]],
        "already in the S3 cluster",
    );
    let s3 = world.cluster(&guid).unwrap().s3.clone().unwrap();
    assert_eq!(s3.port, 9000);
    assert_eq!(s3.config_fs, ".config_fs");
    let ids_now: Vec<String> = s3.container_ids.iter().map(i64::to_string).collect();
    assert_eq!(ids_now, ids);
    let list: Value = serde_json::from_str(&ok(
        &mut world,
        &gw,
        &["s3", "cluster", "containers", "list", "-J"],
    ))
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
}
