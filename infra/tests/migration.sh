#!/usr/bin/env bash
# Switch a running deployment of WEKA's module to this module without losing the cluster.
#  1. apply infra/tests/migration (a root module calling a stand-in of WEKA's module,
#     tests/migration/reference: its addresses, names, `name`d secrets, `Key` table) to the
#     patched moto on loopback; write what the running cluster adds (the passwords clusterize
#     sets, the clusterized state item as go-cloud-lib writes it);
#  2. switch the module's source to this module (same inputs, minus the two the module dropped,
#     plus emulator-only ones) and plan: no ASG, EC2 instance, secret (or secret version),
#     DynamoDB table or item, launch template, placement group, instance profile, KMS key,
#     security group, VPC or subnet may be deleted or replaced; the ASG and the secrets must be
#     carried over from the reference's addresses (moved); the reference's table is forgotten;
#  3. apply; the same instances run in the same group, the secrets keep their ARNs and values,
#     the reference's table and its state item are untouched beside our new table; a second
#     plan has no changes.
# Env: VENV (default <repo>/.venv), INFRA_SRC (module to migrate to; default <repo>/infra:
# point it at an older checkout to see the test fail), KEEP_TMP=1 keeps the work dir,
# MIGRATION_WITH_ALB=1 adds the reference's ALB (with a certificate of the caller's: HTTPS 14000
# and 443 listeners, HTTPS target group, ASG attachment; ~1-2 min more, so CI leaves it off).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
INFRA_SRC=$(cd "${INFRA_SRC:-$ROOT/infra}" && pwd)
# Every function of the workspace (one directory each under functions/).
mapfile -t FUNCTIONS < <(cd "$ROOT/functions" && ls -d -- */ | tr -d /)
BUCKET=weka-migration-code
PREFIX=WEKA-Prod
START=$(date +%s)

say() { printf '[migration %3ss] %s\n' "$(($(date +%s) - START))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

command -v terraform >/dev/null || fail "terraform not found"
[ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/aws" ] || fail "venv $VENV lacks python/aws (pip install -r tests/requirements.txt)"
PY=$VENV/bin/python

WORK=$(mktemp -d /tmp/weka-infra-migration.XXXXXX)
MOTO_STARTED=""
cleanup() {
  rc=$?
  if [ -n "$MOTO_STARTED" ]; then VENV=$VENV "$ROOT/tests/emulator/moto.sh" stop "$WORK" || true; fi
  if [ "${KEEP_TMP:-0}" = 1 ] || [ $rc -ne 0 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

VENV=$VENV "$ROOT/tests/emulator/moto.sh" start "$WORK" >/dev/null || fail "moto did not start (see $WORK/moto.log)"
MOTO_STARTED=1
PORT=$(cat "$WORK/moto.port")
say "moto pid $(cat "$WORK/moto.pid") on 127.0.0.1:$PORT; module under test: $INFRA_SRC"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
aws() { "$VENV/bin/aws" --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 "$@"; }
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=$WORK/terraformrc
: >"$TF_CLI_CONFIG_FILE"
export PATH="$VENV/bin:$PATH"

# --- sources (a copy: state and .terraform stay in $WORK) and code ---------------
mkdir -p "$WORK/src"
cp -r "$INFRA_SRC" "$WORK/src/infra"
cp -r "$ROOT/state-machine" "$WORK/src/"
rm -rf "$WORK/src/infra/tests/migration"
cp -r "$ROOT/infra/tests/migration" "$WORK/src/infra/tests/migration"
FIX=$WORK/src/infra/tests/migration
find "$WORK/src/infra" \( -name .terraform -o -name .terraform.lock.hcl -o -name '*.tfstate*' \) -prune -exec rm -rf {} +

"$PY" - "$WORK/lambda" "${FUNCTIONS[@]}" <<'PY'
import os, sys, zipfile
out, fns = sys.argv[1], sys.argv[2:]
for f in fns + ["reference"]:
    os.makedirs(f"{out}/{f}", exist_ok=True)
    with zipfile.ZipFile(f"{out}/{f}/bootstrap.zip", "w") as z:
        info = zipfile.ZipInfo("bootstrap"); info.external_attr = 0o755 << 16
        z.writestr(info, f"#!/bin/sh\necho dummy {f}\n")
PY
aws s3api create-bucket --bucket "$BUCKET" >/dev/null || fail "create bucket $BUCKET"
aws s3 cp --quiet "$WORK/lambda/reference/bootstrap.zip" "s3://$BUCKET/reference/lambdas.zip" || fail "upload the reference's zip"

TFVARS=(-var "aws_endpoint=$AWS_ENDPOINT_URL" -var "code_bucket=$BUCKET" -var "lambdas_dir=$WORK/lambda")
WITH_ALB=${MIGRATION_WITH_ALB:-0}
if [ "$WITH_ALB" = 1 ]; then
  CERT=$(aws acm request-certificate --domain-name weka.example.internal --query CertificateArn --output text) || fail "request an ACM certificate"
  TFVARS+=(-var "create_alb=true" -var "alb_cert_arn=$CERT")
fi
cd "$FIX"

# --- 1. the reference's deployment --------------------------------------------------
terraform init -no-color -backend=false -plugin-dir=/opt/tf-plugins >"$WORK/init1.log" 2>&1 || { cat "$WORK/init1.log"; fail "terraform init (reference)"; }
say "terraform apply: the reference stand-in"
terraform apply -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" >"$WORK/apply1.log" 2>&1 || { tail -40 "$WORK/apply1.log"; fail "terraform apply (reference)"; }
say "reference applied: $(grep -c 'Creation complete\|Import complete' "$WORK/apply1.log") resources"

ASG=$PREFIX-autoscaling-group
# What the running cluster added after the apply: clusterize's passwords and the clusterized
# state item, in go-cloud-lib's layout (protocol.ClusterState marshalled with its JSON names;
# its nil maps are NULL).
ids=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" --query 'AutoScalingGroups[0].Instances[].InstanceId' --output text)
[ "$(wc -w <<<"$ids")" = 6 ] || fail "the reference's ASG has $(wc -w <<<"$ids") instances, not 6: $ids"
secret_arn() { aws secretsmanager describe-secret --secret-id "weka/$PREFIX/$1-Xy7q" --query ARN --output text; }
aws secretsmanager put-secret-value --secret-id "$(secret_arn weka-password)" --secret-string 'Adm1n-pw-from-clusterize' >/dev/null
aws secretsmanager put-secret-value --secret-id "$(secret_arn weka-deployment-password)" --secret-string 'Dep1oy-pw-from-clusterize' >/dev/null
"$PY" - "$PREFIX-state" $ids >"$WORK/state-item.json" <<'PY'
import json, sys
key, ids = sys.argv[1], sys.argv[2:]
vm = lambda i: {"M": {"name": {"S": i}, "protocol": {"S": ""}, "container_uid": {"S": ""}, "nic_name": {"S": ""}}}
print(json.dumps({"Key": {"S": key}, "Locked": {"BOOL": False}, "Value": {"M": {
    "initial_size": {"N": "6"}, "desired_size": {"N": "6"}, "clusterization_target": {"N": "6"},
    "progress": {"NULL": True}, "errors": {"NULL": True}, "debug": {"NULL": True},
    "instances": {"L": [vm(i) for i in ids]}, "clusterized": {"BOOL": True},
    "nfs_instances_migrated": {"BOOL": False}}}}))
PY
aws dynamodb put-item --table-name "$PREFIX-weka-deployment" --item "file://$WORK/state-item.json" || fail "write the clusterized state item"

snapshot() { # everything that must survive, one JSON document
  local out=$1 name
  {
    echo '{"instances":'
    aws ec2 describe-instances --filters Name=tag:weka_cluster_name,Values=Prod Name=instance-state-name,Values=pending,running \
      --query 'sort(Reservations[].Instances[].InstanceId)' --output json
    echo ',"asg":'
    aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$ASG" \
      --query 'AutoScalingGroups[0].{arn:AutoScalingGroupARN,created:CreatedTime,instances:sort(Instances[].InstanceId),launch_template:LaunchTemplate.LaunchTemplateId}' --output json
    echo ',"secrets":{'
    local first=1
    for name in get_weka_io_token weka-username weka-password weka-deployment-password; do
      [ $first = 1 ] || echo ','
      first=0
      printf '"%s":' "$name"
      aws secretsmanager get-secret-value --secret-id "weka/$PREFIX/$name-Xy7q" --query '{arn:ARN,value:SecretString}' --output json
    done
    echo '},"reference_table":'
    aws dynamodb describe-table --table-name "$PREFIX-weka-deployment" --query 'Table.{arn:TableArn,keys:KeySchema}' --output json
    echo ',"state_item":'
    aws dynamodb get-item --table-name "$PREFIX-weka-deployment" --key "{\"Key\":{\"S\":\"$PREFIX-state\"}}" --query Item --output json
    echo '}'
  } >"$out"
}
snapshot "$WORK/before.json"

# --- 2. switch the source and plan ----------------------------------------------------
"$PY" - main.tf <<'PY'
import re, sys
path = sys.argv[1]
out = []
for line in open(path).read().splitlines():
    if line.rstrip().endswith("# reference only"):
        continue
    line = re.sub(r'^(\s*)# ours: ', r'\1', line)
    line = re.sub(r'source = "\./reference".*', 'source = "../.."', line)
    out.append(line)
open(path, "w").write("\n".join(out) + "\n")
PY
grep -q 'source = "../.."' main.tf || fail "switching the module source failed"
terraform init -no-color -backend=false -plugin-dir=/opt/tf-plugins >"$WORK/init2.log" 2>&1 || { cat "$WORK/init2.log"; fail "terraform init (this module)"; }
say "terraform plan: the same root module on this module"
terraform plan -no-color -out="$WORK/migrate.tfplan" -parallelism=20 "${TFVARS[@]}" >"$WORK/plan2.log" 2>&1 || { tail -40 "$WORK/plan2.log"; fail "terraform plan after the switch"; }
terraform show -json "$WORK/migrate.tfplan" >"$WORK/migrate.json"
"$PY" - "$WORK/migrate.json" "$WITH_ALB" <<'PY' || fail "the switch would destroy or replace the running cluster (plan: $WORK/plan2.log)"
import json, sys
plan = json.load(open(sys.argv[1]))
M = "module.weka_deployment."
# Types whose deletion or replacement loses the cluster, its data or its credentials.
protected = {"aws_autoscaling_group", "aws_instance", "aws_secretsmanager_secret", "aws_secretsmanager_secret_version",
             "aws_dynamodb_table", "aws_dynamodb_table_item", "aws_launch_template", "aws_placement_group",
             "aws_iam_instance_profile", "aws_kms_key", "aws_security_group", "aws_vpc", "aws_subnet"}
changes = {rc["address"]: rc for rc in plan.get("resource_changes", [])}
errors = []
for addr, rc in sorted(changes.items()):
    actions = rc["change"]["actions"]
    if rc["type"] in protected and "delete" in actions:
        why = rc["change"].get("replace_paths")
        errors.append(f"{addr}: {'/'.join(actions)}" + (f" (forced by {why})" if why else ""))
# Carried over, not created beside the old one.
must_move = {
    "aws_autoscaling_group.backend": "aws_autoscaling_group.autoscaling_group",
    'aws_launch_template.this["backend"]': "aws_launch_template.launch_template",
    "aws_secretsmanager_secret.token[0]": "aws_secretsmanager_secret.get_weka_io_token[0]",
    "aws_secretsmanager_secret.username": "aws_secretsmanager_secret.weka_username",
    "aws_secretsmanager_secret.admin_password": "aws_secretsmanager_secret.weka_password",
    "aws_secretsmanager_secret.deployment_password": "aws_secretsmanager_secret.weka_deployment_password",
    "aws_sfn_state_machine.scale_down": "aws_sfn_state_machine.scale_down_state_machine",
    'aws_lambda_function.this["deploy"]': "aws_lambda_function.deploy_lambda",
    "aws_security_group.cluster[0]": "module.security_group[0].aws_security_group.sg",
    "aws_iam_instance_profile.backend[0]": "module.iam[0].aws_iam_instance_profile.instance_profile",
}
for to, frm in must_move.items():
    rc = changes.get(M + to)
    if rc is None:
        errors.append(f"{M}{to}: not in the plan (expected it carried over from {M}{frm})")
    elif rc.get("previous_address") != M + frm:
        errors.append(f"{M}{to}: {'/'.join(rc['change']['actions'])} with previous address {rc.get('previous_address')}, not moved from {M}{frm}")
forgotten = ["aws_dynamodb_table.weka_deployment[0]", "aws_dynamodb_table_item.weka_deployment_state"]
if sys.argv[2] == "1":
    for to, frm in {"aws_lb.this[0]": "aws_lb.alb[0]", "aws_lb_listener.api[0]": "aws_lb_listener.lb_weka_listener[0]",
                    "aws_lb_listener.https[0]": "aws_lb_listener.lb_listener[0]",
                    "aws_subnet.alb[0]": "module.network[0].aws_subnet.public_subnet[1]"}.items():
        rc = changes.get(M + to)
        if rc is None or rc.get("previous_address") != M + frm or "delete" in rc["change"]["actions"]:
            errors.append(f"{M}{to}: {rc and rc['change']['actions']} from {rc and rc.get('previous_address')}, expected carried over from {M}{frm}")
    # In use by the listeners and the ASG until they move to ours: forgotten, never destroyed.
    forgotten += ["aws_lb_target_group.alb_target_group[0]", "aws_autoscaling_attachment.alb_autoscaling_attachment[0]"]
# The reference's table and state item: forgotten (left in AWS), never destroyed.
for addr in forgotten:
    rc = changes.get(M + addr)
    got = rc["change"]["actions"] if rc else None
    if got != ["forget"]:
        errors.append(f"{M}{addr}: actions {got}, expected ['forget'] (removed, destroy = false)")
ours = changes.get(M + "aws_dynamodb_table.state")
name = ours and ours["change"]["after"].get("name")
if not ours or ours["change"]["actions"] != ["create"] or name == "WEKA-Prod-weka-deployment":
    errors.append(f"our state table: {ours and ours['change']['actions']} named {name!r} (must be created beside the reference's WEKA-Prod-weka-deployment)")
counts = {}
for rc in changes.values():
    a = "/".join(rc["change"]["actions"])
    counts[a] = counts.get(a, 0) + 1
print("plan actions:", ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
if errors:
    print("\n".join("  " + e for e in errors))
    sys.exit(1)
PY
say "ok: plan deletes or replaces no ASG, instance, secret, table, launch template, placement group, profile, key, SG, VPC or subnet; ASG, secrets, state machine carried over; reference table forgotten"

# --- 3. apply and compare ----------------------------------------------------------
say "terraform apply: the migration"
terraform apply -no-color -auto-approve -parallelism=20 "$WORK/migrate.tfplan" >"$WORK/apply2.log" 2>&1 || { tail -40 "$WORK/apply2.log"; fail "terraform apply of the migration"; }
snapshot "$WORK/after.json"
"$PY" - "$WORK/before.json" "$WORK/after.json" <<'PY' || fail "the cluster did not survive the switch"
import json, sys
before, after = (json.load(open(p)) for p in sys.argv[1:3])
errors = [f"{k}: before {before[k]!r}, after {after[k]!r}" for k in before if before[k] != after[k]]
if len(before["instances"]) != 6:
    errors.append(f"{len(before['instances'])} backends before the switch")
print("\n".join(errors) or f"same {len(after['instances'])} instances, ASG, secrets (ARNs and values), reference table and item")
sys.exit(1 if errors else 0)
PY
asg_out=$(terraform output -json | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("asg_name",{}).get("value",""))')
[ "$asg_out" = "$ASG" ] || fail "asg_name output after the switch: $asg_out, not $ASG"
[ "$(aws dynamodb describe-table --table-name "$PREFIX-weka-state" --query 'Table.KeySchema[].AttributeName' --output text)" = "pk	sk" ] ||
  fail "our state table $PREFIX-weka-state (pk/sk) missing"
say "ok: same instances in the same ASG, secrets keep ARNs and values, reference table and state item untouched, $PREFIX-weka-state created"

terraform plan -no-color -detailed-exitcode -out="$WORK/after.tfplan" -parallelism=20 "${TFVARS[@]}" >"$WORK/plan3.log" 2>&1 && rc=0 || rc=$?
[ $rc = 0 ] || [ $rc = 2 ] || { tail -30 "$WORK/plan3.log"; fail "plan after the migration (exit $rc)"; }
if [ $rc = 2 ]; then
  terraform show -json "$WORK/after.tfplan" >"$WORK/after-plan.json"
  "$PY" "$ROOT/infra/tests/plan_drift.py" "$WORK/after-plan.json" || fail "the plan after the migration is not empty ($WORK/plan3.log)"
fi
say "ok: a second plan after the migration has no changes (beyond the emulator's known quirks)"
say "PASS (total $(($(date +%s) - START)) s)"
