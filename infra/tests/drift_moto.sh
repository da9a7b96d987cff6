#!/usr/bin/env bash
# Drift check of the full-featured configuration: apply infra/examples/local with every optional
# part on (internal ALB with the 443 listener, OBS tiering bucket, 2 NFS gateways in their ASG,
# 3 SMB and 1 S3 gateway, 1 client) to the patched moto on loopback, then require that a second
# `terraform plan` changes nothing (plan_drift.py: only moto's known quirks, matched by shape, are
# let through). apply_moto.sh does the same for the default configuration. No destroy: moto is
# thrown away.
# Env: VENV (default <repo>/.venv), KEEP_TMP=1 keeps the work dir.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
# Every function of the workspace (one directory each under functions/).
mapfile -t FUNCTIONS < <(cd "$ROOT/functions" && ls -d -- */ | tr -d /)
CODE_BUCKET=weka-local-lambda-code
START=$(date +%s)

say() { printf '[drift_moto %3ss] %s\n' "$(($(date +%s) - START))" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

command -v terraform >/dev/null || fail "terraform not found"
[ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/aws" ] || fail "venv $VENV lacks python/aws (pip install -r tests/requirements.txt)"

WORK=$(mktemp -d /tmp/weka-infra-drift.XXXXXX)
MOTO_STARTED=""
cleanup() {
  rc=$?
  if [ -n "$MOTO_STARTED" ]; then VENV=$VENV "$ROOT/tests/emulator/moto.sh" stop "$WORK" || true; fi
  if [ "${KEEP_TMP:-0}" = 1 ] || [ $rc -ne 0 ]; then echo "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT INT TERM

"$VENV/bin/python" - "$WORK/lambda" "${FUNCTIONS[@]}" <<'PY'
import os, sys, zipfile
out, fns = sys.argv[1], sys.argv[2:]
for f in fns:
    os.makedirs(f"{out}/{f}", exist_ok=True)
    with zipfile.ZipFile(f"{out}/{f}/bootstrap.zip", "w") as z:
        info = zipfile.ZipInfo("bootstrap"); info.external_attr = 0o755 << 16
        z.writestr(info, f"#!/bin/sh\necho dummy {f}\n")
PY

VENV=$VENV "$ROOT/tests/emulator/moto.sh" start "$WORK" >/dev/null || fail "moto did not start (see $WORK/moto.log)"
MOTO_STARTED=1
PORT=$(cat "$WORK/moto.port")
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT
aws() { "$VENV/bin/aws" --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 "$@"; }
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1 TF_CLI_CONFIG_FILE=$WORK/terraformrc
: >"$TF_CLI_CONFIG_FILE"
export PATH="$VENV/bin:$PATH"
say "moto pid $(cat "$WORK/moto.pid") on 127.0.0.1:$PORT"

mkdir -p "$WORK/src"
cp -r "$ROOT/infra" "$ROOT/state-machine" "$WORK/src/"
find "$WORK/src/infra" \( -name .terraform -o -name .terraform.lock.hcl -o -name '*.tfstate*' \) -prune -exec rm -rf {} +
aws s3api create-bucket --bucket "$CODE_BUCKET" >/dev/null || fail "create bucket $CODE_BUCKET"
# The 443 listener's certificate (the module takes an ACM ARN; the emulator does not check it).
CERT=$(aws acm request-certificate --domain-name weka.example.internal --query CertificateArn --output text) || fail "request an ACM certificate"

FEATURES="{create_alb = true, alb_cert_arn = \"$CERT\", tiering_enable_obs_integration = true,
  nfs_protocol_gateways_number = 2, smb_protocol_gateways_number = 3, s3_protocol_gateways_number = 1, clients_number = 1}"
TFVARS=(-var "aws_endpoint=$AWS_ENDPOINT_URL" -var "lambdas_dir=$WORK/lambda" -var "lambdas_upload_s3_bucket=$CODE_BUCKET"
  -var "ssh_private_key_path=$WORK/key.pem" -var "features=$FEATURES")
cd "$WORK/src/infra/examples/local"
terraform init -no-color -backend=false -plugin-dir=/opt/tf-plugins >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log"; fail "terraform init"; }
say "terraform apply: ALB (14000 + 443), OBS, 2 NFS, 3 SMB, 1 S3 gateway, 1 client"
terraform apply -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" >"$WORK/apply.log" 2>&1 || { tail -40 "$WORK/apply.log"; fail "terraform apply"; }
created=$(grep -c 'Creation complete' "$WORK/apply.log")
for r in 'aws_lb.this\[0\]' 'aws_lb_listener.https\[0\]' 'aws_s3_bucket.obs\[0\]' 'aws_autoscaling_group.nfs\[0\]' \
  'aws_instance.gateway\["smb-2"\]' 'aws_instance.gateway\["s3-0"\]' 'aws_instance.client\[0\]'; do
  grep -q "module.weka.$r: Creation complete" "$WORK/apply.log" || fail "the full-featured apply did not create $r"
done
say "applied: $created resources (ALB, 443 listener, OBS bucket, NFS ASG, SMB/S3 gateways, client among them)"

terraform plan -no-color -detailed-exitcode -out="$WORK/drift.tfplan" -parallelism=20 "${TFVARS[@]}" >"$WORK/drift.log" 2>&1 && rc=0 || rc=$?
[ $rc = 0 ] || [ $rc = 2 ] || { tail -30 "$WORK/drift.log"; fail "terraform plan after the apply (exit $rc)"; }
if [ $rc = 2 ]; then
  terraform show -json "$WORK/drift.tfplan" >"$WORK/drift.json"
  "$VENV/bin/python" "$ROOT/infra/tests/plan_drift.py" "$WORK/drift.json" || fail "perpetual diff after the full-featured apply ($WORK/drift.log)"
fi
say "ok: a second plan after the full-featured apply has no changes (beyond the emulator's known quirks)"
say "PASS (total $(($(date +%s) - START)) s)"
