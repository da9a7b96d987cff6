#!/usr/bin/env bash
# Apply the module (through infra/examples/local) to the patched moto server on loopback,
# check what it created with the AWS CLI, destroy it and check the cleanup.
# Env: VENV (default <repo>/.venv), LAMBDAS_DIR (dir with <function>/bootstrap.zip; default
# <repo>/target/lambda if complete, else dummy zips), KEEP_TMP=1 keeps the work dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
FUNCTIONS=(deploy clusterize clusterize-finalization report status fetch scale-down terminate transient)
CLUSTER_SIZE=6
PREFIX=weka-local
START=$(date +%s)

say() { printf '[apply_moto %3ss] %s\n' "$(($(date +%s) - START))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

command -v terraform >/dev/null || fail "terraform not found"
[ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/aws" ] || fail "venv $VENV lacks python/aws (pip install -r tests/requirements.txt)"

WORK=$(mktemp -d /tmp/weka-infra-moto.XXXXXX)
MOTO_PID=""
cleanup() {
  rc=$?
  if [ -n "$MOTO_PID" ] && kill -0 "$MOTO_PID" 2>/dev/null; then kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; fi
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
PORT=$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MOTO_PORT=$PORT "$VENV/bin/python" "$ROOT/tests/emulator/moto_server.py" -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/" || fail "moto did not start (see $WORK/moto.log)"
say "moto pid $MOTO_PID on 127.0.0.1:$PORT"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
aws() { "$VENV/bin/aws" --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 "$@"; }

# --- terraform (work on a copy: state, lock file and .terraform stay in $WORK) --
mkdir -p "$WORK/src"
cp -r "$ROOT/infra" "$ROOT/state-machine" "$WORK/src/"
rm -rf "$WORK/src/infra/examples/local/.terraform" "$WORK/src/infra/examples/local/"*.tfstate*
export TF_IN_AUTOMATION=1 TF_INPUT=0
export TF_CLI_CONFIG_FILE=$WORK/terraformrc
: >"$TF_CLI_CONFIG_FILE"
TFVARS=(-var "aws_endpoint=http://127.0.0.1:$PORT" -var "lambdas_dir=$ZIPS" -var "cluster_size=$CLUSTER_SIZE")
cd "$WORK/src/infra/examples/local"
terraform init -no-color -backend=false -plugin-dir=/opt/tf-plugins >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log"; fail "terraform init"; }
say "terraform apply"
terraform apply -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" >"$WORK/apply.log" 2>&1 || { tail -60 "$WORK/apply.log"; fail "terraform apply"; }
say "apply done: $(grep -c 'Creation complete' "$WORK/apply.log") resources created"

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
        "instances": {"L": []}, "instance_ids": {"L": []}}
sys.exit(0 if item == want else 1)
PY
  say "ok: item $1 = initial state (size $2)"
}
check_item "$PREFIX-state" "$CLUSTER_SIZE"
check_item "$PREFIX-nfs-state" 0

[ "$(aws dynamodb describe-table --table-name "$TABLE" --query 'Table.KeySchema[].AttributeName' --output text)" = "pk	sk" ] || fail "table key schema"
[ "$(aws dynamodb describe-time-to-live --table-name "$TABLE" --query 'TimeToLiveDescription.AttributeName' --output text)" = "expires_at" ] || fail "table TTL"
[ "$(aws dynamodb describe-continuous-backups --table-name "$TABLE" --query 'ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus' --output text)" = "ENABLED" ] || fail "PITR"
say "ok: table $TABLE (pk/sk, TTL expires_at, PITR)"

n=0
for f in "${FUNCTIONS[@]}"; do
  cfg=$(aws lambda get-function-configuration --function-name "$PREFIX-$f-lambda" --query '[Runtime,Handler,Architectures[0],Role]' --output text) || fail "lambda $f missing"
  read -r rt h arch role <<<"$cfg"
  [ "$rt/$h/$arch" = "provided.al2023/bootstrap/arm64" ] || fail "lambda $f config: $cfg"
  case "$role" in *"$f-lambda-role") ;; *) fail "lambda $f role $role is not its own" ;; esac
  n=$((n + 1))
done
[ "$(aws lambda list-functions --query "length(Functions[?starts_with(FunctionName, '$PREFIX-')])" --output text)" = 9 ] || fail "expected 9 functions"
env_keys=$(aws lambda get-function-configuration --function-name "$PREFIX-status-lambda" --query 'Environment.Variables' --output json)
for k in CLUSTER_NAME STATE_TABLE STATE_KEY NFS_STATE_KEY USERNAME_ID DEPLOYMENT_PASSWORD_ID ADMIN_PASSWORD_ID WEKA_API_URL_TEMPLATE ASG_NAME; do
  grep -q "\"$k\"" <<<"$env_keys" || fail "status lambda lacks env $k"
done
say "ok: $n lambdas (provided.al2023, arm64, bootstrap, one role each; status env complete)"

SM_ARN=$(terraform output -raw state_machine_arn)
def=$(aws stepfunctions describe-state-machine --state-machine-arn "$SM_ARN" --query definition --output text) || fail "state machine missing"
for f in fetch scale-down terminate transient; do grep -q "function:$PREFIX-$f-lambda" <<<"$def" || fail "state machine does not call $f"; done
[ "$(aws events list-targets-by-rule --rule "$PREFIX-scale-down-trigger-rule" --query 'Targets[0].Arn' --output text)" = "$SM_ARN" ] || fail "EventBridge target"
[ "$(aws events describe-rule --name "$PREFIX-scale-down-trigger-rule" --query ScheduleExpression --output text)" = "rate(1 minute)" ] || fail "schedule"
say "ok: state machine (fetch/scale-down/terminate/transient) + rate(1 minute) rule"

ASG=$PREFIX-autoscaling-group
read -r des min max prot susp <<<"$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \
  --query 'AutoScalingGroups[0].[DesiredCapacity,MinSize,MaxSize,NewInstancesProtectedFromScaleIn,SuspendedProcesses[0].ProcessName]' --output text)"
[ "$des/$min/$max/$prot/$susp" = "$CLUSTER_SIZE/$CLUSTER_SIZE/$((7 * CLUSTER_SIZE))/True/ReplaceUnhealthy" ] || fail "ASG settings: $des/$min/$max/$prot/$susp"
inst=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" --query 'length(AutoScalingGroups[0].Instances)' --output text)
[ "$inst" = "$CLUSTER_SIZE" ] || fail "ASG has $inst instances"
running=$(aws ec2 describe-instances --filters Name=tag:weka_cluster_name,Values=local Name=tag:weka_hostgroup_type,Values=backend Name=instance-state-name,Values=running \
  --query 'length(Reservations[].Instances[])' --output text)
[ "$running" = "$CLUSTER_SIZE" ] || fail "$running tagged running backends"
lt=$(aws ec2 describe-launch-template-versions --launch-template-name "$PREFIX-backend-launch-template" --versions '$Latest' \
  --query 'LaunchTemplateVersions[0].LaunchTemplateData.[MetadataOptions.HttpTokens,MetadataOptions.HttpPutResponseHopLimit,DisableApiTermination,BlockDeviceMappings[0].DeviceName]' --output text)
[ "$(tr -s '\t' ' ' <<<"$lt")" = "required 1 True /dev/sdp" ] || fail "launch template: $lt"
say "ok: ASG $ASG desired=min=$CLUSTER_SIZE max=$((7 * CLUSTER_SIZE)), $inst tagged running instances, IMDSv2 launch template"

ud=$(aws ec2 describe-launch-template-versions --launch-template-name "$PREFIX-backend-launch-template" --versions '$Latest' \
  --query 'LaunchTemplateVersions[0].LaunchTemplateData.UserData' --output text | base64 -d)
grep -q "local-dummy-token" <<<"$ud" && fail "token leaked into user data"
grep -q "$PREFIX-deploy-lambda" <<<"$ud" || fail "user data does not invoke deploy"
say "ok: user data invokes $PREFIX-deploy-lambda and holds no token"

# --- destroy -------------------------------------------------------------------
say "terraform destroy"
terraform destroy -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" >"$WORK/destroy.log" 2>&1 || { tail -60 "$WORK/destroy.log"; fail "terraform destroy"; }
[ "$(terraform state list 2>/dev/null | wc -l)" = 0 ] || fail "state not empty after destroy"
aws dynamodb describe-table --table-name "$TABLE" >/dev/null 2>&1 && fail "table still exists"
[ "$(aws lambda list-functions --query "length(Functions[?starts_with(FunctionName, '$PREFIX-')])" --output text)" = 0 ] || fail "functions left"
[ "$(aws stepfunctions list-state-machines --query "length(stateMachines[?name=='$PREFIX-scale-down-state-machine'])" --output text)" = 0 ] || fail "state machine left"
[ "$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" --query 'length(AutoScalingGroups)' --output text)" = 0 ] || fail "ASG left"
left=$(aws ec2 describe-instances --filters Name=tag:weka_cluster_name,Values=local Name=instance-state-name,Values=pending,running,stopping,stopped --query 'length(Reservations[].Instances[])' --output text)
[ "$left" = 0 ] || fail "$left instances left"
[ "$(aws secretsmanager list-secrets --query "length(SecretList[?starts_with(Name, 'weka/$PREFIX/')])" --output text)" = 0 ] || fail "secrets left"
say "ok: destroy removed table, functions, state machine, ASG, instances, secrets"
say "PASS (total $(($(date +%s) - START)) s)"
