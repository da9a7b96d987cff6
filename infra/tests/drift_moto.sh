#!/usr/bin/env bash
# Drift check of the full-featured configuration: apply infra/examples/local with every optional
# part on (internal ALB with the 443 listener and the self-signed default certificate, made by the
# real `certificate` binary, which Terraform invokes through the Lambda router, OBS tiering bucket, 2 NFS gateways in their ASG,
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
ROUTER_PID=""
cleanup() {
  rc=$?
  if [ -n "$ROUTER_PID" ]; then kill "$ROUTER_PID" 2>/dev/null || true; fi
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

# No alb_cert_arn: the module makes the ALB's certificate with its `certificate` function, which
# Terraform invokes during the apply. The Lambda router (AWS calls forwarded to moto) runs the
# real binary for it; every other function is never invoked here.
BIN_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/debug
[ -x "$BIN_DIR/certificate" ] || fail "no $BIN_DIR/certificate: build the functions first (cargo build --workspace --bins)"
cat >"$WORK/functions.json" <<EOF
{"WEKA-Prod-certificate-lambda": {"binary": "certificate", "timeout": 60,
  "env": {"CLUSTER_NAME": "Prod", "AWS_ENDPOINT_URL": "$AWS_ENDPOINT_URL", "AWS_REGION": "us-east-1",
          "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}}}
EOF
ROUTER_PORT=$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/router"
"$VENV/bin/python" "$ROOT/tests/emulator/lambda_router.py" --port "$ROUTER_PORT" --moto "$AWS_ENDPOINT_URL" \
  --bin-dir "$BIN_DIR" --functions "$WORK/functions.json" --log-dir "$WORK/router" >"$WORK/router.log" 2>&1 &
ROUTER_PID=$!
for _ in $(seq 1 100); do grep -q ready "$WORK/router.log" && break; sleep 0.2; done
grep -q ready "$WORK/router.log" || fail "the Lambda router did not start (see $WORK/router.log)"
ROUTER=http://127.0.0.1:$ROUTER_PORT

FEATURES="{create_alb = true, tiering_enable_obs_integration = true,
  nfs_protocol_gateways_number = 2, smb_protocol_gateways_number = 3, s3_protocol_gateways_number = 1, clients_number = 1}"
TFVARS=(-var "aws_endpoint=$ROUTER" -var "lambdas_dir=$WORK/lambda" -var "lambdas_upload_s3_bucket=$CODE_BUCKET"
  -var "ssh_private_key_path=$WORK/key.pem" -var "features=$FEATURES")
cd "$WORK/src/infra/examples/local"
terraform init -no-color -backend=false -plugin-dir=/opt/tf-plugins >"$WORK/init.log" 2>&1 || { cat "$WORK/init.log"; fail "terraform init"; }
say "terraform apply: ALB (14000 + 443, self-signed certificate), OBS, 2 NFS, 3 SMB, 1 S3 gateway, 1 client"
terraform apply -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" >"$WORK/apply.log" 2>&1 || { tail -40 "$WORK/apply.log"; fail "terraform apply"; }
created=$(grep -c 'Creation complete' "$WORK/apply.log")
for r in 'aws_lb.this\[0\]' 'aws_lb_listener.https\[0\]' 'aws_lambda_invocation.certificate\[0\]' 'aws_s3_bucket.obs\[0\]' 'aws_autoscaling_group.nfs\[0\]' \
  'aws_instance.gateway\["smb-2"\]' 'aws_instance.gateway\["s3-0"\]' 'aws_instance.client\[0\]'; do
  grep -q "module.weka.$r: Creation complete" "$WORK/apply.log" || fail "the full-featured apply did not create $r"
done
say "applied: $created resources (ALB, 443 listener, OBS bucket, NFS ASG, SMB/S3 gateways, client among them)"
# The certificate: one, imported by the function, tagged, for the ALB's name, on both listeners.
"$VENV/bin/python" - "$AWS_ENDPOINT_URL" <<'PY' || fail "the ALB's self-signed certificate"
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1")
acm, elb = boto3.client("acm", **kw), boto3.client("elbv2", **kw)
arns = [c["CertificateArn"] for c in acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})["CertificateSummaryList"]]
ours = [a for a in arns if {"Key": "weka_alb_certificate", "Value": "Prod"} in acm.list_tags_for_certificate(CertificateArn=a)["Tags"]]
assert len(ours) == 1, f"one certificate tagged for the deployment, found {ours} among {arns}"
detail = acm.describe_certificate(CertificateArn=ours[0])["Certificate"]
lb = elb.describe_load_balancers()["LoadBalancers"][0]
assert detail["SubjectAlternativeNames"] == [lb["DNSName"].lower()], (detail["SubjectAlternativeNames"], lb["DNSName"])
listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
assert sorted((l["Port"], l["Protocol"], l["Certificates"][0]["CertificateArn"]) for l in listeners) == \
    [(443, "HTTPS", ours[0]), (14000, "HTTPS", ours[0])], listeners
assert detail["InUseBy"] == [lb["LoadBalancerArn"]], detail["InUseBy"]
print(f"certificate {ours[0]} for {detail['SubjectAlternativeNames']}, on the 14000 and 443 listeners")
PY

terraform plan -no-color -detailed-exitcode -out="$WORK/drift.tfplan" -parallelism=20 "${TFVARS[@]}" >"$WORK/drift.log" 2>&1 && rc=0 || rc=$?
[ $rc = 0 ] || [ $rc = 2 ] || { tail -30 "$WORK/drift.log"; fail "terraform plan after the apply (exit $rc)"; }
if [ $rc = 2 ]; then
  terraform show -json "$WORK/drift.tfplan" >"$WORK/drift.json"
  "$VENV/bin/python" "$ROOT/infra/tests/plan_drift.py" "$WORK/drift.json" || fail "perpetual diff after the full-featured apply ($WORK/drift.log)"
fi
say "ok: a second plan after the full-featured apply has no changes (beyond the emulator's known quirks)"

# Destroying the certificate's invocation takes the listeners down first (they use it), then the
# function deletes the certificate: moto, like ACM, refuses to delete one a listener still uses.
terraform destroy -no-color -auto-approve -parallelism=20 "${TFVARS[@]}" -target='module.weka.aws_lambda_invocation.certificate[0]' \
  >"$WORK/destroy-certificate.log" 2>&1 || { tail -30 "$WORK/destroy-certificate.log"; fail "destroying the self-signed certificate"; }
"$VENV/bin/python" - "$AWS_ENDPOINT_URL" <<'PY' || fail "the certificate outlived its destroy"
import sys, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1")
acm, elb = boto3.client("acm", **kw), boto3.client("elbv2", **kw)
left = acm.list_certificates(Includes={"keyTypes": ["EC_prime256v1"]})["CertificateSummaryList"]
assert left == [], left
lb = elb.describe_load_balancers()["LoadBalancers"][0]["LoadBalancerArn"]
assert elb.describe_listeners(LoadBalancerArn=lb)["Listeners"] == []
PY
say "ok: destroying the certificate took the listeners down first, then the function deleted it"
say "PASS (total $(($(date +%s) - START)) s)"
