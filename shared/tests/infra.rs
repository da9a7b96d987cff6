//! The Terraform module against the code: every function directory has a Lambda, every
//! environment variable a function's configuration reads is set by the module, and each
//! function's role grants exactly the AWS actions its code calls (plus logging, KMS for the
//! secrets' key and, for VPC functions, the ENI actions Lambda itself needs).

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use weka_shared::adapters::weka_rpc::WekaRpcConfig;
use weka_shared::config::{ConfigError, Lookup};
use weka_shared::domain::geometry::{GeometryError, GeometryInput, validate};
use weka_shared::handlers::{
    adopt, certificate, clusterize, clusterize_finalization, deploy, fetch, report, scale_down,
    scale_fetch, status, terminate,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap()
}

/// A lookup that answers a plausible value for every name and records what was asked.
#[derive(Default)]
struct Recorder(RefCell<BTreeSet<String>>);

impl Lookup for Recorder {
    fn get(&self, name: &str) -> Option<String> {
        self.0.borrow_mut().insert(name.to_owned());
        let value = match name {
            "INSTALL_URL" => "https://$TOKEN@get.weka.io/dist/v1/install/4.4.2/4.4.2",
            "WEKA_API_URL_TEMPLATE" => "http://{ip}:14000/api/v1",
            "HOSTS_NUM" => "6",
            "STRIPE_WIDTH" => "3",
            "PROTECTION_LEVEL" => "2",
            "DOWN_BACKENDS_REMOVAL_TIMEOUT" | "SCALE_LEASE_TTL" | "WEKA_API_TIMEOUT" => "3m",
            "LAUNCH_HEARTBEAT_TIMEOUT" | "TERMINATE_HEARTBEAT_TIMEOUT" => "900s",
            "LIFECYCLE_HEARTBEAT_INTERVAL" => "30s",
            "LIFECYCLE_DEADLINE_MARGIN" => "120s",
            "SET_OBS" => "false",
            "SET_DEFAULT_FS" | "INSTALL_DPDK" | "SMB_SETUP_PROTOCOL" | "S3_SETUP_PROTOCOL" => {
                "true"
            }
            // An SMB cluster spans 3 to 8 gateways.
            "SMB_PROTOCOL_GATEWAYS_NUM" => "3",
            "ROLE" => "backend",
            "INSTANCE_IDENTITY_CERTIFICATE" => {
                include_str!("../../tests/localcloud/identity/certificate.pem")
            }
            n if n.ends_with("CGROUPS_MODE") => "auto",
            n if n.ends_with("_NUM")
                || n.ends_with("_MINUTES")
                || n.ends_with("_DAYS")
                || n.ends_with("_PER_RUN")
                || n.ends_with("_PER_HOST")
                || n.ends_with("_PERCENT")
                || n.ends_with("_SIZE")
                || n.ends_with("PARALLELISM")
                || n.starts_with("TIERING_")
                || n == "HOTSPARE" =>
            {
                "1"
            }
            _ => "x",
        };
        Some(value.to_owned())
    }
}

type Parse = fn(&Recorder) -> Result<(), ConfigError>;

/// What each function's `main` parses, in the same order.
fn config_parsers() -> BTreeMap<&'static str, Vec<Parse>> {
    BTreeMap::from([
        (
            "deploy",
            vec![(|l| deploy::Config::from_lookup(l).map(drop)) as Parse],
        ),
        (
            "clusterize",
            vec![|l| clusterize::Config::from_lookup(l).map(drop)],
        ),
        (
            "clusterize-finalization",
            vec![|l| clusterize_finalization::Config::from_lookup(l).map(drop)],
        ),
        ("report", vec![|l| report::Config::from_lookup(l).map(drop)]),
        (
            "status",
            vec![|l| status::Config::from_lookup(l).map(drop), |l| {
                WekaRpcConfig::from_lookup(l).map(drop)
            }],
        ),
        ("fetch", vec![|l| fetch::Config::from_lookup(l).map(drop)]),
        (
            "scale-fetch",
            vec![|l| scale_fetch::Config::from_lookup(l).map(drop)],
        ),
        (
            "scale-down",
            vec![|l| scale_down::Config::from_lookup(l).map(drop), |l| {
                WekaRpcConfig::from_lookup(l).map(drop)
            }],
        ),
        (
            "terminate",
            vec![|l| terminate::Config::from_lookup(l).map(drop)],
        ),
        ("transient", vec![]),
        (
            "certificate",
            vec![|l| certificate::Config::from_lookup(l).map(drop)],
        ),
        (
            "adopt",
            vec![|l| adopt::Config::from_lookup(l).map(drop), |l| {
                WekaRpcConfig::from_lookup(l).map(drop)
            }],
        ),
    ])
}

/// The AWS actions each function's code calls (through the adapters its `main` builds and the
/// port methods its handler uses).
fn actions_called() -> BTreeMap<&'static str, Vec<&'static str>> {
    BTreeMap::from([
        (
            "deploy",
            vec![
                "dynamodb:GetItem",
                "dynamodb:Query",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
            ],
        ),
        (
            "clusterize",
            vec![
                "autoscaling:DescribeAutoScalingInstances",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
            ],
        ),
        (
            "clusterize-finalization",
            vec![
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:DescribeAutoScalingInstances",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "ec2:CreateTags",
            ],
        ),
        (
            "report",
            vec![
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:RecordLifecycleActionHeartbeat",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "ec2:DescribeInstances",
            ],
        ),
        (
            "status",
            vec![
                "autoscaling:DescribeAutoScalingGroups",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "ec2:DescribeInstances",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "fetch",
            vec![
                "autoscaling:DescribeAutoScalingGroups",
                "dynamodb:GetItem",
                "dynamodb:Query",
                "ec2:DescribeInstances",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "scale-fetch",
            vec![
                "autoscaling:DescribeAutoScalingGroups",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "ec2:DescribeInstances",
            ],
        ),
        (
            "scale-down",
            vec![
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "terminate",
            vec![
                "autoscaling:CompleteLifecycleAction",
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DetachInstances",
                "autoscaling:RecordLifecycleActionHeartbeat",
                "autoscaling:SetInstanceProtection",
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "ec2:DescribeInstances",
                "ec2:ModifyInstanceAttribute",
                "ec2:TerminateInstances",
            ],
        ),
        ("transient", vec![]),
        (
            "certificate",
            vec![
                "acm:DeleteCertificate",
                "acm:DescribeCertificate",
                "acm:ImportCertificate",
                "acm:ListCertificates",
                "acm:ListTagsForCertificate",
            ],
        ),
        (
            "adopt",
            vec![
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:Query",
                "dynamodb:UpdateItem",
                "ec2:DescribeInstances",
                "secretsmanager:GetSecretValue",
            ],
        ),
    ])
}

/// Actions a role may hold beyond what the code calls: logging, the secrets' KMS key, and the
/// ENI management Lambda performs for VPC-attached functions.
fn infrastructure_action(action: &str) -> bool {
    action == "acm:AddTagsToCertificate" // an ImportCertificate with tags needs it too
        || action.starts_with("logs:")
        || action.starts_with("kms:")
        || matches!(
            action,
            "ec2:CreateNetworkInterface"
                | "ec2:DeleteNetworkInterface"
                | "ec2:DescribeSubnets"
                | "ec2:AssignPrivateIpAddresses"
                | "ec2:UnassignPrivateIpAddresses"
        )
}

/// The text of the balanced `{...}`/`(...)`/`[...]` expression starting at the first opener
/// after `from`, or the rest of the line when the value has no opener on its line.
fn expression_after(text: &str, from: usize) -> &str {
    let rest = &text[from..];
    let line_end = rest.find('\n').unwrap_or(rest.len());
    if rest.trim_start().starts_with("local.") {
        return &rest[..line_end];
    }
    let Some(open) = rest[..line_end].find(['{', '(', '[']) else {
        return &rest[..line_end];
    };
    let mut depth = 0usize;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return &rest[open..=open + i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced expression after byte {from}");
}

fn local_block<'a>(text: &'a str, name: &str) -> &'a str {
    let marker = format!("\n  {name} = ");
    let at = text
        .find(&marker)
        .unwrap_or_else(|| panic!("local {name} not found"));
    expression_after(text, at + marker.len())
}

fn entry<'a>(block: &'a str, key: &str) -> &'a str {
    // Entries sit at the map's first indentation level (terraform fmt), which keeps
    // `lambda_names["clusterize"]` inside another entry from matching.
    let marker = format!("\n    \"{key}\" =");
    let at = block
        .find(&marker)
        .unwrap_or_else(|| panic!("entry {key} not found"));
    let eq = at + block[at..].find('=').unwrap() + 1;
    expression_after(block, eq)
}

fn env_keys(expression: &str, locals: &str) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for line in expression.lines() {
        let trimmed = line.trim();
        if let Some((key, _)) = trimmed.split_once('=')
            && !key.trim().is_empty()
            && key
                .trim()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            keys.insert(key.trim().to_owned());
        }
    }
    for reference in expression.split("local.").skip(1) {
        let name: String = reference
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.starts_with("env_") {
            keys.extend(env_keys(local_block(locals, &name), locals));
        }
    }
    keys
}

fn actions(expression: &str, locals: &str) -> BTreeSet<String> {
    // `local.st_table["name"]` picks one entry of the `st_table` map.
    let mut expression = expression.to_owned();
    while let Some(at) = expression.find("local.st_table[\"") {
        let rest = &expression[at + "local.st_table[\"".len()..];
        let name = rest.split('"').next().unwrap().to_owned();
        let table = local_block(locals, "st_table");
        let line = table
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .unwrap();
        let replacement = line.split_once('=').unwrap().1.to_owned();
        let end = at + "local.st_table[\"".len() + name.len() + 2;
        expression.replace_range(at..end, &replacement);
    }
    let expression = expression.as_str();
    let mut found = BTreeSet::new();
    for quoted in expression.split('"').skip(1).step_by(2) {
        if let Some((service, action)) = quoted.split_once(':')
            && !service.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && action
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
        {
            found.insert(quoted.to_owned());
        }
    }
    for reference in expression.split("local.").skip(1) {
        let name: String = reference
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.starts_with("st_") {
            found.extend(actions(local_block(locals, &name), locals));
        }
    }
    found
}

fn function_dirs() -> BTreeSet<String> {
    std::fs::read_dir(repo().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

#[test]
fn every_function_directory_is_a_lambda_in_the_module_and_vice_versa() {
    let locals = read("infra/locals.tf");
    let functions = local_block(&locals, "function_table");
    let in_module: BTreeSet<String> = functions
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix('"')?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(in_module, function_dirs());
    assert_eq!(
        config_parsers()
            .keys()
            .map(|k| (*k).to_owned())
            .collect::<BTreeSet<_>>(),
        function_dirs()
    );
}

#[test]
fn every_variable_a_function_reads_is_set_by_the_module() {
    let locals = read("infra/locals.tf");
    let env = local_block(&locals, "function_env");
    let mut problems = Vec::new();
    for (function, parsers) in config_parsers() {
        let recorder = Recorder::default();
        for parse in parsers {
            parse(&recorder).unwrap_or_else(|e| panic!("{function}: {e}"));
        }
        let set = env_keys(entry(env, function), &locals);
        for name in recorder.0.borrow().iter() {
            // Set by the Lambda runtime itself.
            if name != "AWS_REGION" && !set.contains(name) {
                problems.push(format!(
                    "{function} reads {name}, which the module does not set"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// `infra/function-env.json`: the environment names each function gets.
fn function_env_table() -> BTreeMap<String, BTreeSet<String>> {
    serde_json::from_str(&read("infra/function-env.json")).unwrap()
}

#[test]
fn the_function_env_table_is_what_the_module_sets_and_covers_what_the_code_reads() {
    let table = function_env_table();
    assert_eq!(
        table.keys().cloned().collect::<BTreeSet<_>>(),
        function_dirs(),
        "infra/function-env.json names every function"
    );
    let locals = read("infra/locals.tf");
    let env = local_block(&locals, "function_env");
    let mut problems = Vec::new();
    for (function, parsers) in config_parsers() {
        let names = &table[function];
        let set = env_keys(entry(env, function), &locals);
        if &set != names {
            problems.push(format!(
                "{function}: the module sets {set:?}, the table says {names:?}"
            ));
        }
        let recorder = Recorder::default();
        for parse in parsers {
            parse(&recorder).unwrap_or_else(|e| panic!("{function}: {e}"));
        }
        for name in recorder.0.borrow().iter() {
            if name != "AWS_REGION" && !names.contains(name) {
                problems.push(format!(
                    "{function} reads {name}, which the table does not list"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_module_checks_each_function_environment_against_the_table() {
    let lambda = read("infra/lambda.tf");
    assert!(
        lambda.contains(
            "toset(keys(local.function_env[each.key])) == toset(local.function_env_table[each.key])"
        ),
        "aws_lambda_function.this has lost its precondition against infra/function-env.json"
    );
    assert!(read("infra/locals.tf").contains("file(\"${path.module}/function-env.json\")"));
}

#[test]
fn each_role_grants_exactly_the_actions_its_code_calls() {
    let locals = read("infra/locals.tf") + &read("infra/lambda.tf");
    let statements = local_block(&locals, "function_statements");
    let mut problems = Vec::new();
    for (function, called) in actions_called() {
        let granted: BTreeSet<String> = actions(entry(statements, function), &locals)
            .into_iter()
            .filter(|a| !infrastructure_action(a))
            .collect();
        let called: BTreeSet<String> = called.iter().map(|a| (*a).to_owned()).collect();
        for missing in called.difference(&granted) {
            problems.push(format!(
                "{function} calls {missing} but its role does not grant it"
            ));
        }
        for extra in granted.difference(&called) {
            problems.push(format!(
                "{function}'s role grants {extra}, which its code never calls"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_called_actions_table_only_names_calls_the_adapters_make() {
    // Guards the table above against naming calls no adapter makes.
    let mut files: Vec<String> = ["ec2.rs", "secrets.rs", "autoscaling.rs", "acm.rs"]
        .map(str::to_owned)
        .to_vec();
    for entry in std::fs::read_dir(repo().join("shared/src/adapters/dynamo")).unwrap() {
        files.push(format!(
            "dynamo/{}",
            entry.unwrap().file_name().to_string_lossy()
        ));
    }
    let adapters: String = files
        .iter()
        .map(|f| read(&format!("shared/src/adapters/{f}")))
        .collect();
    for action in actions_called().values().flatten() {
        let operation = action.split(':').nth(1).unwrap();
        let mut snake = String::new();
        for (i, c) in operation.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        }
        // A transaction needs each part's own action (AWS has no TransactWriteItems permission).
        let transaction_part = match operation {
            "PutItem" => Some("Put::builder()"),
            "UpdateItem" => Some("Update::builder()"),
            "DeleteItem" => Some("Delete::builder()"),
            _ => None,
        }
        .is_some_and(|part| {
            adapters.contains(".transact_write_items()") && adapters.contains(part)
        });
        assert!(
            adapters.contains(&format!(".{snake}()")) || transaction_part,
            "{action}: no adapter calls .{snake}() or writes it in a transaction"
        );
    }
}

/// The name infra/modules/geometry gives the rule an error breaks.
fn geometry_rule(error: &GeometryError) -> &'static str {
    match error {
        GeometryError::ClusterTooSmall { .. } => "cluster_too_small",
        GeometryError::InvalidProtectionLevel { .. } => "invalid_protection_level",
        GeometryError::StripeWidthOutOfRange { .. } => "stripe_width_out_of_range",
        GeometryError::DefaultStripeTooNarrow { .. } => "default_stripe_too_narrow",
        GeometryError::HotSpareTooSmall { .. } => "hot_spare_too_small",
        GeometryError::DoesNotFit { .. } => "does_not_fit",
        GeometryError::ObsTieringWithoutDefaultFs { .. } => "obs_tiering_without_default_fs",
    }
}

fn terraform(dir: &std::path::Path, args: &[&str]) -> String {
    let binary = std::env::var("TERRAFORM").unwrap_or_else(|_| "terraform".to_owned());
    let out = std::process::Command::new(&binary)
        .args(args)
        .current_dir(dir)
        .env("TF_IN_AUTOMATION", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("terraform not found as {binary:?} ({e}): install Terraform or set TERRAFORM")
        });
    assert!(
        out.status.success(),
        "terraform {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Issue 17: the data-protection rules `terraform plan` checks (infra/modules/geometry) are the
/// ones clusterize applies. Over a grid of inputs around every bound, the module's first broken
/// rule is the Rust validator's error, and a valid input resolves the same stripe width.
#[test]
fn plan_time_geometry_rules_are_clusterizes() {
    let mut cases = BTreeMap::new();
    for cluster_size in [5u32, 6, 7, 8, 20] {
        for protection_level in [2u32, 3, 4] {
            for stripe_width in [
                None,
                Some(2u32),
                Some(3),
                Some(4),
                Some(5),
                Some(16),
                Some(17),
            ] {
                for hot_spare in [0u32, 1, 2] {
                    for (set_default_fs, obs_tiering) in
                        [(true, false), (false, true), (true, true)]
                    {
                        let input = GeometryInput {
                            cluster_size,
                            protection_level,
                            stripe_width,
                            hot_spare,
                            set_default_fs,
                            obs_tiering,
                        };
                        cases.insert(format!("c{}", cases.len()), input);
                    }
                }
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("weka-geometry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let encoded: serde_json::Map<String, serde_json::Value> = cases
        .iter()
        .map(|(key, i)| {
            (
                key.clone(),
                serde_json::json!({
                    "cluster_size": i.cluster_size,
                    "protection_level": i.protection_level,
                    "stripe_width": i.stripe_width.map_or(-1, i64::from),
                    "hotspare": i.hot_spare,
                    "set_default_fs": i.set_default_fs,
                    "obs_tiering": i.obs_tiering,
                }),
            )
        })
        .collect();
    std::fs::write(
        dir.join("cases.json"),
        serde_json::to_string(&encoded).unwrap(),
    )
    .unwrap();
    let module = repo().join("infra/modules/geometry");
    std::fs::write(
        dir.join("main.tf"),
        format!(
            r#"locals {{
  cases = jsondecode(file("${{path.module}}/cases.json"))
}}
module "g" {{
  for_each         = local.cases
  source           = "{}"
  cluster_size     = each.value.cluster_size
  protection_level = each.value.protection_level
  stripe_width     = each.value.stripe_width
  hotspare         = each.value.hotspare
  set_default_fs   = each.value.set_default_fs
  obs_tiering      = each.value.obs_tiering
}}
output "verdicts" {{
  value = {{ for k, m in module.g : k => {{ stripe_width = m.stripe_width, violations = m.violations }} }}
}}
"#,
            module.display()
        ),
    )
    .unwrap();
    terraform(
        &dir,
        &["init", "-backend=false", "-input=false", "-no-color"],
    );
    terraform(
        &dir,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
    );
    let verdicts: serde_json::Value =
        serde_json::from_str(&terraform(&dir, &["output", "-json", "verdicts"])).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let mut refused = 0;
    for (key, input) in &cases {
        let verdict = &verdicts[key];
        let first_broken = verdict["violations"][0].as_str();
        match validate(input) {
            Ok(geometry) => {
                assert_eq!(
                    first_broken, None,
                    "{input:?}: plan refuses what clusterize takes"
                );
                assert_eq!(
                    verdict["stripe_width"].as_u64(),
                    Some(u64::from(geometry.stripe_width())),
                    "{input:?}"
                );
            }
            Err(error) => {
                refused += 1;
                assert_eq!(
                    first_broken,
                    Some(geometry_rule(&error)),
                    "{input:?}: clusterize says {error}"
                );
            }
        }
    }
    assert!(
        refused > 0 && refused < cases.len(),
        "the grid has both verdicts"
    );
}

/// The `metric = { key = "Name" ... }` map of `infra/monitoring.tf`.
fn monitoring_metric_map(text: &str) -> BTreeMap<String, String> {
    let start = text.find("  metric = {").unwrap();
    let block = &text[start..start + text[start..].find("\n  }").unwrap()];
    block
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            Some((
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

#[test]
fn the_alarms_and_dashboard_read_the_metrics_the_functions_emit() {
    use weka_shared::domain::metrics::{ALL, CLUSTER_DIMENSION, NAMESPACE};
    let text = read("infra/monitoring.tf");
    let map = monitoring_metric_map(&text);
    let in_module: BTreeSet<&str> = map.values().map(String::as_str).collect();
    let emitted: BTreeSet<&str> = ALL.iter().map(|m| m.name).collect();
    assert_eq!(
        in_module, emitted,
        "infra/monitoring.tf local.metric vs domain::metrics::ALL"
    );
    assert!(text.contains(&format!("metrics_namespace = \"{NAMESPACE}\"")));
    assert!(text.contains(&format!(
        "metrics_dimension = {{ {CLUSTER_DIMENSION} = var.cluster_name }}"
    )));
    // Every metric key the alarms and the dashboard panels use is in the map.
    let mut used = BTreeSet::new();
    for (i, _) in text.match_indices("local.metric.") {
        let rest = &text[i + "local.metric.".len()..];
        let key: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        used.insert(key);
    }
    let panels = &text[text.find("dashboard_own_panels = [").unwrap()..];
    let panels = &panels[..panels.find("\n  ]").unwrap()];
    for line in panels.lines().skip(1) {
        let Some(list) = line.split('[').nth(2) else {
            continue;
        };
        let list = list.split(']').next().unwrap();
        used.extend(
            list.split(',')
                .map(|k| k.trim().trim_matches('"').to_owned()),
        );
    }
    let unknown: Vec<&String> = used.iter().filter(|k| !map.contains_key(*k)).collect();
    assert!(
        unknown.is_empty(),
        "metric keys not in local.metric: {unknown:?}"
    );
    assert!(used.contains("lease_held") && used.contains("oldest_launch_wait"));
}

#[test]
fn the_readme_documents_every_metric() {
    use weka_shared::domain::metrics::ALL;
    let readme = read("README.md");
    let start = readme
        .find("## Metrics and alarms")
        .expect("README has a Metrics and alarms section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    for metric in ALL {
        assert!(
            section.contains(&format!("`{}`", metric.name)),
            "README Metrics and alarms does not document `{}`",
            metric.name
        );
    }
}
