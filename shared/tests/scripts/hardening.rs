//! Issue 14 item 6 and review M7/M8/L2: no secret on a command line or in a child's environment,
//! private temp dirs, a verified join installer, failed-join cleanup by the host's own container
//! ids, and the instance identity on every Lambda payload.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use crate::sandbox::{CREDS, CURL_INSTALL, backend_sandbox, helper_script, weka_handler_backend};
use weka_shared::domain::scripts::*;

/// `weka` commands that take a password keep what they read on stdin in `weka.stdin`.
const WEKA_RECORD_STDIN: &str = "if [[ \"$1\" == user ]]; then cat >>\"$SANDBOX/weka.stdin\"; echo >>\"$SANDBOX/weka.stdin\"; fi\n";

fn with_stdin_recording(handler: &str) -> String {
    handler.replacen("\n", &format!("\n{WEKA_RECORD_STDIN}"), 1)
}

fn clusterization_sandbox() -> Sandbox {
    let sb = Sandbox::new("secrets-clusterize");
    sb.lambda_result("weka-fetch", CREDS);
    let mut table = String::new();
    for i in 0..8 {
        table.push_str(&format!(
            "HostId<{}> ip drives0 UP\\nHostId<{}> ip compute0 UP\\n",
            3 * i,
            3 * i + 1
        ));
    }
    sb.handler(
        "weka",
        &with_stdin_recording(&format!(
            "#!/bin/bash\ncase \"$*\" in\n\"cluster container\") [[ -e \"$SANDBOX/created\" ]] && printf '{table}' ;;\n\"cluster create\"*) touch \"$SANDBOX/created\" ;;\n\
             \"status -J\") echo '{{\"status\":\"OK\",\"capacity\":{{\"unprovisioned_bytes\":1000}}}}' ;;\nesac\nexit 0\n"
        )),
    );
    sb
}

fn join_weka_handler(scan: &str) -> String {
    weka_handler_backend("'drives0 Running' 'compute0 Running' 'frontend0 Running'").replace(
        "esac\n",
        &format!(
            "\"debug manhole -s 0 operational_status\") echo '{{\"is_ready\": true}}' ;;\n\
             \"local status -J\") echo '{{\"drives0\":{{}},\"compute0\":{{}},\"frontend0\":{{}}}}' ;;\n\
             \"local run --container drives0 manhole getServerInfo\") echo 'hostIdValue: 6' ;;\n\
             \"local run --container compute0 manhole getServerInfo\") echo 'hostIdValue: 7' ;;\n\
             \"local run --container frontend0 manhole getServerInfo\") echo 'hostIdValue: 8' ;;\n\
             \"cluster drive scan 7\") {scan} ;;\n\
             \"cluster container\") echo \"HostId<6> $HOSTNAME drives0 UP\"; echo \"HostId<7> $HOSTNAME compute0 UP\"; \
             echo \"HostId<8> $HOSTNAME frontend0 UP\"; echo \"HostId<9> ${{HOSTNAME}}2 drives0 UP\"; \
             echo 'HostId<1> other-host drives0 UP' ;;\n\
             esac\n"
        ),
    )
}

const CURL_JOIN: &str = "if [[ \"$args\" == *client_query_backend* ]]; then echo '{\"result\":{\"software_release\":\"4.4.2\"}}'; fi\nexit 0\n";

fn join_sandbox(name: &str, scan: &str) -> Sandbox {
    let sb = backend_sandbox(name);
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler("curl", &CURL_INSTALL.replace("exit 0\n", CURL_JOIN));
    sb.handler("weka", &with_stdin_recording(&join_weka_handler(scan)));
    sb
}

/// A gateway host: clusterized backends, a READY frontend0, a REST API that logs in and lists
/// this host's container.
fn gateway_sandbox(name: &str) -> Sandbox {
    let sb = backend_sandbox(name);
    sb.lambda_result("weka-fetch", CREDS);
    sb.lambda_result("weka-status", r#"{"clusterized":true}"#);
    sb.lambda_result("weka-clusterize", r#""echo gateway-clusterize-ran""#);
    sb.handler(
        "curl",
        &CURL_INSTALL.replace(
            "exit 0\n",
            "case \"$args\" in\n\
             */login) echo '{\"data\":{\"access_token\":\"rest-token\"}}' ;;\n\
             */containers) echo \"{\\\"data\\\":[{\\\"hostname\\\":\\\"$HOSTNAME\\\",\\\"container_name\\\":\\\"frontend0\\\",\\\"uid\\\":\\\"uid-1\\\"}]}\" ;;\n\
             */interfacegroups) echo '{\"data\":[{\"name\":\"weka-ig\",\"uid\":\"ig-1\",\"status\":\"OK\"}]}' ;;\n\
             esac\nexit 0\n",
        ),
    );
    sb.handler(
        "weka",
        &with_stdin_recording(
            "#!/bin/bash\ncase \"$*\" in\n\
             \"local status -J\") echo '{\"frontend0\":{\"internalStatus\":{\"state\":\"READY\",\"display_status\":\"READY\"}}}' ;;\n\
             \"status -J\") echo '{\"status\":\"OK\"}' ;;\n\
             \"fs -J\") echo '[{\"name\":\".config_fs\"}]' ;;\n\
             esac\nexit 0\n",
        ),
    );
    sb.handler(
        "ip",
        "#!/bin/bash\ncase \"$*\" in\n*addr*) echo '2: eth1 inet 10.0.2.4/24 brd 10.0.2.255' ;;\n\
         *route*) echo 'default via 10.0.2.1 dev eth1' ;;\nesac\n",
    );
    sb
}

fn assert_no_password_leaks(kind: &str, sb: &Sandbox) {
    for secret in [ADMIN_PASSWORD, DEPLOY_PASSWORD] {
        for call in sb.calls() {
            assert!(!call.contains(secret), "{kind}: a password on argv: {call}");
        }
        assert!(
            !sb.child_environments().contains(secret),
            "{kind}: a password in a child process's environment"
        );
    }
}

fn weka_stdin(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.dir.join("weka.stdin")).unwrap_or_default()
}

/// Review M7: the passwords reach the weka CLI on stdin (its password prompt) and the REST API
/// in a request body on stdin; never in argv (`ps`, `/proc/*/cmdline`, audit logs) and never in
/// an exported variable that every child (install.sh, the post-cluster script) inherits.
#[test]
fn no_password_on_a_command_line_or_in_a_child_environment() {
    // Clusterization: create, admin login, admin password, deployment user.
    let sb = clusterization_sandbox();
    sb.passthrough("jq");
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert!(out.status.success(), "{}", describe(&out));
    assert_no_password_leaks("clusterization", &sb);
    let stdin = weka_stdin(&sb);
    assert!(
        stdin.contains(ADMIN_PASSWORD) && stdin.contains(DEPLOY_PASSWORD),
        "the CLI got the passwords on stdin: {stdin:?}"
    );
    assert!(
        sb.calls_of("weka user add weka-deployment clusteradmin")
            .len()
            == 1
    );
    assert!(sb.calls_of("weka cluster create").len() == 1);

    // Join: the CLI logs in as the deployment user.
    let sb = join_sandbox("secrets-join", "exit 0");
    sb.passthrough("jq");
    let out = sb.run(&render_join(&join_params()));
    assert!(out.status.success(), "{}", describe(&out));
    assert_no_password_leaks("join", &sb);
    assert!(!sb.calls_of("weka user login weka-deployment").is_empty());
    assert!(weka_stdin(&sb).contains(DEPLOY_PASSWORD));

    // Protocol gateways: CLI login and the REST API login.
    for (kind, follow_up) in [
        ("gateway_smb", GatewayFollowUp::Clusterize),
        (
            "gateway_nfs_join",
            GatewayFollowUp::NfsJoin {
                interface_group: "weka-ig".into(),
            },
        ),
    ] {
        let sb = gateway_sandbox(kind);
        sb.passthrough("jq");
        let protocol = if kind == "gateway_smb" {
            Protocol::Smb
        } else {
            Protocol::Nfs
        };
        let out = sb.run(&render_protocol_gateway(&gateway_params(
            protocol, follow_up,
        )));
        assert!(out.status.success(), "{kind}: {}", describe(&out));
        assert_no_password_leaks(kind, &sb);
        assert!(!sb.calls_of("weka user login weka-deployment").is_empty());
        let curl_stdin = std::fs::read_to_string(sb.dir.join("curl.stdin")).unwrap();
        assert!(
            curl_stdin.contains(&format!(r#""password":"{DEPLOY_PASSWORD}""#)),
            "{kind}: REST login body on stdin: {curl_stdin:?}"
        );
    }
}

/// Old fixed names in the shared temp directory (review §7, L2).
const OLD_FIXED_TMP_NAMES: &[&str] = &[
    "clusterize.sh",
    "weka_clusterization.log",
    "weka_post_cluster_setup_script.sh",
    "weka_clusterize_polls_left",
    "weka-install",
];

/// Review L2: nothing a script runs or writes sits at a fixed name in a shared temp directory a
/// local user could pre-create or symlink; only the completion markers users check stay in /tmp.
#[test]
fn no_script_uses_a_fixed_path_in_a_shared_temp_dir() {
    let fixed = regex_lite_tmp_paths();
    for (kind, script) in all_scripts() {
        for line in script.lines().filter(|l| !l.trim_start().starts_with('#')) {
            for hit in fixed(line) {
                assert!(
                    hit.starts_with("weka_") && hit.ends_with("_completion_validation"),
                    "{kind}: fixed temp path {hit:?} in: {line}"
                );
            }
            assert!(
                !line.contains("touch "),
                "{kind}: a marker made by following whatever is there: {line}"
            );
        }
    }
}

/// Names written after `/tmp/` or `$WEKA_SCRIPT_ROOT/tmp/` in a line (the word up to a quote,
/// space or slash).
fn regex_lite_tmp_paths() -> impl Fn(&str) -> Vec<String> {
    |line: &str| {
        let mut hits = Vec::new();
        for prefix in ["$WEKA_SCRIPT_ROOT/tmp/", "\"/tmp/", " /tmp/", "=/tmp/"] {
            let mut rest = line;
            while let Some(i) = rest.find(prefix) {
                let after = &rest[i + prefix.len()..];
                let end = after.find(['"', ' ', '/', '\'']).unwrap_or(after.len());
                hits.push(after[..end].to_owned());
                rest = &after[end..];
            }
        }
        hits
    }
}

/// Runs the deploy script whose clusterize answer is a full clusterization (with a post-cluster
/// script), with every old fixed name pre-created as a symlink to a victim file: nothing is
/// written through them, the per-run directories are gone afterwards, and the marker is a fresh
/// root-owned regular file that replaced the planted symlink.
#[test]
fn scripts_write_through_no_planted_symlink_and_leave_only_markers() {
    let sb = backend_sandbox("private-tmp");
    sb.handler(
        "weka",
        &weka_handler_backend("'drives0 Running' 'compute0 Running' 'frontend0 Running'").replace(
            "esac\n",
            "\"cluster container\") for i in 0 1 2 3 4 5 6 7; do echo \"HostId<$i> ip drives0 UP\"; done ;;\n\
             \"status -J\") echo '{\"status\":\"OK\",\"capacity\":{\"unprovisioned_bytes\":1000}}' ;;\n\
             esac\n",
        ),
    );
    sb.lambda_result("weka-fetch", CREDS);
    let clusterization = render_clusterization(&clusterization_params()).unwrap();
    sb.lambda_result(
        "weka-clusterize",
        &serde_json::to_string(&clusterization).unwrap(),
    );
    let victim = sb.dir.join("victim");
    std::fs::write(&victim, "untouched\n").unwrap();
    let tmp = sb.root().join("tmp");
    for name in OLD_FIXED_TMP_NAMES
        .iter()
        .chain(&["weka_clusterization_completion_validation"])
    {
        std::os::unix::fs::symlink(&victim, tmp.join(name)).unwrap();
    }
    let out = sb.run(&render_backend_deploy(&deploy_params()));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(
        sb.reports("progress")
            .contains(&"Clusterization completed successfully".to_owned()),
        "{}",
        describe(&out)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched\n");
    let marker = tmp.join("weka_clusterization_completion_validation");
    let meta = std::fs::symlink_metadata(&marker).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the marker replaced the planted symlink"
    );
    // Only the planted links and the marker are left in the shared dir; the per-run dirs
    // under TMPDIR are removed on exit.
    let mut left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    let mut want: Vec<String> = OLD_FIXED_TMP_NAMES
        .iter()
        .map(|s| (*s).to_owned())
        .chain(["weka_clusterization_completion_validation".to_owned()])
        .collect();
    want.sort();
    assert_eq!(left, want);
    let runs: Vec<_> = std::fs::read_dir(sb.dir.join("tmp")).unwrap().collect();
    assert!(runs.is_empty(), "per-run dirs left behind: {runs:?}");
}

/// Review M8: the join installs WEKA from the deployment's own verified source (get.weka.io over
/// verified TLS with the token on stdin, as the backend deploy does), never with `--insecure`
/// from whatever answers on a backend IP.
#[test]
fn join_installs_from_the_verified_source_never_insecure() {
    let sb = join_sandbox("join-install", "exit 0");
    let out = sb.run(&render_join(&join_params()));
    assert!(out.status.success(), "{}", describe(&out));
    let downloads: Vec<String> = sb
        .calls_of("curl")
        .into_iter()
        .filter(|c| c.contains("--output") && !c.contains("--output /dev/null"))
        .collect();
    assert!(!downloads.is_empty());
    for d in &downloads {
        assert!(!d.contains("--insecure"), "insecure download: {d}");
        assert!(!d.contains(":14000/dist"), "installer from a backend: {d}");
    }
    assert!(
        downloads
            .iter()
            .any(|d| d.contains("https://get.weka.io/dist/v1/install/4.4.2/4.4.2")),
        "{downloads:?}"
    );
    assert!(
        std::fs::read_to_string(sb.dir.join("curl.stdin"))
            .unwrap()
            .contains(TOKEN_VALUE)
    );
    assert!(
        std::fs::read_to_string(sb.dir.join("installer.log"))
            .unwrap()
            .contains("installer ran")
    );
    // The cluster's running version still comes from the backend, through WEKA itself.
    assert_eq!(
        sb.calls_of("weka version get --from 10.0.0.1:14000 4.4.2 --set-current")
            .len(),
        1
    );
    for (kind, script) in all_scripts() {
        for line in script.lines().filter(|l| l.contains("--insecure")) {
            assert!(
                !line.contains("--output") && !line.contains("/dist/"),
                "{kind}: an insecure download: {line}"
            );
        }
    }
}

/// Review M8: a failed join deactivates exactly this host's containers, by the ids they report,
/// not every `weka cluster container` line that contains this hostname as a substring
/// (`ip-10-0-1-11` is inside `ip-10-0-1-112`).
#[test]
fn failed_join_deactivates_only_its_own_container_ids() {
    let sb = join_sandbox("join-cleanup", "exit 1");
    let out = sb.run(&render_join(&join_params()));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let mut deactivated = sb.calls_of("weka cluster container deactivate");
    deactivated.sort();
    assert_eq!(
        deactivated,
        [
            "weka cluster container deactivate 6",
            "weka cluster container deactivate 7",
            "weka cluster container deactivate 8"
        ]
    );
    assert_eq!(sb.calls_of("weka cluster drive scan 7").len(), 60);
    let errors = sb.reports("error");
    assert!(
        errors
            .iter()
            .any(|e| e == "drive scan of host 7 failed; deactivating this host's containers"),
        "{errors:?}"
    );
    let setups = sb.calls_of("weka local setup container");
    assert!(
        setups
            .iter()
            .all(|s| s.contains("--join-ips 10.0.0.1,10.0.0.2 --management-ips 10.0.1.11"))
    );
    assert!(sb.calls_of("weka events trigger-event").is_empty());
}

const DOC: &str = "{\n  \"accountId\" : \"123456789012\",\n  \"instanceId\" : \"i-0abc\",\n  \"region\" : \"eu-west-1\"\n}";
const SIG: &str = "c2lnbmF0dXJl\nb2YgdGhlIGRvYw==";

/// An IMDS that insists on IMDSv2 (the token on a header, given on argv or in a `--config` on
/// stdin) and counts identity reads; `answer` false makes it 404 the identity paths.
fn imds_curl(answer: bool) -> String {
    format!(
        r#"#!/bin/bash
args="$*" out="" url=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	-o | --output) out=$2; shift 2 ;;
	http://* | https://*) url=$1; shift ;;
	*) shift ;;
	esac
done
stdin=""
if [[ ! -t 0 ]]; then stdin="$(cat)"; fi
emit() {{ if [[ -n "$out" ]]; then cat >"$out"; else cat; fi; }}
case "$url" in
http://169.254.169.254/latest/api/token) printf 'TOKEN-42' | emit ;;
http://169.254.169.254/latest/dynamic/instance-identity/*)
	[[ "$args$stdin" == *"X-aws-ec2-metadata-token: TOKEN-42"* ]] || exit 22
	echo "$url" >>"$SANDBOX/identity.reads"
	[[ {answer} == true ]] || exit 22
	case "$url" in
	*/document) printf '%s' {doc} | emit ;;
	*/signature) printf '%s' {sig} | emit ;;
	esac
	;;
esac
exit 0
"#,
        doc = shell_quote(DOC),
        sig = shell_quote(SIG),
    )
}

/// Issue 14 item 2: every payload a script sends to a Lambda carries the instance's identity
/// document and signature exactly as IMDS served them, read once per run over IMDSv2 (also when
/// the calls are made from subshells).
#[test]
fn every_lambda_payload_carries_the_instance_identity() {
    let sb = Sandbox::new("identity");
    sb.handler("curl", &imds_curl(true));
    sb.lambda_result("weka-fetch", r#"{"backend_ips":["10.0.0.1"]}"#);
    let out = sb.run(&helper_script(
        "report_progress one\ncreds=\"$(fetch '{\"fetch_weka_credentials\":false}')\"\n\
         clusterize '{\"name\":\"i-0abc\"}' >/dev/null\nreport_debug \"$creds\"",
    ));
    assert!(out.status.success(), "{}", describe(&out));
    let calls = sb.lambda_calls();
    assert_eq!(calls.len(), 4, "{calls:?}");
    for (name, payload) in &calls {
        assert_eq!(payload["identity"]["document"], DOC, "{name}: {payload}");
        assert_eq!(payload["identity"]["signature"], SIG, "{name}: {payload}");
    }
    assert_eq!(calls[2].1["name"], "i-0abc", "the payload itself is kept");
    let reads = std::fs::read_to_string(sb.dir.join("identity.reads")).unwrap();
    assert_eq!(
        reads.lines().count(),
        2,
        "document and signature once: {reads}"
    );
}

/// Without an identity from IMDS the payloads go out as before, with one warning.
#[test]
fn without_an_identity_payloads_go_unsigned_with_a_warning() {
    let sb = Sandbox::new("identity-missing");
    sb.handler("curl", &imds_curl(false));
    let out = sb.run(&helper_script(
        "report_progress one\nclusterize '{\"name\":\"i-0abc\"}' >/dev/null",
    ));
    assert!(out.status.success(), "{}", describe(&out));
    let calls = sb.lambda_calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|(_, p)| p.get("identity").is_none()));
    assert_eq!(calls[1].1, serde_json::json!({"name": "i-0abc"}));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("no instance identity").count(),
        1,
        "{stderr}"
    );
}

/// Issue 15 (local-cloud scenario 7): the join's last report lost after all its retries is not
/// an error: no error report (which abandons the launch of a member WEKA runs), exit 0; the
/// control plane continues the launch from WEKA's view of the joined host.
#[test]
fn a_lost_join_completion_report_is_not_an_error() {
    let sb = join_sandbox("join-report-lost", "exit 0");
    sb.handler(
        "aws",
        &DEFAULT_AWS_HANDLER.replace(
            "\tout=\"$1\"\n",
            "\tout=\"$1\"\n\
             \tif [[ \"$payload\" == *'Join completed successfully'* ]]; then\n\
             \t\tprintf '%s %s\\n' \"$name\" \"$payload\" >>\"$SANDBOX/lambda.log\"\n\
             \t\tprintf '%s' '{\"errorMessage\":\"throttled\",\"errorType\":\"Weka.Transient\"}' >\"$out\"\n\
             \t\techo '{\"StatusCode\": 200, \"FunctionError\": \"Unhandled\"}'\n\
             \t\texit 0\n\
             \tfi\n",
        ),
    );
    let out = sb.run(&render_join(&join_params()));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        sb.reports("progress")
            .iter()
            .filter(|m| *m == "Join completed successfully")
            .count(),
        5,
        "tried as every report is"
    );
    assert!(sb.reports("error").is_empty(), "{:?}", sb.reports("error"));
    assert!(sb.calls_of("weka cluster container deactivate").is_empty());
}
