"""Issue 17's migration e2e on the local cloud (`tests/localcloud/run.sh migration`): one
deployment goes from WEKA's module to this one without losing its running cluster.

 1. infra/tests/migration, a root module calling a stand-in of WEKA's module
    (infra/tests/migration/reference: its resource addresses, `name`d secrets, `Key` table and
    state item), is applied to the local cloud's moto; what the running cluster adds is
    written as WEKA's module leaves it: the cluster itself in the WEKA simulator (the ASG's six
    instances, formed and started), the passwords clusterize sets, the clusterized state item;
 2. the module's source is switched to this module (INFRA_SRC or --infra-src: another checkout's
    infra/, to see the test fail on a module without infra/migration.tf) and planned: no ASG,
    EC2 instance, secret (or secret version), DynamoDB table or item, launch template,
    placement group, instance profile, KMS key, security group, VPC or subnet may be deleted or
    replaced; the ASG, the secrets, the state machine, ... are carried over (moved); the
    reference's table and item are forgotten;
 3. applied: the same instances in the same group, the secrets keep their ARNs and values, the
    reference's table and item untouched, our table created; a second plan has no changes;
 4. the control plane starts (the router runs this module's functions, the clock, the event
    feed, the fleet: no host is booted for the six instances WEKA's module set up): state
    machine runs recycle no member before the adoption; `adopt` (the real binary) is refused
    while WEKA's module's item says not clusterized, a dry run writes nothing, the adoption
    records the six members once, a retry answers the recorded adoption;
 5. scale-out N -> M and 6. self-heal after an external termination, on the adopted cluster
    (the e2e's chapters, e2e.py).
"""

import io
import json
import os
import re
import shutil
import subprocess
import time
import zipfile

import e2e
import iam
from cloud import ROOT, LocalCloud, tf_args, wait_for
from harness import form_weka_cluster  # tests/harness.py (on the path once cloud is imported)

FIXTURE = os.path.join(ROOT, "infra", "tests", "migration")
# WEKA's module's names for prefix WEKA, cluster Prod (the fixture's inputs).
PREFIX = "WEKA-Prod"
ASG = f"{PREFIX}-autoscaling-group"
REFERENCE_TABLE = f"{PREFIX}-weka-deployment"
REFERENCE_KEY = f"{PREFIX}-state"
SECRET_SUFFIX = "-Xy7q"  # the stand-in's random_password suffix
SECRETS = ("get_weka_io_token", "weka-username", "weka-password", "weka-deployment-password")
CODE_BUCKET = "weka-migration-code"
# What clusterize of WEKA's module sets after the apply.
ADMIN_PASSWORD = "Adm1n-pw-from-clusterize"
DEPLOYMENT_PASSWORD = "Dep1oy-pw-from-clusterize"
CLUSTER_SIZE = 6

M = "module.weka_deployment."
# Types whose deletion or replacement loses the cluster, its data or its credentials.
PROTECTED = {
    "aws_autoscaling_group", "aws_instance", "aws_secretsmanager_secret",
    "aws_secretsmanager_secret_version", "aws_dynamodb_table", "aws_dynamodb_table_item",
    "aws_launch_template", "aws_placement_group", "aws_iam_instance_profile", "aws_kms_key",
    "aws_security_group", "aws_vpc", "aws_subnet",
}
# Carried over (ours <- the reference's), not created beside the old one.
MUST_MOVE = {
    "aws_autoscaling_group.backend": "aws_autoscaling_group.autoscaling_group",
    'aws_launch_template.this["backend"]': "aws_launch_template.launch_template",
    "aws_secretsmanager_secret.token[0]": "aws_secretsmanager_secret.get_weka_io_token[0]",
    "aws_secretsmanager_secret.username": "aws_secretsmanager_secret.weka_username",
    "aws_secretsmanager_secret.admin_password": "aws_secretsmanager_secret.weka_password",
    "aws_secretsmanager_secret.deployment_password":
        "aws_secretsmanager_secret.weka_deployment_password",
    "aws_sfn_state_machine.scale_down": "aws_sfn_state_machine.scale_down_state_machine",
    'aws_lambda_function.this["deploy"]': "aws_lambda_function.deploy_lambda",
    "aws_security_group.cluster[0]": "module.security_group[0].aws_security_group.sg",
    "aws_iam_instance_profile.backend[0]":
        "module.iam[0].aws_iam_instance_profile.instance_profile",
}
ALB_MOVES = {
    "aws_lb.this[0]": "aws_lb.alb[0]",
    "aws_lb_listener.api[0]": "aws_lb_listener.lb_weka_listener[0]",
    "aws_lb_listener.https[0]": "aws_lb_listener.lb_listener[0]",
    "aws_subnet.alb[0]": "module.network[0].aws_subnet.public_subnet[1]",
}
# The reference's table and state item: forgotten (left in AWS), never destroyed.
FORGOTTEN = ["aws_dynamodb_table.weka_deployment[0]",
             "aws_dynamodb_table_item.weka_deployment_state"]
# With the ALB: in use by the listeners and the ASG until they move to ours.
ALB_FORGOTTEN = ["aws_lb_target_group.alb_target_group[0]",
                 "aws_autoscaling_attachment.alb_autoscaling_attachment[0]"]


def switch_source(path):
    """Points the fixture's module at this module: `source = "../.."`, the "reference only"
    lines dropped, the "ours:" lines uncommented."""
    out = []
    with open(path) as f:
        for line in f.read().splitlines():
            if line.rstrip().endswith("# reference only"):
                continue
            line = re.sub(r'^(\s*)# ours: ', r'\1', line)
            out.append(re.sub(r'source = "\./reference".*', 'source = "../.."', line))
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def plan_errors(plan, with_alb):
    """What in the switch's plan (`terraform show -json`) would lose the running cluster, and
    the count of each action."""
    changes = {rc["address"]: rc for rc in plan.get("resource_changes", [])}
    errors = []
    for addr, rc in sorted(changes.items()):
        actions = rc["change"]["actions"]
        if rc["type"] in PROTECTED and "delete" in actions:
            why = rc["change"].get("replace_paths")
            errors.append(f"{addr}: {'/'.join(actions)}" + (f" (forced by {why})" if why else ""))
    for to, frm in {**MUST_MOVE, **(ALB_MOVES if with_alb else {})}.items():
        rc = changes.get(M + to)
        if rc is None:
            errors.append(f"{M}{to}: not in the plan (expected it carried over from {M}{frm})")
        elif rc.get("previous_address") != M + frm or "delete" in rc["change"]["actions"]:
            errors.append(f"{M}{to}: {'/'.join(rc['change']['actions'])} with previous address "
                          f"{rc.get('previous_address')}, not moved from {M}{frm}")
    for addr in FORGOTTEN + (ALB_FORGOTTEN if with_alb else []):
        rc = changes.get(M + addr)
        got = rc["change"]["actions"] if rc else None
        if got != ["forget"]:
            errors.append(f"{M}{addr}: actions {got}, expected ['forget'] (removed, destroy = "
                          "false)")
    ours = changes.get(M + "aws_dynamodb_table.state")
    name = ours and ours["change"]["after"].get("name")
    if not ours or ours["change"]["actions"] != ["create"] or name == REFERENCE_TABLE:
        errors.append(f"our state table: {ours and ours['change']['actions']} named {name!r} "
                      f"(must be created beside the reference's {REFERENCE_TABLE})")
    counts = {}
    for rc in changes.values():
        a = "/".join(rc["change"]["actions"])
        counts[a] = counts.get(a, 0) + 1
    return errors, counts


class Moto:
    """Clients straight to moto as the admin (the router is not started before the switch)."""

    def __init__(self, cloud):
        self.asg = iam.admin_client("autoscaling", cloud.moto_url, cloud.admin)
        self.ec2 = iam.admin_client("ec2", cloud.moto_url, cloud.admin)
        self.ddb = iam.admin_client("dynamodb", cloud.moto_url, cloud.admin)
        self.secrets = iam.admin_client("secretsmanager", cloud.moto_url, cloud.admin)
        self.s3 = iam.admin_client("s3", cloud.moto_url, cloud.admin,
                                   s3={"addressing_style": "path"})
        self.acm = iam.admin_client("acm", cloud.moto_url, cloud.admin)

    def group(self):
        return self.asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=[ASG])["AutoScalingGroups"][0]

    def instances(self, ids):
        r = self.ec2.describe_instances(InstanceIds=sorted(ids))
        return [i for res in r["Reservations"] for i in res["Instances"]]

    def secret(self, name):
        return self.secrets.get_secret_value(SecretId=self.secret_arn(name))

    def secret_arn(self, name):
        return self.secrets.describe_secret(
            SecretId=f"weka/{PREFIX}/{name}{SECRET_SUFFIX}")["ARN"]

    def state_item(self):
        return self.ddb.get_item(TableName=REFERENCE_TABLE,
                                 Key={"Key": {"S": REFERENCE_KEY}}).get("Item")

    def snapshot(self):
        """Everything of the running cluster that must survive the switch."""
        r = self.ec2.describe_instances(Filters=[
            {"Name": "tag:weka_cluster_name", "Values": ["Prod"]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]}])
        g = self.group()
        table = self.ddb.describe_table(TableName=REFERENCE_TABLE)["Table"]
        return json.loads(json.dumps({
            "instances": sorted(i["InstanceId"] for res in r["Reservations"]
                                for i in res["Instances"]),
            "asg": {"arn": g["AutoScalingGroupARN"], "created": g["CreatedTime"],
                    "instances": sorted(i["InstanceId"] for i in g["Instances"]),
                    "launch_template": g["LaunchTemplate"]["LaunchTemplateId"]},
            "secrets": {n: {"arn": s["ARN"], "value": s["SecretString"]}
                        for n, s in ((n, self.secret(n)) for n in SECRETS)},
            "reference_table": {"arn": table["TableArn"], "keys": table["KeySchema"]},
            "state_item": self.state_item(),
        }, default=str))


def run(args, settings, Story, say, check, Narration):
    settings.release_code = False  # the fixture's ours: lambdas_dir + lambdas_upload_s3_bucket
    settings.install_faults = 0
    settings.smb_gateways = settings.s3_gateways = 0
    args.cluster_size = CLUSTER_SIZE  # the fixture's
    if args.scale_to <= CLUSTER_SIZE:
        args.scale_to = CLUSTER_SIZE + 2
    infra_src = os.path.abspath(args.infra_src or os.environ.get("INFRA_SRC")
                                or os.path.join(ROOT, "infra"))
    cloud = LocalCloud(settings, say=say)
    story = Story(cloud, args)
    started = time.time()

    def diagnose():
        if cloud.clock:
            story.dump_diagnostics()

    # RuntimeError: a terraform step failed (its log's tail is in the message).
    with Narration(cloud, "MIGRATION E2E FAILED", "the migration e2e", diagnose=diagnose,
                   also=(RuntimeError,)) as narration:
        say("starting the local cloud's emulators (the control plane starts after the switch)")
        try:
            cloud.start_emulators()
        except RuntimeError as e:
            say(f"SETUP FAILED: {e}")
            return 75  # demo.SETUP_FAILED
        moto = Moto(cloud)
        work = os.path.join(cloud.s.run_dir, "tf")
        cloud.copy_sources(work, infra_src)
        # This checkout's fixture, whichever module is under test.
        fixture = os.path.join(work, "infra", "tests", "migration")
        shutil.rmtree(fixture, ignore_errors=True)
        shutil.copytree(FIXTURE, fixture)
        env = cloud.terraform_env(work)
        code = cloud.stage_code(work, CODE_BUCKET)
        reference_zip = io.BytesIO()
        with zipfile.ZipFile(reference_zip, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\necho reference\n")
        moto.s3.put_object(Bucket=CODE_BUCKET, Key="reference/lambdas.zip",
                           Body=reference_zip.getvalue())
        tf_vars = {**cloud.local_vars(), "code_bucket": CODE_BUCKET,
                   "lambdas_dir": code["lambdas_dir"]}
        if args.with_alb:
            cert = moto.acm.request_certificate(DomainName="weka.example.internal")
            tf_vars.update(create_alb="true", alb_cert_arn=cert["CertificateArn"])
        argv_vars = tf_args(tf_vars)
        say(f"module under test: {infra_src}")

        say("== migration 1: WEKA's module's deployment (the stand-in), its cluster formed")
        t0 = time.time()
        cloud.terraform_init(fixture, env, log="init-reference")
        cloud.terraform(fixture, env, "apply", "-auto-approve", "-parallelism=20", *argv_vars,
                        log="apply-reference")
        story.timings.append(("terraform apply of the reference stand-in", time.time() - t0))
        ids = sorted(i["InstanceId"] for i in moto.group()["Instances"])
        check(len(ids) == CLUSTER_SIZE, f"the reference's ASG runs {CLUSTER_SIZE} instances")
        booted = moto.instances(ids)
        _form_reference_cluster(cloud, moto, booted)
        io_status = cloud.weka_cluster()["io_status"]
        check(sorted(cloud.active_backends()) == ids and io_status == "STARTED",
              f"WEKA's cluster of the {len(ids)} instances is formed, IO {io_status}")
        before = moto.snapshot()
        check(before["instances"] == ids, f"EC2 runs the {len(ids)} backends tagged "
              "weka_cluster_name = Prod (the survival snapshot's)")

        say("== migration 2: the module source switched to this module; plan")
        t0 = time.time()
        switch_source(os.path.join(fixture, "main.tf"))
        cloud.terraform_init(fixture, env, log="init-ours")
        plan_file = os.path.join(cloud.s.run_dir, "migrate.tfplan")
        plan_log, _ = cloud.terraform(fixture, env, "plan", f"-out={plan_file}",
                                      "-parallelism=20", *argv_vars, log="plan-switch")
        plan = json.loads(subprocess.run(["terraform", "show", "-json", plan_file], cwd=fixture,
                                         env=env, check=True, capture_output=True).stdout)
        errors, counts = plan_errors(plan, args.with_alb)
        say("  plan actions: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
        for e in errors:
            say("  " + e)
        check(not errors, "the plan deletes or replaces no ASG, instance, secret, table, launch "
              "template, placement group, profile, key, SG, VPC or subnet; the ASG, secrets, "
              f"state machine are carried over; the reference's table forgotten ({plan_log})")

        say("== migration 3: apply; the cluster's resources survive; a second plan is clean")
        cloud.terraform(fixture, env, "apply", "-auto-approve", "-parallelism=20", plan_file,
                        log="apply-switch")
        after = moto.snapshot()
        changed = [f"{k}: before {before[k]!r}, after {after[k]!r}" for k in before
                   if before[k] != after[k]]
        check(not changed, "the same instances, ASG, secrets (ARNs and values), reference table "
              "and state item" + "".join("\n    " + c for c in changed))
        cloud.use_terraform_root(fixture, env)
        check(cloud.outputs["asg_name"] == ASG, f"asg_name output after the switch: {ASG}")
        table = cloud.outputs["state_table_name"]
        keys = moto.ddb.describe_table(TableName=table)["Table"]["KeySchema"]
        check(table != REFERENCE_TABLE and [k["AttributeName"] for k in keys] == ["pk", "sk"],
              f"our state table {table} (pk/sk) created beside {REFERENCE_TABLE}")
        _second_plan_clean(cloud, fixture, env, argv_vars, check)
        story.timings.append(("switch: plan, apply, second plan", time.time() - t0))

        say("== migration 4: the control plane on the switched deployment; adopt")
        cloud.start_control_plane(booted=booted, events_from_now=True)
        _adopt(cloud, moto, check, booted, before["state_item"])

        n, m = args.cluster_size, args.scale_to
        say(f"== migration 5: scale-out {n} -> {m} on the adopted cluster")
        e2e.scale_out_checked(story, cloud, check, args)

        say("== migration 6: self-heal after an external termination, on the adopted cluster")
        e2e.self_heal_checked(story, cloud, check, args)
        story.timings.append(("the migration e2e", time.time() - started))
        story.summary()
        say("MIGRATION E2E PASSED")
        return 0
    return narration.code


def _form_reference_cluster(cloud, moto, instances):
    """What WEKA's module's clusterization leaves: the cluster of the group's instances in the
    WEKA simulator (its deployment user and admin password), the passwords in their secrets,
    the clusterized state item (go-cloud-lib's protocol.ClusterState with its JSON names; its
    nil maps are NULL)."""
    username = moto.secret("weka-username")["SecretString"]
    cloud.sim("/_sim/config", {"deactivate_host_secs": 3, "deactivate_drive_secs": 2})
    form_weka_cluster(cloud.sim, [(i["InstanceId"], i["PrivateIpAddress"]) for i in instances],
                      name="Prod", username=username, deployment_password=DEPLOYMENT_PASSWORD,
                      admin_password=ADMIN_PASSWORD, stripe=(3, 2), hot_spare=1)
    for name, value in (("weka-password", ADMIN_PASSWORD),
                        ("weka-deployment-password", DEPLOYMENT_PASSWORD)):
        moto.secrets.put_secret_value(SecretId=moto.secret_arn(name), SecretString=value)
    ids = sorted(i["InstanceId"] for i in instances)
    vm = lambda i: {"M": {"name": {"S": i}, "protocol": {"S": ""},  # noqa: E731
                          "container_uid": {"S": ""}, "nic_name": {"S": ""}}}
    size = {"N": str(len(ids))}
    moto.ddb.put_item(TableName=REFERENCE_TABLE, Item={
        "Key": {"S": REFERENCE_KEY}, "Locked": {"BOOL": False}, "Value": {"M": {
            "initial_size": size, "desired_size": size, "clusterization_target": size,
            "progress": {"NULL": True}, "errors": {"NULL": True}, "debug": {"NULL": True},
            "instances": {"L": [vm(i) for i in ids]}, "clusterized": {"BOOL": True},
            "nfs_instances_migrated": {"BOOL": False}}}})


def _second_plan_clean(cloud, fixture, env, argv_vars, check):
    """A plan after the migration has no changes beyond the emulator's known quirks
    (infra/tests/plan_drift.py)."""
    plan_file = os.path.join(cloud.s.run_dir, "after.tfplan")
    # -detailed-exitcode: 2 = changes (judged below), anything else but 0 a failure.
    log, rc = cloud.terraform(fixture, env, "plan", "-detailed-exitcode", f"-out={plan_file}",
                              "-parallelism=20", *argv_vars, log="plan-after", ok=(0, 2))
    if rc == 2:
        shown = os.path.join(cloud.s.run_dir, "after-plan.json")
        with open(shown, "wb") as out:
            subprocess.run(["terraform", "show", "-json", plan_file], cwd=fixture, env=env,
                           check=True, stdout=out)
        drift = subprocess.run([os.path.join(cloud.s.venv, "bin", "python"),
                                os.path.join(ROOT, "infra", "tests", "plan_drift.py"), shown],
                               capture_output=True, text=True)
        out = (drift.stdout + drift.stderr).strip()
        check(drift.returncode == 0, "the plan after the migration has no changes beyond the "
              f"emulator's known quirks ({log}): "
              + (out.splitlines()[-1] if drift.returncode == 0 else "\n" + out[-1500:]))
    else:
        check(True, "a second plan after the migration has no changes")


def _adopt(cloud, moto, check, booted, clusterized_item):
    """Issue 17: the cluster WEKA's module formed, after the switch. Its table holds its state
    item (hash key `Key`, the state as a `Value` map); this module's table is as the switch's
    apply wrote it (not clusterized: left so, the next launch would get a clusterization
    script). `adopt` is refused while WEKA's module's item says not clusterized, then records
    the cluster, once."""
    members = sorted(i["InstanceId"] for i in booted)
    n = len(members)
    env = cloud.lam.get_function_configuration(
        FunctionName=cloud.lambda_names["adopt"])["Environment"]["Variables"]
    check(env["REFERENCE_STATE_TABLE"] == REFERENCE_TABLE
          and env["REFERENCE_STATE_KEY"] == REFERENCE_KEY
          and (env.get("REFERENCE_STATE_HASH_KEY") or "Key") == "Key",
          f"adopt reads WEKA's module's item {REFERENCE_KEY} in {REFERENCE_TABLE} by default")
    check(not cloud.progress()["summary"].get("clusterized"),
          "after the switch this module's state says not clusterized")
    check(sorted(cloud.active_backends()) == members, f"the {n} members are active in WEKA")
    # Until the operator adopts, the state machine runs against a "forming" group of in-service
    # machines that never registered here (launched before its lifecycle hooks existed), all
    # past the bootstrap grace.
    cloud.clock.start()
    grace = float(cloud.s.bootstrap_grace_minutes) * 60
    past_grace = max(i["LaunchTime"].timestamp() for i in booted) + grace + 1
    wait_for(f"the members to be past the {grace:.0f}s bootstrap grace",
             lambda: time.time() >= past_grace, grace + 60, 0.5)
    ticks = cloud.clock.count
    wait_for("three state machine runs before the adoption",
             lambda: cloud.clock.count >= ticks + 3, 120, 0.5)
    time.sleep(3)
    gone = [i for i, s in e2e.ec2_states(cloud, members).items() if s != "running"]
    check(not gone and sorted(cloud.active_backends()) == members,
          f"no member, all past the {grace:.0f}s bootstrap grace, was recycled as a forming "
          f"group's straggler before the adoption (not running: {gone})")

    not_yet = json.loads(json.dumps(clusterized_item))
    not_yet["Value"]["M"]["clusterized"] = {"BOOL": False}
    cloud.ddb.put_item(TableName=REFERENCE_TABLE, Item=not_yet)
    err, answer = cloud.invoke("adopt", {"source": "reference"})
    check(err and answer.get("errorType") == "Weka.Conflict"
          and "clusterized = false" in answer.get("errorMessage", ""),
          f"refused while WEKA's module's state says not clusterized: {answer}")
    cloud.ddb.put_item(TableName=REFERENCE_TABLE, Item=clusterized_item)
    check(moto.state_item() == clusterized_item, "WEKA's module's item is clusterized again")
    err, answer = cloud.invoke("adopt", {"source": "reference", "dry_run": True})
    check(not err and answer["dry_run"] and not answer["adopted"]
          and answer["plan"]["members"] == members,
          f"a dry run names the {n} members and writes nothing")
    check(not cloud.progress()["summary"].get("clusterized"), "still not clusterized")
    err, first = cloud.invoke("adopt", {"source": "reference"})
    check(not err and first["adopted"] and first["plan"]["members"] == members
          and first["plan"]["reference"]["clusterization_target"] == n,
          f"adopted: {n} members, WEKA's module's sizes recorded")
    err, again = cloud.invoke("adopt", {"source": "reference"})
    check(not err and not again["adopted"] and again["already_clusterized"]
          and again["plan"] == first["plan"] and again["clusterized_at"] == first["clusterized_at"],
          "a retry answers the recorded adoption and writes nothing")
    check(cloud.progress()["summary"].get("clusterized"), "status: clusterized")
    check(cloud.status().get("weka_status", {}).get("io_status") == "STARTED",
          "status reads WEKA's live status of the adopted cluster")
