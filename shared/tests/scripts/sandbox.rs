//! Runs rendered scripts under bash with recording shims for every external command.
//! Length: one scenario per script behaviour, each with its shims and assertions; split by script, each part would repeat the harness.
#![allow(clippy::unwrap_used)]

use crate::common::*;
use weka_shared::domain::geometry::{GeometryInput, validate};
use weka_shared::domain::scripts::*;

pub(crate) const CREDS: &str = r#"{"username":"weka-deployment","password":"Dep1oySECRETpw","admin_password":"Adm1nSECRETpw"}"#;

pub(crate) fn weka_handler_backend(running: &str) -> String {
    format!(
        r#"#!/bin/bash
case "$*" in
"local ps") printf '%s\n' {running} ;;
"local run --container compute0 wapi machine-query-info --info-types=DISKS -J")
	echo '{{"disks":[{{"devPath":"/dev/nvme1n1","isRotational":false,"type":"DISK","isMounted":false,"model":"Amazon EC2 NVMe Instance Storage"}},{{"devPath":"/dev/nvme0n1","isRotational":false,"type":"DISK","isMounted":true,"model":"Amazon Elastic Block Store"}},{{"devPath":"/dev/nvme2n1","isRotational":false,"type":"DISK","isMounted":false,"model":"Amazon EC2 NVMe Instance Storage"}}]}}' ;;
esac
exit 0
"#
    )
}

const LSBLK: &str = r#"#!/bin/bash
case "$*" in
*NAME,SERIAL*) echo "/dev/nvme3n1 vol0123456789" ;;
*"--output TYPE"*) printf 'disk\npart\n' ;;
esac
exit 0
"#;

const LSCPU: &str = "#!/bin/bash\nprintf '# CPU,Core,Node\\n0,0,0\\n1,1,0\\n2,2,1\\n3,3,1\\n4,0,0\\n5,1,0\\n6,2,1\\n7,3,1\\n'\n";

pub(crate) const CURL_INSTALL: &str = r#"#!/bin/bash
args="$*"
out=""
while [[ $# -gt 0 ]]; do
	if [[ "$1" == --output ]]; then out="$2"; shift; fi
	shift
done
if [[ -n "$out" && "$out" != /dev/null ]]; then
	printf 'echo "installer ran PROXY=$PROXY CGROUPS=$WEKA_CGROUPS_MODE" >>"$SANDBOX/installer.log"\n' >"$out"
fi
if [[ ! -t 0 ]]; then cat >>"$SANDBOX/curl.stdin"; fi
exit 0
"#;

pub(crate) fn backend_sandbox(name: &str) -> Sandbox {
    let sb = Sandbox::new(name);
    sb.handler("lsblk", LSBLK);
    sb.handler("lscpu", LSCPU);
    sb.handler("curl", CURL_INSTALL);
    for nic in ["eth0", "eth1", "eth2", "eth3", "lo", "docker0"] {
        std::fs::create_dir_all(sb.root().join("sys/class/net").join(nic)).unwrap();
    }
    sb
}

/// Amazon Linux 2023 names NICs by PCI slot (ens5, ens6, ...): with slots past 9 the management
/// NIC (the lowest) must stay index 0, so the order is natural, not byte order (ens10 < ens8).
#[test]
fn slot_numbered_nics_keep_the_primary_first() {
    let sb = Sandbox::new("deploy-al2023-nics");
    sb.handler("lsblk", LSBLK);
    sb.handler("lscpu", LSCPU);
    sb.handler("curl", CURL_INSTALL);
    for nic in ["ens8", "ens9", "ens10", "ens11", "lo"] {
        std::fs::create_dir_all(sb.root().join("sys/class/net").join(nic)).unwrap();
    }
    sb.handler(
        "weka",
        &weka_handler_backend("'drives0 Running' 'compute0 Running' 'frontend0 Running'"),
    );
    sb.lambda_result(
        "weka-clusterize",
        r#""echo \"clusterize script ran\" >>\"$SANDBOX/clusterize.ran\"\n""#,
    );
    let out = sb.run(&render_backend_deploy(&deploy_params()));
    assert!(out.status.success(), "{}", describe(&out));
    let setups = sb.calls_of("weka local setup container");
    assert_eq!(setups.len(), 3, "{setups:?}");
    for (setup, nic) in setups.iter().zip(["ens9", "ens10", "ens11"]) {
        assert!(
            setup.contains(&format!("--net {nic}")) && !setup.contains("ens8"),
            "{setups:?}"
        );
    }
}

#[test]
fn deploy_installs_sets_up_containers_and_runs_clusterize_result() {
    let sb = backend_sandbox("deploy");
    sb.handler(
        "weka",
        &weka_handler_backend("'drives0 Running' 'compute0 Running' 'frontend0 Running'"),
    );
    sb.lambda_result(
        "weka-clusterize",
        r#""echo \"clusterize script ran\" >>\"$SANDBOX/clusterize.ran\"\n""#,
    );
    let out = sb.run(&render_backend_deploy(&deploy_params()));
    assert!(out.status.success(), "{}", describe(&out));

    // Token read at run time, handed to curl on stdin, never in any argv.
    assert_eq!(sb.calls_of("aws secretsmanager get-secret-value").len(), 1);
    assert!(sb.calls().iter().all(|c| !c.contains(TOKEN_VALUE)));
    let stdin = std::fs::read_to_string(sb.dir.join("curl.stdin")).unwrap();
    assert!(stdin.contains(TOKEN_VALUE));
    assert!(
        std::fs::read_to_string(sb.dir.join("installer.log"))
            .unwrap()
            .contains("CGROUPS=force_v2")
    );

    assert_eq!(
        sb.calls_of("mkfs.ext4"),
        ["mkfs.ext4 -F -L wekaiosw /dev/nvme3n1"]
    );
    let setups = sb.calls_of("weka local setup container");
    assert_eq!(setups.len(), 3);
    // NUMA interleaving, core 0 skipped: 1 (node0), 2 (node1), 3 (node1 is next? no: node0 has 1 only)
    assert!(
        setups[0].contains("--name drives0")
            && setups[0].contains("--core-ids 1 ")
            && setups[0].contains("--net eth1")
    );
    assert!(
        setups[1].contains("--name compute0")
            && setups[1].contains("--core-ids 2 ")
            && setups[1].contains("--net eth2")
    );
    assert!(
        setups[2].contains("--name frontend0")
            && setups[2].contains("--core-ids 3 ")
            && setups[2].contains("--net eth3")
    );

    // Both instance-store NVMes (not the mounted EBS one) are waited for and signed.
    let signs = sb.calls_of("weka local exec --container drives0 /weka/tools/weka_sign_drive");
    assert_eq!(signs.len(), 2);
    assert!(
        sb.calls_of("lsblk /dev/nvme1n1").len() == 1
            && sb.calls_of("lsblk /dev/nvme2n1").len() == 1
    );

    let lambdas = sb.lambda_calls();
    let (name, payload) = lambdas
        .iter()
        .find(|(n, _)| n == "weka-clusterize")
        .unwrap();
    assert_eq!(name, "weka-clusterize");
    assert_eq!(payload["name"], "i-0abc");
    assert!(
        sb.dir.join("clusterize.ran").exists(),
        "clusterize result was not executed"
    );
    assert!(
        sb.reports("progress")
            .contains(&"Weka containers are ready".to_owned())
    );
}

#[test]
fn deploy_container_wait_times_out_reports_and_exits_1() {
    let sb = backend_sandbox("deploy-timeout");
    sb.handler(
        "weka",
        &weka_handler_backend("'drives0 Running' 'compute0 Stopped'"),
    );
    let out = sb.run(&render_backend_deploy(&deploy_params()));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let errors = sb.reports("error");
    assert_eq!(
        errors,
        ["timed out after 60 attempts 10s apart waiting for 3 weka containers to be running"]
    );
    assert_eq!(sb.calls_of("sleep 10").len(), 59);
    assert!(
        sb.lambda_calls()
            .iter()
            .all(|(n, _)| n != "weka-clusterize")
    );
}

#[test]
fn clusterization_pairs_hosts_adds_drives_and_finalizes_last() {
    let sb = Sandbox::new("clusterize");
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
        &format!(
            "#!/bin/bash\ncase \"$*\" in\n\"cluster container\") [[ -e \"$SANDBOX/created\" ]] && printf '{table}' ;;\n\"cluster create\"*) touch \"$SANDBOX/created\" ;;\n\
             \"status -J\") echo '{{\"status\":\"OK\",\"capacity\":{{\"unprovisioned_bytes\":1000}}}}' ;;\nesac\nexit 0\n"
        ),
    );
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert!(out.status.success(), "{}", describe(&out));

    let create = sb.calls_of("weka cluster create");
    assert_eq!(create.len(), 1);
    let mut names = Vec::new();
    let mut ips = Vec::new();
    for h in hosts(8) {
        for (c, port) in [
            ("drives0", 14000),
            ("compute0", 15000),
            ("frontend0", 16000),
        ] {
            names.push(format!("{}-{c}", h.instance_id));
            ips.push(format!("{}:{port}", h.private_ip));
        }
    }
    // The admin password is set at the CLI's prompt after the create (hardening.rs), not here.
    let want = format!(
        "weka cluster create {} --host-ips {}",
        names.join(" "),
        ips.join(",")
    );
    assert_eq!(create[0], want);

    let scans = sb.calls_of("weka cluster drive scan");
    assert_eq!(scans.len(), 8);
    assert_eq!(scans[0], "weka cluster drive scan HostId<0>");
    assert_eq!(
        sb.calls_of("weka cluster update --data-drives 3 --parity-drives 4")
            .len(),
        1
    );
    assert_eq!(
        sb.calls_of("weka cluster update --bucket-raft-size 9")
            .len(),
        1
    );
    assert_eq!(sb.calls_of("weka cluster hot-spare 1").len(), 1);
    assert_eq!(sb.calls_of("weka fs create default default 1000B").len(), 1);
    assert_eq!(
        sb.calls_of("weka fs update default --total-capacity 5000B")
            .len(),
        1
    );
    assert_eq!(
        sb.calls_of("weka user add weka-deployment clusteradmin")
            .len(),
        1
    );

    let lambdas = sb.lambda_calls();
    let (last, payload) = lambdas.last().unwrap();
    assert_eq!(last, "weka-clusterize-finalization");
    assert_eq!(payload, &serde_json::json!({}));
    assert_eq!(lambdas[0].0, "weka-report");
    assert!(
        lambdas
            .iter()
            .any(|(n, p)| n == "weka-fetch" && p["show_admin_password"] == true)
    );
}

#[test]
fn clusterization_without_drives_containers_fails_before_finalizing() {
    let sb = Sandbox::new("clusterize-nodrives");
    sb.lambda_result("weka-fetch", CREDS);
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(
        sb.reports("error"),
        ["expected 8 drives containers but weka lists 0"]
    );
    assert!(
        sb.lambda_calls()
            .iter()
            .all(|(n, _)| n != "weka-clusterize-finalization")
    );
}

/// Review H4b: a member taking over a stale claim finds the members formed into a cluster with
/// io started (the previous clusterizer's finalization was lost): it finalizes that cluster and
/// never runs `weka cluster create` on hosts already in it.
#[test]
fn a_takeover_of_a_formed_cluster_finalizes_it_without_creating_it_again() {
    let sb = Sandbox::new("clusterize-takeover");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler(
        "weka",
        "#!/bin/bash\ncase \"$*\" in\n\"status -J\") echo '{\"status\":\"OK\",\"io_status\":\"STARTED\"}' ;;\nesac\nexit 0\n",
    );
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert!(out.status.success(), "{}", describe(&out));
    assert!(sb.calls_of("weka cluster create").is_empty());
    assert!(sb.calls_of("weka cluster drive scan").is_empty());
    assert!(sb.calls_of("weka user passwd").is_empty());
    let lambdas = sb.lambda_calls();
    let (last, payload) = lambdas.last().unwrap();
    assert_eq!(last, "weka-clusterize-finalization");
    assert_eq!(payload, &serde_json::json!({}));
    assert!(
        sb.reports("progress")
            .iter()
            .any(|m| m.contains("finalizing it, not creating it again"))
    );
}

/// The same member when no cluster exists yet (the admin login is refused): it creates one.
#[test]
fn a_clusterizer_that_finds_no_cluster_creates_it() {
    let sb = Sandbox::new("clusterize-fresh");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler(
        "weka",
        "#!/bin/bash\ncase \"$*\" in\n\"user login admin\") [[ -e \"$SANDBOX/created\" ]] || exit 1 ;;\n\"cluster create\"*) touch \"$SANDBOX/created\" ;;\n\"status -J\") echo '{\"io_status\":\"STARTED\"}' ;;\nesac\nexit 0\n",
    );
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    // No drives containers in this fake: the run stops after the create, before finalizing.
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert_eq!(sb.calls_of("weka cluster create").len(), 1);
    assert!(
        sb.lambda_calls()
            .iter()
            .all(|(n, _)| n != "weka-clusterize-finalization")
    );
}

pub(crate) fn helper_script(body: &str) -> String {
    let mut lambdas = lambdas();
    lambdas.status = None;
    format!(
        "{}\n{body}\n",
        render_lambda_helper(&lambdas, Protocol::Backend)
    )
}

#[test]
fn function_error_makes_the_helper_fail_instead_of_printing_the_error() {
    let sb = Sandbox::new("function-error");
    sb.lambda_error(
        "weka-clusterize",
        r#"{"errorMessage":"touch /tmp/pwned","errorType":"Boom"}"#,
    );
    let out = sb.run(&helper_script(
        "if out=\"$(clusterize '{\"name\":\"i-1\"}')\"; then echo \"UNEXPECTED:$out\"; else echo \"rc=$? out=[$out]\"; fi",
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("rc=1 out=[]"), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("FunctionError=Unhandled"));
}

#[test]
fn cli_failure_and_unconfigured_lambda_fail_loudly() {
    let sb = Sandbox::new("cli-failure");
    sb.handler("aws", "#!/bin/bash\nexit 255\n");
    let out = sb.run(&helper_script(
        "fetch '{}' || echo \"fetch rc=$?\"\nstatus '{}' || echo \"status rc=$?\"",
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("fetch rc=1"), "{}", describe(&out));
    assert!(stdout.contains("status rc=2"), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'status' has no Lambda configured"));
}

/// A command fed a password on stdin answers with its own status: one that exits without
/// reading its stdin (nothing to prompt for) is not failed by the writer meeting a closed pipe.
/// (The clusterization's admin login failed now and then under load that way: `printf | weka`
/// under `pipefail` took printf's SIGPIPE for the login's failure.) A password longer than a
/// pipe holds makes the writer meet the closed pipe every time.
#[test]
fn a_secret_fed_command_answers_with_its_own_status_whether_or_not_it_reads_stdin() {
    let sb = Sandbox::new("secret-stdin");
    sb.handler(
        "weka",
        "#!/bin/bash\ncase \"$1 $2\" in\n\"user add\") cat >/dev/null; exit 3 ;;\nesac\nexit 0\n",
    );
    let password = "p".repeat(200_000);
    let out = sb.run(&helper_script(&format!(
        "PW={password}\n\
         if weka_secret_stdin PW user login admin; then echo 'login ok'; else echo \"login rc=$?\"; fi\n\
         if weka_secret_stdin PW user add someone; then echo 'add ok'; else echo \"add rc=$?\"; fi"
    )));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("login ok"), "{}", describe(&out));
    assert!(stdout.contains("add rc=3"), "{}", describe(&out));
    assert!(sb.calls().iter().all(|c| !c.contains(&password)));
}

#[test]
fn report_message_with_quotes_and_command_substitution_is_verbatim() {
    let sb = Sandbox::new("escaping");
    let message = r#"it's "quoted" $(touch PWNED) `touch PWNED2` \n \ end"#;
    let out = sb.run(&helper_script(&format!(
        "report_progress {}",
        shell_quote(message)
    )));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(sb.reports("progress"), [message]);
    let (_, payload) = &sb.lambda_calls()[0];
    assert_eq!(payload["protocol"], "");
    assert!(payload["hostname"].as_str().is_some_and(|h| !h.is_empty()));
    assert!(!sb.dir.join("PWNED").exists() && !sb.dir.join("PWNED2").exists());
}

#[test]
fn object_results_are_printed_as_json() {
    let sb = Sandbox::new("object-result");
    sb.lambda_result("weka-fetch", CREDS);
    let out = sb.run(&helper_script("fetch '{}' | jq -r .username"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "weka-deployment",
        "{}",
        describe(&out)
    );
}

#[test]
fn not_needed_reports_error_and_exits_non_zero() {
    let sb = Sandbox::new("not-needed");
    let out = sb.run(&render_not_needed(&NotNeededParams {
        lambdas: lambdas(),
        protocol: Protocol::Backend,
        instance_id: "i-09".into(),
        reason: "clusterization already ran".into(),
    }));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        sb.reports("error"),
        ["Instance i-09 is not needed: clusterization already ran"]
    );
}

#[test]
fn registered_reports_progress() {
    let sb = Sandbox::new("registered");
    let out = sb.run(&render_registered(&RegisteredParams {
        lambdas: lambdas(),
        protocol: Protocol::Nfs,
        instance_id: "i-2".into(),
        registered: 2,
        desired: 3,
        wait: None,
    }));
    assert!(out.status.success(), "{}", describe(&out));
    let (_, payload) = &sb.lambda_calls()[0];
    assert_eq!(payload["protocol"], "nfs");
    assert_eq!(
        payload["message"],
        "This (i-2) is nfs instance 2/3 that is ready for joining the interface group"
    );
}

fn waiting_backend(polls: u32) -> String {
    render_registered(&RegisteredParams {
        lambdas: lambdas(),
        protocol: Protocol::Backend,
        instance_id: "i-2".into(),
        registered: 2,
        desired: 3,
        wait: Some(ClusterizeWait {
            poll_secs: 60,
            polls,
        }),
    })
}

#[test]
fn a_waiting_member_runs_what_clusterize_answers_next() {
    let sb = Sandbox::new("registered-takeover");
    let takeover = "#!/bin/bash\necho TAKEOVER-RAN\n";
    sb.lambda_result(
        &lambdas().clusterize.unwrap(),
        &serde_json::to_string(takeover).unwrap(),
    );
    let out = sb.run(&waiting_backend(5));
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TAKEOVER-RAN"));
    let calls = sb.lambda_calls();
    let asked: Vec<_> = calls
        .iter()
        .filter(|(_, p)| p.get("name").is_some())
        .collect();
    assert_eq!(asked.len(), 1, "{calls:?}");
    assert_eq!(asked[0].1["name"], "i-2");
    assert_eq!(sb.reports("progress").len(), 1, "acknowledged once");
}

#[test]
fn a_waiting_member_gives_up_after_its_polls_with_an_error() {
    let sb = Sandbox::new("registered-give-up");
    // `clusterize` keeps answering "still waiting": the chain must end by itself.
    sb.lambda_result(
        &lambdas().clusterize.unwrap(),
        &serde_json::to_string(&waiting_backend(3)).unwrap(),
    );
    let out = sb.run(&waiting_backend(3));
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let asked = sb
        .lambda_calls()
        .iter()
        .filter(|(_, p)| p.get("name").is_some())
        .count();
    assert_eq!(asked, 3);
    assert_eq!(
        sb.reports("progress").len(),
        1,
        "acknowledged once, not on every poll"
    );
    assert!(
        sb.reports("error")[0].contains("gave up after 3 polls"),
        "{:?}",
        sb.reports("error")
    );
}

/// An `aws` that answers `first` (a FunctionError with this body) on the first invoke and the
/// result `then` on every later one, counting the invokes.
fn flaky_aws(sb: &Sandbox, first: &str, then: &str) {
    sb.handler(
        "aws",
        &format!(
            "#!/bin/bash\n[[ \"$1\" == lambda ]] || exit 0\n\
             n=$(cat \"$0.count\" 2>/dev/null || echo 0); echo $((n + 1)) >\"$0.count\"\n\
             out=\"${{@: -1}}\"\n\
             if [ \"$n\" -eq 0 ]; then printf '%s' {first} >\"$out\"; echo '{{\"StatusCode\":200,\"FunctionError\":\"Unhandled\"}}'; \
             else printf '%s' {then} >\"$out\"; echo '{{\"StatusCode\":200}}'; fi\n",
            first = shell_quote(first),
            then = shell_quote(then),
        ),
    );
}

fn invokes(sb: &Sandbox) -> u32 {
    std::fs::read_to_string(sb.dir.join("handlers").join("aws.count"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Review M1: one throttle or transient error no longer kills a formation or a join step.
#[test]
fn a_transient_lambda_error_is_retried_with_backoff_and_an_answer_that_stands_is_not() {
    let sb = Sandbox::new("transient-retry");
    flaky_aws(
        &sb,
        r#"{"errorMessage":"state store unavailable","errorType":"Weka.Transient"}"#,
        r#"{"username":"weka-deployment"}"#,
    );
    let out = sb.run(&helper_script("fetch '{}' | jq -r .username"));
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "weka-deployment"
    );
    assert_eq!(invokes(&sb), 2);
    assert_eq!(sb.calls_of("sleep 2").len(), 1, "{:?}", sb.calls());
    assert!(String::from_utf8_lossy(&out.stderr).contains("retrying in 2s"));

    let sb = Sandbox::new("conflict-stands");
    flaky_aws(
        &sb,
        r#"{"errorMessage":"not now","errorType":"Weka.Conflict"}"#,
        r#""ok""#,
    );
    let out = sb.run(&helper_script("clusterize '{}' || echo \"rc=$?\""));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rc=1"),
        "{}",
        describe(&out)
    );
    assert_eq!(invokes(&sb), 1, "a conflict stands: no retry");
    assert!(sb.calls_of("sleep").is_empty());

    let sb = Sandbox::new("cli-keeps-failing");
    sb.handler("aws", "#!/bin/bash\nexit 255\n");
    let out = sb.run(&helper_script(
        "WEKA_LAMBDA_ATTEMPTS=3 report '{}' || echo \"rc=$?\"",
    ));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("rc=1"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        sb.calls_of("sleep").len(),
        2,
        "3 attempts, 2 waits: {:?}",
        sb.calls()
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("still failing after 3 attempts"));
}

/// A clusterization `weka` fake with 8 hosts' drives containers, whose `user add` runs
/// `user_add` and whose `user -J` runs `user_list` (both bash snippets).
fn clusterization_weka(user_add: &str, user_list: &str) -> String {
    let mut table = String::new();
    for i in 0..8 {
        table.push_str(&format!(
            "HostId<{}> ip drives0 UP\\nHostId<{}> ip compute0 UP\\n",
            3 * i,
            3 * i + 1
        ));
    }
    format!(
        "#!/bin/bash\ncase \"$*\" in\n\"cluster container\") [[ -e \"$SANDBOX/created\" ]] && printf '{table}' ;;\n\"cluster create\"*) touch \"$SANDBOX/created\" ;;\n\
         \"status -J\") echo '{{\"status\":\"OK\",\"capacity\":{{\"unprovisioned_bytes\":1000}}}}' ;;\n\
         \"user add\"*) cat >/dev/null; {user_add} ;;\n\
         \"user -J\") {user_list} ;;\n\
         esac\nexit 0\n"
    )
}

/// Issue 15 item 3, review M2: a deployment user that cannot be added fails the clusterization
/// loudly, after a bounded retry, before `clusterize-finalization`: the group is never marked
/// clusterized with a deployment secret whose user does not exist (the Lambdas could never log
/// in again).
#[test]
fn a_deployment_user_that_cannot_be_added_fails_the_clusterization_before_finalizing() {
    let sb = Sandbox::new("clusterize-useradd-fails");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler(
        "weka",
        &clusterization_weka(
            "echo 'error: internal error' >&2; exit 1",
            r#"echo '[{"username":"admin","role":"ClusterAdmin"}]'"#,
        ),
    );
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(
        sb.calls_of("weka user add weka-deployment clusteradmin")
            .len(),
        3,
        "{:#?}",
        sb.calls()
    );
    let errors = sb.reports("error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("weka-deployment") && e.contains("3 attempts")),
        "{errors:?}"
    );
    assert!(
        sb.lambda_calls()
            .iter()
            .all(|(n, _)| n != "weka-clusterize-finalization")
    );
    assert!(sb.calls_of("weka cluster start-io").is_empty());
    assert_eq!(sb.calls_of("sleep 10").len(), 2, "three tries 10 s apart");
    assert!(
        sb.calls()
            .iter()
            .all(|c| !c.contains(DEPLOY_PASSWORD) && !c.contains(ADMIN_PASSWORD))
    );
}

/// The same when the user already exists (a retried or taken-over clusterization): `user add`
/// is refused, the listing shows the user, that is success and the cluster is finalized.
#[test]
fn a_deployment_user_that_already_exists_is_success() {
    let sb = Sandbox::new("clusterize-useradd-exists");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler(
        "weka",
        &clusterization_weka(
            "echo 'error: User weka-deployment already exists' >&2; exit 1",
            r#"echo '[{"username":"admin","role":"ClusterAdmin"},{"username":"weka-deployment","role":"ClusterAdmin"}]'"#,
        ),
    );
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        sb.calls_of("weka user add weka-deployment clusteradmin")
            .len(),
        1
    );
    assert!(sb.reports("error").is_empty(), "{:?}", sb.reports("error"));
    let lambdas = sb.lambda_calls();
    assert_eq!(lambdas.last().unwrap().0, "weka-clusterize-finalization");
}

/// A takeover of a formed cluster (the finalization was lost) makes sure the deployment user
/// exists before it finalizes: one that cannot be added stops it there too.
#[test]
fn a_takeover_of_a_formed_cluster_without_a_deployment_user_does_not_finalize() {
    let sb = Sandbox::new("clusterize-takeover-nouser");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler(
        "weka",
        "#!/bin/bash\ncase \"$*\" in\n\"status -J\") echo '{\"status\":\"OK\",\"io_status\":\"STARTED\"}' ;;\n\
         \"user add\"*) cat >/dev/null; exit 1 ;;\n\"user -J\") echo '[]' ;;\nesac\nexit 0\n",
    );
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert_ne!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(sb.calls_of("weka cluster create").is_empty());
    assert_eq!(sb.calls_of("weka user add weka-deployment").len(), 3);
    assert!(
        sb.lambda_calls()
            .iter()
            .all(|(n, _)| n != "weka-clusterize-finalization")
    );
}

/// A clusterization `weka` fake with 8 hosts' drives containers (`HostId<0>`, `<3>`, ...) whose
/// drive scan fails for the containers in `failing`.
fn drive_scan_weka(failing: &[u32]) -> String {
    let cases: String = failing
        .iter()
        .map(|id| format!("\"cluster drive scan HostId<{id}>\") echo 'error: no drives found' >&2; exit 1 ;;\n"))
        .collect();
    clusterization_weka("true", "true").replacen(
        "case \"$*\" in\n",
        &format!("case \"$*\" in\n{cases}"),
        1,
    )
}

fn eight_hosts_with_protection(protection_level: u32) -> ClusterizationParams {
    let mut params = clusterization_params();
    params.geometry = validate(&GeometryInput {
        cluster_size: 8,
        protection_level,
        stripe_width: Some(3),
        hot_spare: 1,
        set_default_fs: true,
        obs_tiering: true,
    })
    .unwrap();
    params
}

/// Issue 15 item 2 (review feature-audit row 22c): one host's drive scan failing for good is
/// reported with the host's row and the cluster forms with the drives of the others, since 7
/// hosts with drives still hold a 3+2 stripe and its hot spare.
#[test]
fn a_host_whose_drive_scan_fails_is_reported_and_the_cluster_forms_without_its_drives() {
    let sb = Sandbox::new("clusterize-scan-fails");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler("weka", &drive_scan_weka(&[6]));
    let out = sb.run(&render_clusterization(&eight_hosts_with_protection(2)).unwrap());
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(sb.calls_of("weka cluster drive scan HostId<6>").len(), 10);
    assert_eq!(sb.calls_of("weka cluster drive scan").len(), 17);
    let errors = sb.reports("error");
    assert!(
        errors.iter().any(|e| e
            .contains("drive scan failed on 1 host(s) [HostId<6> ip drives0 UP]")
            && e.contains("other 7 hosts")),
        "{errors:?}"
    );
    assert!(sb.calls_of("weka cluster start-io").len() == 1);
    let (last, _) = sb.lambda_calls().last().cloned().unwrap();
    assert_eq!(last, "weka-clusterize-finalization");
}

/// The same failure where the geometry needs every host (3+4 with one hot spare on 8): the
/// clusterization fails naming the host, before start-io and finalization.
#[test]
fn a_drive_scan_failure_the_geometry_cannot_spare_fails_naming_the_host() {
    let sb = Sandbox::new("clusterize-scan-fails-hard");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler("weka", &drive_scan_weka(&[6]));
    let out = sb.run(&render_clusterization(&eight_hosts_with_protection(4)).unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    let errors = sb.reports("error");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("[HostId<6> ip drives0 UP]")
                && e.contains("cannot hold a stripe of 3+4 with 1 hot spare")),
        "{errors:?}"
    );
    assert!(sb.calls_of("weka cluster start-io").is_empty());
    assert!(
        sb.lambda_calls()
            .iter()
            .all(|(n, _)| n != "weka-clusterize-finalization")
    );
}

/// A `weka` fake for a takeover: the cluster exists (8 drives containers) with io not started,
/// and its admin password is `admin_password` until `user passwd` changes it (stdin, like the
/// CLI's prompt). `cluster create` fails, as WEKA does on hosts already in a cluster.
fn partially_created_weka(admin_password: &str) -> String {
    clusterization_weka("true", "true").replacen(
        "case \"$*\" in\n",
        &format!(
            "touch \"$SANDBOX/created\"; pw_file=\"$SANDBOX/admin-pw\"; [[ -e \"$pw_file\" ]] || printf '%s' '{admin_password}' >\"$pw_file\"\n\
             case \"$*\" in\n\
             \"user login admin\") [[ \"$(head -n1)\" == \"$(cat \"$pw_file\")\" ]] || exit 1 ;;\n\
             \"user passwd --username admin\") head -n1 | tr -d '\\n' >\"$pw_file\" ;;\n\
             \"cluster create\"*) echo 'error: host already in a cluster' >&2; exit 1 ;;\n"
        ),
        1,
    )
}

/// Issue 15 item 2: a takeover after a partial clusterization (the cluster was created and its
/// admin password set, io not started: the first clusterizer died during the drive scans)
/// resumes after the create instead of failing on `cluster create`, and finalizes.
#[test]
fn a_takeover_after_a_partial_create_resumes_instead_of_creating_again() {
    let sb = Sandbox::new("clusterize-resume-created");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler("weka", &partially_created_weka(ADMIN_PASSWORD));
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert!(out.status.success(), "{}", describe(&out));
    assert!(sb.calls_of("weka cluster create").is_empty());
    assert!(
        sb.calls_of("weka user passwd").is_empty(),
        "the password was set already"
    );
    assert_eq!(sb.calls_of("weka cluster drive scan").len(), 8);
    assert_eq!(sb.calls_of("weka cluster start-io").len(), 1);
    assert!(
        sb.reports("progress")
            .iter()
            .any(|m| m.contains("Resuming a clusterization") && m.contains("password_set"))
    );
    let (last, _) = sb.lambda_calls().last().cloned().unwrap();
    assert_eq!(last, "weka-clusterize-finalization");
}

/// The same when the first clusterizer died between `cluster create` and the password change:
/// the default admin password still works, so the takeover changes it and goes on.
#[test]
fn a_takeover_before_the_password_change_sets_it_and_resumes() {
    let sb = Sandbox::new("clusterize-resume-default-pw");
    sb.lambda_result("weka-fetch", CREDS);
    sb.handler("weka", &partially_created_weka("admin"));
    let out = sb.run(&render_clusterization(&clusterization_params()).unwrap());
    assert!(out.status.success(), "{}", describe(&out));
    assert!(sb.calls_of("weka cluster create").is_empty());
    assert_eq!(
        sb.calls_of("weka user passwd --username admin").len(),
        1,
        "{:#?}",
        sb.calls()
    );
    assert_eq!(
        std::fs::read_to_string(sb.dir.join("admin-pw")).unwrap(),
        ADMIN_PASSWORD
    );
    let (last, _) = sb.lambda_calls().last().cloned().unwrap();
    assert_eq!(last, "weka-clusterize-finalization");
}
