#!/usr/bin/env bash
# Apply the module (through infra/examples/local) to the patched moto server on loopback,
# check what it created with the AWS CLI, check that a second plan changes nothing (drift),
# destroy it and check the cleanup. tests/drift_moto.sh does the drift check for the
# full-featured configuration.
# Env: VENV (default <repo>/.venv), LAMBDAS_DIR (dir with <function>/bootstrap.zip; default
# <repo>/target/lambda if complete, else dummy zips), KEEP_TMP=1 keeps the work dir,
# LAMBDA_CODE=zip (default: direct upload, the module's default; the provider creates the
# functions one at a time, ~5 s each) or s3 (zips staged in an emulator bucket,
# lambdas_upload_s3_bucket; created in parallel). The local cloud's e2e applies the s3 path, so CI
# applies both.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
# Every function of the workspace (one directory each under functions/), but `certificate`: the
# default configuration has no ALB, so the module deploys no certificate function
# (drift_moto.sh applies it).
mapfile -t FUNCTIONS < <(cd "$ROOT/functions" && ls -d -- */ | tr -d / | grep -vx certificate)
LAMBDA_CODE=${LAMBDA_CODE:-zip}
CODE_BUCKET=weka-local-lambda-code
CLUSTER_SIZE=6
PREFIX=WEKA-Prod
START=$(date +%s)

say() { printf '[apply_moto %3ss] %s\n' "$(($(date +%s) - START))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

command -v terraform >/dev/null || fail "terraform not found"
case "$LAMBDA_CODE" in s3 | zip) ;; *) fail "LAMBDA_CODE must be s3 or zip, not $LAMBDA_CODE" ;; esac
[ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/aws" ] || fail "venv $VENV lacks python/aws (pip install -r tests/requirements.txt)"

WORK=$(mktemp -d /tmp/weka-infra-moto.XXXXXX)
MOTO_STARTED=""
cleanup() {
  rc=$?
  if [ -n "$MOTO_STARTED" ]; then VENV=$VENV "$ROOT/tests/emulator/moto.sh" stop "$WORK" || true; fi
  if [ "${KEEP_TMP:-0}" = 1 ] || [ $rc -ne 0 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

# --- lambda zips -------------------------------------------------------------
have_all_zips() { local d=$1 f; for f in "${FUNCTIONS[@]}"; do [ -s "$d/$f/bootstrap.zip" ] || return 1; done; }
if [ -n "${LAMBDAS_DIR:-}" ]; then
  have_all_zips "$LAMBDAS_DIR" || fail "LAMBDAS_DIR=$LAMBDAS_DIR lacks some <function>/bootstrap.zip"
  ZIPS=$(cd "$LAMBDAS_DIR" && pwd)
elif have_all_zips "$ROOT/target/lambda"; then
  ZIPS=$ROOT/target/lambda
else
  ZIPS=$WORK/lambda
  "$VENV/bin/python" - "$ZIPS" "${FUNCTIONS[@]}" <<'PY'
import os, sys, zipfile
out, fns = sys.argv[1], sys.argv[2:]
for f in fns:
    os.makedirs(f"{out}/{f}", exist_ok=True)
    with zipfile.ZipFile(f"{out}/{f}/bootstrap.zip", "w") as z:
        info = zipfile.ZipInfo("bootstrap"); info.external_attr = 0o755 << 16
        z.writestr(info, f"#!/bin/sh\necho dummy {f}\n")
PY
fi
say "lambda zips: $ZIPS"

# --- moto ----------------------------------------------------------------------
VENV=$VENV "$ROOT/tests/emulator/moto.sh" start "$WORK" >/dev/null || fail "moto did not start (see $WORK/moto.log)"
MOTO_STARTED=1
PORT=$(cat "$WORK/moto.port")
say "moto pid $(cat "$WORK/moto.pid") on 127.0.0.1:$PORT"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
aws() { "$VENV/bin/aws" --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 "$@"; }

# --- terraform (work on a copy: state, lock file and .terraform stay in $WORK) --
mkdir -p "$WORK/src"
cp -r "$ROOT/infra" "$ROOT/state-machine" "$WORK/src/"
rm -rf "$WORK/src/infra/examples/local/.terraform" "$WORK/src/infra/examples/local/"*.tfstate*
# CHECKPOINT_DISABLE: no version check against HashiCorp (nothing leaves loopback).
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
export TF_CLI_CONFIG_FILE=$WORK/terraformrc
: >"$TF_CLI_CONFIG_FILE"
# The module's key pair generation (local-exec) runs the venv's AWS CLI, which reads AWS_ENDPOINT_URL.
export PATH="$VENV/bin:$PATH"
KEY_PATH=$WORK/WEKA-Prod-private-key.pem
TFVARS=(-var "aws_endpoint=http://127.0.0.1:$PORT" -var "lambdas_dir=$ZIPS" -var "cluster_size=$CLUSTER_SIZE"
  -var "ssh_private_key_path=$KEY_PATH"
  -var "instance_identity_certificate=$(cat "$ROOT/tests/localcloud/identity/certificate.pem")")
if [ "$LAMBDA_CODE" = s3 ]; then
  aws s3api create-bucket --bucket "$CODE_BUCKET" >/dev/null || fail "create bucket $CODE_BUCKET"
  TFVARS+=(-var "lambdas_upload_s3_bucket=$CODE_BUCKET")
fi
cd "$WORK/src/infra/examples/local"
terraform init -no-color -backend=false -plugin-dir=/opt/tf-plugins >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log"; fail "terraform init"; }
say "terraform apply (lambda code: $LAMBDA_CODE)"
terraform apply -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" >"$WORK/apply.log" 2>&1 || { tail -60 "$WORK/apply.log"; fail "terraform apply"; }
say "apply done: $(grep -c 'Creation complete' "$WORK/apply.log") resources created;" \
  "lambda creates: $(grep -Eo 'aws_lambda_function\.this\[[^]]*\]: Creation complete after [0-9]+s' "$WORK/apply.log" | grep -Eo '[0-9]+s$' | sort -n | tr '\n' ' ')"

# --- checks after apply --------------------------------------------------------
TABLE=$(terraform output -raw state_table_name)
check_item() { # key initial_size
  local item
  item=$(aws dynamodb get-item --table-name "$TABLE" --key "{\"pk\":{\"S\":\"$1\"},\"sk\":{\"S\":\"state\"}}" --output json)
  "$VENV/bin/python" - "$item" "$1" "$2" <<'PY' || fail "state item $1 wrong: $item"
import json, sys
item, key, n = json.loads(sys.argv[1]).get("Item"), sys.argv[2], sys.argv[3]
want = {"pk": {"S": key}, "sk": {"S": "state"}, "version": {"N": "0"}, "initial_size": {"N": n},
        "desired_size": {"N": n}, "clusterization_target": {"N": n}, "clusterized": {"BOOL": False},
        "registered": {"N": "0"}}
sys.exit(0 if item == want else 1)
PY
  say "ok: item $1 = initial state (size $2)"
}
check_item "$PREFIX-state" "$CLUSTER_SIZE"
check_item "$PREFIX-nfs-state" 0

# No key given: EC2 generated the key pair; only the 0600 file holds its private key.
[ "$(terraform output -json weka_deployment | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["local_ssh_private_key"])')" = "$KEY_PATH" ] ||
  fail "weka_deployment.local_ssh_private_key is not $KEY_PATH"
[ "$(stat -c %a "$KEY_PATH")" = 600 ] || fail "private key mode $(stat -c %a "$KEY_PATH"), not 600"
grep -q 'BEGIN RSA PRIVATE KEY' "$KEY_PATH" || fail "no PEM private key in $KEY_PATH"
[ "$(aws ec2 describe-key-pairs --key-names "$PREFIX-ssh-key" --query 'KeyPairs[0].KeyName' --output text)" = "$PREFIX-ssh-key" ] || fail "key pair $PREFIX-ssh-key missing"
! grep -q 'PRIVATE KEY' terraform.tfstate || fail "the private key is in the Terraform state"
say "ok: key pair $PREFIX-ssh-key generated, private key $KEY_PATH (0600), not in the state"

[ "$(aws dynamodb describe-table --table-name "$TABLE" --query 'Table.KeySchema[].AttributeName' --output text)" = "pk	sk" ] || fail "table key schema"
[ "$(aws dynamodb describe-time-to-live --table-name "$TABLE" --query 'TimeToLiveDescription.AttributeName' --output text)" = "expires_at" ] || fail "table TTL"
[ "$(aws dynamodb describe-continuous-backups --table-name "$TABLE" --query 'ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus' --output text)" = "ENABLED" ] || fail "PITR"
say "ok: table $TABLE (pk/sk, TTL expires_at, PITR)"

# One list-functions call; python checks every function's settings, role, env keys and code
# (CodeSha256 of its zip; with LAMBDA_CODE=s3 also the staged object of each function).
aws lambda list-functions --output json >"$WORK/functions.json"
if [ "$LAMBDA_CODE" = s3 ]; then
  aws s3api list-objects-v2 --bucket "$CODE_BUCKET" --output json >"$WORK/staged.json"
else
  echo '{}' >"$WORK/staged.json"
fi
"$VENV/bin/python" - "$WORK/functions.json" "$PREFIX" "$ZIPS" "$WORK/staged.json" "$LAMBDA_CODE" "$ROOT/infra/function-env.json" "${FUNCTIONS[@]}" <<'PY' || fail "lambda checks"
import base64, hashlib, json, sys
path, prefix, zips, staged_path, code_mode, table_path, fns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7:]
staged = {o["Key"] for o in json.load(open(staged_path)).get("Contents", [])}
funcs = {f["FunctionName"]: f for f in json.load(open(path))["Functions"] if f["FunctionName"].startswith(prefix + "-")}
# What each function must get: infra/function-env.json, the table the module is checked
# against (the deployed environment must be exactly that row).
need = {fn: set(names) for fn, names in json.load(open(table_path)).items()}
timeouts = {"scale-down": 120, "terminate": 60, "transient": 60, "adopt": 60}
errors, roles = [], set()
if len(funcs) != len(fns):
    errors.append(f"expected {len(fns)} functions, found {sorted(funcs)}")
for fn in fns:
    f = funcs.get(f"{prefix}-{fn}-lambda")
    if not f:
        errors.append(f"{fn}: missing"); continue
    got = (f.get("Runtime"), f.get("Handler"), f.get("Architectures", [None])[0], f.get("Timeout"))
    want = ("provided.al2023", "bootstrap", "arm64", timeouts.get(fn, 30))
    if got != want:
        errors.append(f"{fn}: runtime/handler/arch/timeout {got} != {want}")
    if not f["Role"].endswith(f"/{prefix}-{fn}-lambda-role"):
        errors.append(f"{fn}: role {f['Role']} is not its own")
    roles.add(f["Role"])
    variables = (f.get("Environment") or {}).get("Variables", {})
    env_bytes = sum(len(k) + len(v) for k, v in variables.items())
    if env_bytes > 4096:
        errors.append(f"{fn}: environment is {env_bytes} bytes; Lambda refuses more than 4 KB")
    env = set(variables)
    if need[fn] != env:
        errors.append(f"{fn}: env lacks {sorted(need[fn] - env)}, has extra {sorted(env - need[fn])}")
    code = open(f"{zips}/{fn}/bootstrap.zip", "rb").read()
    if f.get("CodeSha256") != base64.b64encode(hashlib.sha256(code).digest()).decode():
        errors.append(f"{fn}: CodeSha256 {f.get('CodeSha256')} is not its zip's")
    if code_mode == "s3" and f"{prefix}-{fn}-lambda/bootstrap.zip" not in staged:
        errors.append(f"{fn}: zip not staged in the bucket ({sorted(staged)})")
if len(roles) != len(fns):
    errors.append("roles are shared")
print("\n".join(errors) or "lambda checks passed")
sys.exit(1 if errors else 0)
PY
say "ok: ${#FUNCTIONS[@]} lambdas (provided.al2023, arm64, bootstrap, timeouts, own role each, env contract keys, code of its zip$([ "$LAMBDA_CODE" = s3 ] && echo ', staged in S3'))"

SM_ARN=$(terraform output -raw state_machine_arn)
def=$(aws stepfunctions describe-state-machine --state-machine-arn "$SM_ARN" --query definition --output text) || fail "state machine missing"
for f in scale-fetch scale-down terminate transient; do grep -q "function:$PREFIX-$f-lambda" <<<"$def" || fail "state machine does not call $f"; done
! grep -q "function:$PREFIX-fetch-lambda\"" <<<"$def" || fail "state machine calls the instances' fetch"
[ "$(aws events list-targets-by-rule --rule "$PREFIX-scale-down-trigger-rule" --query 'Targets[0].Arn' --output text)" = "$SM_ARN" ] || fail "EventBridge target"
[ "$(aws events describe-rule --name "$PREFIX-scale-down-trigger-rule" --query ScheduleExpression --output text)" = "rate(1 minute)" ] || fail "schedule"
say "ok: state machine (scale-fetch/scale-down/terminate/transient) + rate(1 minute) rule"
[ "$(aws events list-targets-by-rule --rule "$PREFIX-asg-events-rule" --query 'Targets[0].Arn' --output text)" = "$SM_ARN" ] || fail "ASG events target"
pattern=$(aws events describe-rule --name "$PREFIX-asg-events-rule" --query EventPattern --output text)
for dt in "EC2 Instance Launch Successful" "EC2 Instance Launch Unsuccessful" "EC2 Instance Terminate Successful" \
  "EC2 Instance-launch Lifecycle Action" "EC2 Instance-terminate Lifecycle Action" "$PREFIX-autoscaling-group"; do
  grep -qF "$dt" <<<"$pattern" || fail "ASG events pattern lacks $dt: $pattern"
done
say "ok: ASG events rule (5 detail-types of the cluster's ASGs) -> state machine"

# Monitoring (monitoring.tf): alarms, the alarm topic (examples/local creates it), the failed-
# execution rule and the dashboard exist and are wired.
TOPIC=$(aws sns list-topics --query "Topics[?ends_with(TopicArn, ':$PREFIX-control-plane-alarms')].TopicArn | [0]" --output text)
[ -n "$TOPIC" ] && [ "$TOPIC" != None ] || fail "alarm topic $PREFIX-control-plane-alarms missing"
aws sns get-topic-attributes --topic-arn "$TOPIC" --output json >"$WORK/topic.json"
"$VENV/bin/python" - "$WORK/topic.json" <<'PY' || fail "alarm topic: no KMS key or no EventBridge publish statement"
import json, sys
a = json.load(open(sys.argv[1]))["Attributes"]
assert a.get("KmsMasterKeyId"), a
assert any(s.get("Principal") == {"Service": "events.amazonaws.com"} for s in json.loads(a["Policy"])["Statement"]), a["Policy"]
PY
aws cloudwatch describe-alarms --alarm-name-prefix "$PREFIX-" --output json >"$WORK/alarms.json"
"$VENV/bin/python" - "$WORK/alarms.json" "$TOPIC" "${#FUNCTIONS[@]}" <<'PY' || fail "alarms"
import json, sys
alarms, topic, functions = json.load(open(sys.argv[1]))["MetricAlarms"], sys.argv[2], int(sys.argv[3])
by_ns = {}
for a in alarms:
    by_ns.setdefault(a["Namespace"], set()).add(a["MetricName"])
    assert a["AlarmActions"] == [topic], (a["AlarmName"], a["AlarmActions"])
assert by_ns.get("AWS/States") == {"ExecutionsFailed", "ExecutionsTimedOut"}, by_ns
assert by_ns.get("WEKA/ControlPlane") == {"LeaseHeld", "FloorRefusals", "OldestLaunchWaitAge"}, by_ns
assert len([a for a in alarms if a["Namespace"] == "AWS/Lambda"]) == 2 * functions, len(alarms)
PY
[ "$(aws events list-targets-by-rule --rule "$PREFIX-scale-execution-failed-rule" --query 'Targets[0].Arn' --output text)" = "$TOPIC" ] || fail "failed-execution rule target"
aws cloudwatch get-dashboard --dashboard-name "$PREFIX-control-plane" --query DashboardBody --output text |
  "$VENV/bin/python" -c 'import json, sys; assert len(json.load(sys.stdin)["widgets"]) >= 8' || fail "dashboard $PREFIX-control-plane"
say "ok: monitoring ($(grep -c AlarmName "$WORK/alarms.json") alarms -> topic with its KMS key, failed-execution rule -> topic, dashboard)"

ASG=$PREFIX-autoscaling-group
asg=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \
  --query 'AutoScalingGroups[0].[DesiredCapacity,MinSize,MaxSize,NewInstancesProtectedFromScaleIn,SuspendedProcesses[0].ProcessName,length(Instances)]' --output text)
[ "$(tr -s '\t' ' ' <<<"$asg")" = "$CLUSTER_SIZE $CLUSTER_SIZE $((7 * CLUSTER_SIZE)) True ReplaceUnhealthy $CLUSTER_SIZE" ] || fail "ASG desired/min/max/protect/suspended/instances: $asg"
running=$(aws ec2 describe-instances --filters Name=tag:weka_cluster_name,Values=Prod Name=tag:weka_hostgroup_type,Values=backend Name=instance-state-name,Values=running \
  --query 'length(Reservations[].Instances[])' --output text)
[ "$running" = "$CLUSTER_SIZE" ] || fail "$running tagged running backends"
# shellcheck disable=SC2016 # '$Latest' is a literal version name
aws ec2 describe-launch-template-versions --launch-template-name "$PREFIX-backend-launch-template" --versions '$Latest' \
  --query 'LaunchTemplateVersions[0].LaunchTemplateData' --output json >"$WORK/lt.json"
"$VENV/bin/python" - "$WORK/lt.json" "$PREFIX" <<'PY' || fail "launch template / user data"
import base64, json, sys
lt, prefix = json.load(open(sys.argv[1])), sys.argv[2]
m, errors = lt["MetadataOptions"], []
if (m.get("HttpTokens"), m.get("HttpPutResponseHopLimit"), m.get("InstanceMetadataTags")) != ("required", 1, "enabled"):
    errors.append(f"metadata options {m}")
if not (lt.get("DisableApiTermination") and lt.get("DisableApiStop")):
    errors.append("termination/stop protection off")
if not any(b["DeviceName"] == "/dev/sdp" and b["Ebs"]["VolumeType"] == "gp3" for b in lt["BlockDeviceMappings"]):
    errors.append("no gp3 /dev/sdp volume")
ud = base64.b64decode(lt["UserData"]).decode()
if "local-dummy-token" in ud:
    errors.append("token leaked into user data")
for needle in (f"{prefix}-deploy-lambda", "FunctionError", "X-aws-ec2-metadata-token", "jq -er", "/var/log", "weka_deploy.log",
               "dynamic/instance-identity/document", "dynamic/instance-identity/signature"):
    if needle not in ud:
        errors.append(f"user data lacks {needle}")
print("\n".join(errors) or "launch template checks passed")
sys.exit(1 if errors else 0)
PY
say "ok: ASG $ASG desired=min=$CLUSTER_SIZE max=$((7 * CLUSTER_SIZE)) protected, $running tagged running backends, IMDSv2 launch template, user data without token"
hooks=$(aws autoscaling describe-lifecycle-hooks --auto-scaling-group-name "$ASG" \
  --query 'sort_by(LifecycleHooks, &LifecycleHookName)[].[LifecycleHookName,LifecycleTransition,DefaultResult,HeartbeatTimeout]' --output text)
[ "$(tr -s '\t\n' '  ' <<<"$hooks" | sed 's/ $//')" = "weka-launch autoscaling:EC2_INSTANCE_LAUNCHING ABANDON 900 weka-terminate autoscaling:EC2_INSTANCE_TERMINATING CONTINUE 900" ] ||
  fail "lifecycle hooks: $hooks"
say "ok: lifecycle hooks weka-launch (ABANDON, 900 s) and weka-terminate (CONTINUE, 900 s)"

# --- drift: a second plan right after the apply must change nothing ---------------
terraform plan -no-color -detailed-exitcode -out="$WORK/drift.tfplan" -parallelism=20 "${TFVARS[@]}" >"$WORK/drift.log" 2>&1 && rc=0 || rc=$?
[ $rc = 0 ] || [ $rc = 2 ] || { tail -30 "$WORK/drift.log"; fail "terraform plan after the apply (exit $rc)"; }
if [ $rc = 2 ]; then
  terraform show -json "$WORK/drift.tfplan" >"$WORK/drift.json"
  "$VENV/bin/python" "$ROOT/infra/tests/plan_drift.py" "$WORK/drift.json" || fail "perpetual diff after the apply ($WORK/drift.log)"
fi
say "ok: a second plan after the apply has no changes (beyond the emulator's known quirks)"

# moto gap: DeleteAutoScalingGroup ignores ForceDelete and never terminates scale-in protected
# instances (AWS terminates them). Lift the protection here so moto's scale-to-0 removes them.
ids=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" --query 'AutoScalingGroups[0].Instances[].InstanceId' --output text)
# shellcheck disable=SC2086
aws autoscaling set-instance-protection --auto-scaling-group-name "$ASG" --no-protected-from-scale-in --instance-ids $ids

# --- destroy -------------------------------------------------------------------
say "terraform destroy"
terraform destroy -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" >"$WORK/destroy.log" 2>&1 || { tail -60 "$WORK/destroy.log"; fail "terraform destroy"; }
[ "$(terraform state list 2>/dev/null | wc -l)" = 0 ] || fail "state not empty after destroy"
aws dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1 && fail "table still exists"
[ "$(aws lambda list-functions --query "length(Functions[?starts_with(FunctionName, '$PREFIX-')])" --output text)" = 0 ] || fail "functions left"
[ "$(aws stepfunctions list-state-machines --query "length(stateMachines[?name=='$PREFIX-scale-down-state-machine'])" --output text)" = 0 ] || fail "state machine left"
[ "$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" --query 'length(AutoScalingGroups)' --output text)" = 0 ] || fail "ASG left"
left=$(aws ec2 describe-instances --filters Name=tag:weka_cluster_name,Values=Prod Name=instance-state-name,Values=pending,running,stopping,stopped --query 'length(Reservations[].Instances[])' --output text)
[ "$left" = 0 ] || fail "$left instances left"
[ "$(aws secretsmanager list-secrets --query "length(SecretList[?starts_with(Name, 'weka/$PREFIX/')])" --output text)" = 0 ] || fail "secrets left"
if [ "$LAMBDA_CODE" = s3 ]; then
  [ "$(aws s3api list-objects-v2 --bucket "$CODE_BUCKET" --query 'length(Contents || `[]`)' --output text)" = 0 ] || fail "staged zips left"
fi
aws ec2 describe-key-pairs --key-names "$PREFIX-ssh-key" >/dev/null 2>&1 && fail "key pair left"
[ ! -e "$KEY_PATH" ] || fail "private key file left"
say "ok: destroy removed table, functions, state machine, ASG, instances, secrets, key pair"
say "PASS (total $(($(date +%s) - START)) s)"
