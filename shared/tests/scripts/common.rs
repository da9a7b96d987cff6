//! Shared fixtures and the shim sandbox for the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use weka_shared::domain::geometry::{GeometryInput, validate};
use weka_shared::domain::scripts::*;

pub const TOKEN_VALUE: &str = "tok-SECRET-4f1c9e";
pub const ADMIN_PASSWORD: &str = "Adm1nSECRETpw";
pub const DEPLOY_PASSWORD: &str = "Dep1oySECRETpw";

pub fn lambdas() -> LambdaConfig {
    LambdaConfig {
        region: "eu-west-1".into(),
        report: Some("weka-report".into()),
        clusterize: Some("weka-clusterize".into()),
        clusterize_finalization: Some("weka-clusterize-finalization".into()),
        fetch: Some("weka-fetch".into()),
        status: Some("weka-status".into()),
        join_nfs_finalization: Some("weka-join-nfs-finalization".into()),
    }
}

pub fn install() -> InstallParams {
    InstallParams {
        instance_id: "i-0abc".into(),
        weka_volume_id: "vol-0123456789".into(),
        source: InstallSource::WekaVersion {
            version: "4.4.2".into(),
            token_secret_id: "arn:aws:secretsmanager:eu-west-1:1:secret:weka-token".into(),
        },
        proxy_url: None,
        cgroups_mode: CgroupsMode::ForceV2,
        nics_num: 4,
        install_dpdk: true,
    }
}

pub fn layout() -> BackendLayout {
    BackendLayout {
        drive_cores: 1,
        compute_cores: 1,
        frontend_cores: 1,
        compute_memory: "32.9GB".into(),
    }
}

pub fn deploy_params() -> BackendDeployParams {
    BackendDeployParams {
        lambdas: lambdas(),
        install: install(),
        layout: layout(),
    }
}

pub fn join_params() -> JoinParams {
    JoinParams {
        lambdas: lambdas(),
        install: install(),
        layout: layout(),
        backend_ips: vec![Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)],
    }
}

pub fn hosts(n: u8) -> Vec<ClusterHost> {
    (1..=n)
        .map(|i| ClusterHost {
            instance_id: format!("i-{i:02}"),
            private_ip: Ipv4Addr::new(10, 0, 1, 10 + i),
        })
        .collect()
}

pub fn clusterization_params() -> ClusterizationParams {
    let geometry = validate(&GeometryInput {
        cluster_size: 8,
        protection_level: 4,
        stripe_width: None,
        hot_spare: 1,
        set_default_fs: true,
        obs_tiering: true,
    })
    .unwrap();
    ClusterizationParams {
        lambdas: lambdas(),
        cluster_name: "poc".into(),
        hosts: hosts(8),
        geometry,
        add_frontend: true,
        install_dpdk: true,
        proxy_url: Some("http://proxy:3128".into()),
        weka_home_url: None,
        tiering: Tiering {
            target_ssd_retention_secs: 86400,
            start_demote_secs: 10,
        },
        obs: Some(ObsTiering {
            bucket: "poc-obs".into(),
            ssd_percent: 20,
        }),
        post_cluster_script: Some("echo 'post cluster'\necho \"$HOSTNAME\"".into()),
    }
}

pub fn gateway_params(protocol: Protocol, follow_up: GatewayFollowUp) -> GatewayParams {
    GatewayParams {
        lambdas: lambdas(),
        protocol,
        install: install(),
        frontend_cores: 1,
        alb_ip: Some(Ipv4Addr::new(10, 0, 0, 100)),
        follow_up,
    }
}

/// Every script kind with representative parameters, keyed by golden-file name.
pub fn all_scripts() -> Vec<(&'static str, String)> {
    let mut tar = deploy_params();
    tar.install.source = InstallSource::Tar("s3://bucket/weka-4.4.2.tar".into());
    tar.install.proxy_url = Some("http://proxy:3128".into());
    tar.install.install_dpdk = false;
    tar.layout.frontend_cores = 0;
    vec![
        (
            "lambda_helper",
            render_lambda_helper(&lambdas(), Protocol::Backend),
        ),
        ("backend_deploy", render_backend_deploy(&deploy_params())),
        ("backend_deploy_tar_udp", render_backend_deploy(&tar)),
        ("join", render_join(&join_params())),
        (
            "clusterization",
            render_clusterization(&clusterization_params()).unwrap(),
        ),
        (
            "registered",
            render_registered(&RegisteredParams {
                lambdas: lambdas(),
                protocol: Protocol::Backend,
                instance_id: "i-03".into(),
                registered: 3,
                desired: 8,
                wait: Some(ClusterizeWait {
                    poll_secs: 60,
                    polls: 90,
                }),
            }),
        ),
        (
            "not_needed",
            render_not_needed(&NotNeededParams {
                lambdas: lambdas(),
                protocol: Protocol::Backend,
                instance_id: "i-09".into(),
                reason: "the registration set of 8 is already complete".into(),
            }),
        ),
        (
            "gateway_smb",
            render_protocol_gateway(&gateway_params(Protocol::Smb, GatewayFollowUp::Clusterize)),
        ),
        (
            "gateway_nfs_join",
            render_protocol_gateway(&gateway_params(
                Protocol::Nfs,
                GatewayFollowUp::NfsJoin {
                    interface_group: "weka-ig".into(),
                },
            )),
        ),
        (
            "nfs_setup",
            render_nfs_setup(&NfsSetupParams {
                lambdas: lambdas(),
                interface_group: "weka-ig".into(),
                gateways: vec![
                    NfsGatewayPort {
                        container_uid: "uid-1".into(),
                        nic_name: "eth1".into(),
                    },
                    NfsGatewayPort {
                        container_uid: "uid-2".into(),
                        nic_name: "eth1".into(),
                    },
                ],
                secondary_ips: vec![Ipv4Addr::new(10, 0, 2, 5), Ipv4Addr::new(10, 0, 2, 6)],
            }),
        ),
        (
            "smb_setup",
            render_protocol_setup(&ProtocolSetupParams {
                lambdas: lambdas(),
                protocol: Protocol::Smbw,
                instance_id: "i-0b".into(),
                cluster: ProtocolCluster::Smb {
                    name: "Weka-SMB".into(),
                    domain: "corp.example.com".into(),
                },
                gateways: ["i-0c", "i-0a", "i-0b"]
                    .iter()
                    .zip(1u8..)
                    .map(|(id, n)| ProtocolGateway {
                        instance_id: (*id).into(),
                        private_ip: Ipv4Addr::new(10, 0, 3, n),
                    })
                    .collect(),
            })
            .unwrap(),
        ),
        (
            "s3_setup",
            render_protocol_setup(&ProtocolSetupParams {
                lambdas: lambdas(),
                protocol: Protocol::S3,
                instance_id: "i-0d".into(),
                cluster: ProtocolCluster::S3 {
                    default_fs: "default".into(),
                    port: 9000,
                },
                gateways: vec![ProtocolGateway {
                    instance_id: "i-0d".into(),
                    private_ip: Ipv4Addr::new(10, 0, 4, 1),
                }],
            })
            .unwrap(),
        ),
        (
            "data_services",
            render_data_services(&DataServicesParams {
                lambdas: lambdas(),
                install: install(),
                alb_ip: None,
            }),
        ),
    ]
}

/// Commands replaced by recording shims in the sandbox.
pub const SHIMMED: &[&str] = &[
    "weka",
    "aws",
    "curl",
    "lsblk",
    "mkfs.ext4",
    "mount",
    "lscpu",
    "hostname",
    "sleep",
    "yum",
    "wapi",
    "ip",
];

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A temp directory whose `bin/` shadows [`SHIMMED`] commands. Every shim appends
/// `<cmd> <args...>` to `calls.log`, then runs `handlers/<cmd>` (if present) with the same args.
pub struct Sandbox {
    pub dir: PathBuf,
}

pub const DEFAULT_AWS_HANDLER: &str = r#"#!/bin/bash
case "$1 $2" in
"lambda invoke")
	shift 2
	name="" payload=""
	while [[ $# -gt 1 ]]; do
		case "$1" in
		--function-name) name="$2"; shift 2 ;;
		--payload) payload="$2"; shift 2 ;;
		--region|--output|--cli-binary-format) shift 2 ;;
		*) shift ;;
		esac
	done
	out="$1"
	printf '%s %s\n' "$name" "$payload" >>"$SANDBOX/lambda.log"
	if [[ -f "$SANDBOX/lambda/$name.error" ]]; then
		cat "$SANDBOX/lambda/$name.error" >"$out"
		echo '{"StatusCode": 200, "FunctionError": "Unhandled", "ExecutedVersion": "$LATEST"}'
		exit 0
	fi
	if [[ -f "$SANDBOX/lambda/$name.json" ]]; then
		cat "$SANDBOX/lambda/$name.json" >"$out"
	else
		printf '"ok"' >"$out"
	fi
	echo '{"StatusCode": 200, "ExecutedVersion": "$LATEST"}'
	;;
"secretsmanager get-secret-value")
	echo "$SANDBOX_TOKEN"
	;;
"--version ")
	echo "aws-cli/1.18.147 Python/2.7.18"
	;;
esac
"#;

impl Sandbox {
    pub fn new(name: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("scripts-domain-{name}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["bin", "handlers", "lambda", "root/tmp", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for cmd in SHIMMED {
            write_exec(
                &dir.join("bin").join(cmd),
                &format!(
                    "#!/bin/bash\nprintf '%s\\n' \"{cmd} $*\" >>\"$SANDBOX/calls.log\"\n\
                     env >>\"$SANDBOX/env.log\"\n\
                     if [[ -x \"$SANDBOX/handlers/{cmd}\" ]]; then exec \"$SANDBOX/handlers/{cmd}\" \"$@\"; fi\n\
                     exit 0\n"
                ),
            );
        }
        let sb = Sandbox { dir };
        sb.handler("aws", DEFAULT_AWS_HANDLER);
        sb.handler(
            "hostname",
            "#!/bin/bash\nif [[ \"$1\" == -I ]]; then echo '10.0.1.11 '; else echo ip-10-0-1-11; fi\n",
        );
        sb
    }

    /// Records every call of the real `cmd` (argv in `calls.log`, environment in `env.log`) and
    /// then runs it: for commands the scripts need for real (jq) but whose argv must be checked.
    pub fn passthrough(&self, cmd: &str) {
        let real = Command::new("bash")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .unwrap();
        let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
        assert!(!real.is_empty(), "{cmd} is not installed");
        write_exec(
            &self.dir.join("bin").join(cmd),
            &format!(
                "#!/bin/bash\nprintf '%s\\n' \"{cmd} $*\" >>\"$SANDBOX/calls.log\"\n\
                 env >>\"$SANDBOX/env.log\"\nexec {real} \"$@\"\n"
            ),
        );
    }

    /// Everything the shimmed commands found in their environment (`env` output, appended).
    pub fn child_environments(&self) -> String {
        fs::read_to_string(self.dir.join("env.log")).unwrap_or_default()
    }

    pub fn handler(&self, cmd: &str, body: &str) {
        write_exec(&self.dir.join("handlers").join(cmd), body);
    }

    /// Canned result of the Lambda named `name` (raw JSON written to the invoke output file).
    pub fn lambda_result(&self, name: &str, json: &str) {
        fs::write(self.dir.join("lambda").join(format!("{name}.json")), json).unwrap();
    }

    /// Makes the Lambda named `name` fail with a FunctionError.
    pub fn lambda_error(&self, name: &str, json: &str) {
        fs::write(self.dir.join("lambda").join(format!("{name}.error")), json).unwrap();
    }

    pub fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    pub fn run(&self, script: &str) -> Output {
        let path = self.dir.join("script.sh");
        fs::write(&path, script).unwrap();
        Command::new("bash")
            .arg(&path)
            .env_clear()
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.dir.join("bin").display()),
            )
            .env("SANDBOX", &self.dir)
            .env("SANDBOX_TOKEN", TOKEN_VALUE)
            .env("TMPDIR", self.dir.join("tmp"))
            .env("WEKA_SCRIPT_ROOT", self.root())
            .env("HOME", &self.dir)
            .output()
            .unwrap()
    }

    pub fn calls(&self) -> Vec<String> {
        read_lines(&self.dir.join("calls.log"))
    }

    pub fn calls_of(&self, prefix: &str) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    /// `(lambda-name, payload)` of every Lambda invocation, in order.
    pub fn lambda_calls(&self) -> Vec<(String, serde_json::Value)> {
        read_lines(&self.dir.join("lambda.log"))
            .into_iter()
            .map(|l| {
                let (name, payload) = l.split_once(' ').unwrap();
                (name.to_owned(), serde_json::from_str(payload).unwrap())
            })
            .collect()
    }

    pub fn reports(&self, kind: &str) -> Vec<String> {
        self.lambda_calls()
            .into_iter()
            .filter(|(n, p)| n == "weka-report" && p["type"] == kind)
            .map(|(_, p)| p["message"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_SANDBOX").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

pub fn write_exec(path: &Path, body: &str) {
    fs::write(path, body).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
