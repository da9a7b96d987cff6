"""End-to-end run of state-machine/scale.asl.json in moto's Step Functions interpreter with the
real fetch / scale-down / terminate / transient binaries (through lambda_router.py) and the
WEKA JSON-RPC stub (weka_stub.py), all on loopback.

Scenarios: nothing to do; one machine to deactivate; an INACTIVE machine removed and its
instance terminated; a failing WEKA action (transient error path -> FAILED with the §5.11
message); the scale lease held by another execution (ends cleanly, nothing done); an execution
started by an ASG lifecycle event while the lease is held (ends in LeaseHeld, the action is
recorded in the state table for the lease holder). moto has no CompleteLifecycleAction, so the
completion side of the hooks is tested on fakes (shared/tests/lifecycle.rs).

Usage (from the repository root, with the venv's python; `make test` runs it):
  .venv/bin/python tests/emulator/sfn_scale.py [--no-build]
Starts its own moto (MOTO_CALLBACK_PORT = router port), the router and the stub, tracked by pid,
and stops them by pid. Exits non-zero on the first failed check.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FUNCTIONS = ["fetch", "scale-down", "terminate", "transient"]
PLACEHOLDERS = {
    "fetch_lambda_arn": "fetch",
    "scale_down_lambda_arn": "scale-down",
    "terminate_lambda_arn": "terminate",
    "transient_lambda_arn": "transient",
}
REGION = "us-east-1"
CLUSTER = "sfn"
STATE_KEY = "weka-sfn-state"
ASG = "weka-sfn-autoscaling-group"
NFS_ASG = "weka-sfn-nfs-protocol-gateway"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_ready(proc, what):
    line = proc.stdout.readline().strip()
    if line != "ready":
        raise SystemExit(f"{what} did not start: {line!r}")


def http_json(url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


def check(cond, message):
    if not cond:
        raise AssertionError(message)


class Harness:
    def __init__(self, args):
        self.run_dir = tempfile.mkdtemp(prefix="sfn-scale.")
        self.procs = []
        self.router_port = free_port()
        self.stub_port = free_port()
        self.args = args

    # -- processes ---------------------------------------------------------------------------
    def start(self):
        env = dict(os.environ, MOTO_CALLBACK_PORT=str(self.router_port))
        subprocess.run([os.path.join(HERE, "moto.sh"), "start", self.run_dir], env=env, check=True)
        moto_port = open(os.path.join(self.run_dir, "moto.port")).read().strip()
        endpoint = f"http://127.0.0.1:{self.router_port}"
        common = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "CLUSTER_NAME": CLUSTER,
            "STATE_TABLE": "weka-sfn-state-table",
            "STATE_KEY": STATE_KEY,
            "NFS_STATE_KEY": "weka-sfn-nfs-state",
        }
        creds = {"USERNAME_ID": "weka/sfn/username", "DEPLOYMENT_PASSWORD_ID": "weka/sfn/deployment-password",
                 "ADMIN_PASSWORD_ID": "weka/sfn/admin-password"}
        functions = {
            "fetch": {"timeout": 30, "env": {**common, **creds, "ASG_NAME": ASG, "NFS_ASG_NAME": NFS_ASG,
                                              "ROLE": "backend", "DOWN_BACKENDS_REMOVAL_TIMEOUT": "3h",
                                              "LAUNCH_LIFECYCLE_HOOK_NAME": "weka-launch",
                                              "TERMINATE_LIFECYCLE_HOOK_NAME": "weka-terminate"}},
            "scale-down": {"timeout": 120, "env": {**common, **creds, "STRIPE_WIDTH": "1", "PROTECTION_LEVEL": "1",
                                                    "HOTSPARE": "0", "MIN_CLUSTER_SIZE": "0", "ASG_NAME": ASG,
                                                    "WEKA_API_URL_TEMPLATE": f"http://127.0.0.1:{self.stub_port}/{{ip}}/api/v1",
                                                    "WEKA_API_TIMEOUT": "3s"}},
            "terminate": {"timeout": 60, "env": {**common, "ASG_NAME": ASG, "NFS_ASG_NAME": NFS_ASG,
                                                  "BOOTSTRAP_GRACE_MINUTES": "30", "MAX_TERMINATIONS_PER_RUN": "50"}},
            "transient": {"timeout": 60, "env": {}},
        }
        functions_file = os.path.join(self.run_dir, "functions.json")
        with open(functions_file, "w") as f:
            json.dump(functions, f)
        py = sys.executable
        stub = subprocess.Popen([py, os.path.join(HERE, "weka_stub.py"), "--port", str(self.stub_port)],
                                stdout=subprocess.PIPE, text=True)
        self.procs.append(stub)
        wait_ready(stub, "weka stub")
        router = subprocess.Popen(
            [py, os.path.join(HERE, "lambda_router.py"), "--port", str(self.router_port),
             "--moto", f"http://127.0.0.1:{moto_port}", "--bin-dir", os.path.join(os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target"), "debug"),
             "--functions", functions_file, "--log-dir", os.path.join(self.run_dir, "lambda-logs")],
            stdout=subprocess.PIPE, text=True)
        self.procs.append(router)
        wait_ready(router, "lambda router")
        kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
        self.ddb = boto3.client("dynamodb", **kw)
        self.sm = boto3.client("secretsmanager", **kw)
        self.ec2 = boto3.client("ec2", **kw)
        self.asg = boto3.client("autoscaling", **kw)
        self.sfn = boto3.client("stepfunctions", **kw)

    def stop(self):
        procs, self.procs = self.procs, []
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        if os.path.isdir(self.run_dir):
            subprocess.run([os.path.join(HERE, "moto.sh"), "stop", self.run_dir], check=False)

    # -- cloud setup -------------------------------------------------------------------------
    def setup(self):
        table = "weka-sfn-state-table"
        self.ddb.create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.ddb.put_item(TableName=table, Item={
            "pk": {"S": STATE_KEY}, "sk": {"S": "state"}, "version": {"N": "3"},
            "initial_size": {"N": "3"}, "desired_size": {"N": "3"}, "clusterization_target": {"N": "3"},
            "clusterized": {"BOOL": True}, "clusterized_at": {"S": "2026-11-01T00:00:00.000Z"},
            "instances": {"L": []}, "instance_ids": {"L": []}})
        for name, value in [("weka/sfn/username", "weka-deployment"),
                            ("weka/sfn/deployment-password", "deploy-secret-pw"),
                            ("weka/sfn/admin-password", "admin-secret-pw")]:
            self.sm.create_secret(Name=name, SecretString=value)
        image = self.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        subnet = self.ec2.describe_subnets()["Subnets"][0]["SubnetId"]
        self.ec2.create_launch_template(LaunchTemplateName="weka-sfn-lt",
                                        LaunchTemplateData={"ImageId": image, "InstanceType": "t3.micro"})
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName=ASG, LaunchTemplate={"LaunchTemplateName": "weka-sfn-lt", "Version": "$Latest"},
            MinSize=0, MaxSize=10, DesiredCapacity=4, VPCZoneIdentifier=subnet,
            NewInstancesProtectedFromScaleIn=True,
            Tags=[{"Key": "weka_cluster_name", "Value": CLUSTER, "PropagateAtLaunch": True},
                  {"Key": "weka_hostgroup_type", "Value": "backend", "PropagateAtLaunch": True}])
        with open(os.path.join(ROOT, "state-machine", "scale.asl.json")) as f:
            definition = f.read()
        for placeholder, function in PLACEHOLDERS.items():
            definition = definition.replace("${" + placeholder + "}",
                                            f"arn:aws:lambda:{REGION}:123456789012:function:{function}")
        self.machine = self.sfn.create_state_machine(
            name="weka-sfn-scale", definition=definition,
            roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]

    def instances(self):
        group = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[ASG])["AutoScalingGroups"][0]
        ids = sorted(i["InstanceId"] for i in group["Instances"])
        res = self.ec2.describe_instances(InstanceIds=ids)["Reservations"]
        by_id = {i["InstanceId"]: i for r in res for i in r["Instances"]}
        return [(i, by_id[i]["PrivateIpAddress"]) for i in ids]

    # -- WEKA cluster ------------------------------------------------------------------------
    @staticmethod
    def cluster(machines, inactive=()):
        """machines: [(instance id, ip)], oldest first; `inactive` ips have every container INACTIVE."""
        hosts, drives, nodes = {}, {}, {}
        hid = did = 0
        for n, (iid, ip) in enumerate(machines):
            dead = ip in inactive
            for name in ["drives0", "compute0", "frontend0"]:
                hosts[f"HostId<{hid}>"] = {
                    "uid": f"uid-{hid}", "mode": "backend", "container_name": name, "host_ip": ip,
                    "hostname": "ip-" + ip.replace(".", "-"), "machine_identifier": f"mid-{ip}",
                    "added_time": f"2026-11-0{n + 1}T00:00:00Z", "state_changed_time": None,
                    "state": "INACTIVE" if dead else "ACTIVE", "status": "INACTIVE" if dead else "UP",
                    "auto_remove_timeout": None, "aws": {"instance_id": iid}}
                nodes[f"NodeId<{hid * 20}>"] = {"host_id": f"HostId<{hid}>", "status": "UP"}
                if name == "drives0":
                    for _ in range(2):
                        drives[f"DiskId<{did}>"] = {"host_id": f"HostId<{hid}>", "uuid": f"uuid-{did}",
                                                    "status": "INACTIVE" if dead else "ACTIVE",
                                                    "should_be_active": not dead}
                        did += 1
                hid += 1
        status = {"io_status": "STARTED", "upgrade": "", "hot_spare": 0, "stripe_data_drives": 1,
                  "stripe_protection_drives": 1, "name": CLUSTER, "status": "OK"}
        return {"status": status, "manual_override_list": {}, "hosts_list": hosts, "disks_list": drives,
                "nodes_list": nodes, "interface_group_list": []}

    def load_weka(self, reads, fail=None):
        http_json(f"http://127.0.0.1:{self.stub_port}/_control/cluster", {"reads": reads, "fail": fail or {}})

    def weka_calls(self, prefix="cluster_"):
        return [c for c in http_json(f"http://127.0.0.1:{self.stub_port}/_control/calls")
                if c["method"].startswith(prefix)]

    # -- executions --------------------------------------------------------------------------
    def execute(self, name, event=None):
        started = time.time()
        event = event if event is not None else {"detail-type": "Scheduled Event", "detail": {}}
        arn = self.sfn.start_execution(stateMachineArn=self.machine, name=name,
                                       input=json.dumps(event))["executionArn"]
        while True:
            d = self.sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                break
            if time.time() - started > 180:
                raise AssertionError(f"{name} still running after 180 s")
            time.sleep(0.1)
        history = self.sfn.get_execution_history(executionArn=arn)["events"]
        states = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
        elapsed = time.time() - started
        print(f"  {name}: {d['status']} in {elapsed:.2f}s via {' -> '.join(states)}")
        return d, states, elapsed


def run(h):
    results = []
    machines = h.instances()
    check(len(machines) == 4, f"4 instances expected: {machines}")
    ips = [ip for _, ip in machines]

    # 1. Nothing to do: desired == machines, all healthy.
    h.load_weka(h.cluster(machines))
    d, states, t = h.execute("nothing-to-do")
    check(d["status"] == "SUCCEEDED", d)
    check(states[-1] == "Success", states)
    out = json.loads(d["output"])
    check(out["set_to_terminate_instances"] == [] and out["TransientErrors"] is None, out)
    check(h.weka_calls() == [], h.weka_calls())
    for word in ["deploy-secret-pw", "admin-secret-pw"]:
        hist = json.dumps(h.sfn.get_execution_history(executionArn=d["executionArn"])["events"], default=str)
        check(word not in hist, f"{word} passed through the execution")
    results.append(("nothing to do", d["status"], t))

    # 2. One machine to deactivate: desired lowered by one (instances are scale-in protected).
    h.asg.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=3)
    check(len(h.instances()) == 4, "protected instances survive the lower desired capacity")
    h.load_weka(h.cluster(machines))
    d, states, t = h.execute("one-machine")
    check(d["status"] == "SUCCEEDED", d)
    deactivated = [c for c in h.weka_calls() if c["method"] == "cluster_deactivate_hosts"]
    check(len(deactivated) == 1, deactivated)
    check(deactivated[0]["params"]["host_ids"] == ["HostId<0>", "HostId<1>", "HostId<2>"],
          f"oldest machine first: {deactivated}")
    check(len([c for c in h.weka_calls() if c["method"] == "cluster_deactivate_drives"]) == 2, h.weka_calls())
    results.append(("one machine to deactivate", d["status"], t))

    # 3. The deactivated machine is INACTIVE now: removed from WEKA, its instance terminated.
    h.load_weka(h.cluster(machines, inactive={ips[0]}))
    d, states, t = h.execute("remove-inactive")
    check(d["status"] == "SUCCEEDED", d)
    removed = [c for c in h.weka_calls() if c["method"] == "cluster_remove_host"]
    check(len(removed) == 3, removed)
    out = json.loads(d["output"])
    check([i["instance_id"] for i in out["set_to_terminate_instances"]] == [machines[0][0]], out)
    state = h.ec2.describe_instances(InstanceIds=[machines[0][0]])["Reservations"][0]["Instances"][0]["State"]["Name"]
    check(state in ("shutting-down", "terminated"), state)
    results.append(("inactive machine removed and terminated", d["status"], t))

    # 4. Transient error path: a WEKA action fails -> Transient -> FAILED with the message.
    live = [m for m in h.instances() if m[0] != machines[0][0]]
    h.load_weka(h.cluster(live), fail={"cluster_deactivate_hosts": "injected failure"})
    h.asg.set_desired_capacity(AutoScalingGroupName=ASG, DesiredCapacity=len(live) - 1)
    d, states, t = h.execute("transient-error")
    check(d["status"] == "FAILED", d)
    check("Transient" in states and states[-1] == "Failed", states)
    check(d.get("error") == "Weka.Transient", d)
    check("the following errors were found" in d.get("cause", ""), d)
    check("cluster_deactivate_hosts" in d.get("cause", ""), d)
    results.append(("transient error path", d["status"], t))

    # 5. Lease held by another execution: ends cleanly, nothing read or changed.
    until = int((time.time() + 600) * 1000)
    h.ddb.put_item(TableName="weka-sfn-state-table", Item={
        "pk": {"S": f"{STATE_KEY}#lease"}, "sk": {"S": "scale"},
        "owner": {"S": "other-execution"}, "lease_until_ms": {"N": str(until)}})
    h.load_weka(h.cluster(live))
    d, states, t = h.execute("lease-held")
    check(d["status"] == "SUCCEEDED" and states[-1] == "LeaseHeld", (d, states))
    check(http_json(f"http://127.0.0.1:{h.stub_port}/_control/calls") == [], "weka untouched")
    results.append(("lease held by another execution", d["status"], t))

    # 6. An ASG lifecycle event starts an execution while the lease is held: it ends in
    #    LeaseHeld, but fetch recorded the action first (the lease holder or the next run answers it).
    iid = live[-1][0]
    event = {"version": "0", "id": "5b2c0c3e-8f7a-4b4e-9a5e-2f7b8b9c6d10",
             "detail-type": "EC2 Instance-terminate Lifecycle Action", "source": "aws.autoscaling",
             "account": "123456789012", "time": "2026-11-10T00:00:00Z", "region": REGION,
             "resources": [f"arn:aws:autoscaling:{REGION}:123456789012:autoScalingGroup:x:autoScalingGroupName/{ASG}"],
             "detail": {"LifecycleActionToken": "12345678-1234-1234-1234-123456789012",
                        "AutoScalingGroupName": ASG, "LifecycleHookName": "weka-terminate",
                        "EC2InstanceId": iid, "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING"}}
    d, states, t = h.execute("asg-event-lease-held", event)
    check(d["status"] == "SUCCEEDED" and states[-1] == "LeaseHeld", (d, states))
    item = h.ddb.get_item(TableName="weka-sfn-state-table", ConsistentRead=True, Key={
        "pk": {"S": f"{STATE_KEY}#lifecycle"}, "sk": {"S": f"{iid}#terminate"}}).get("Item")
    check(item is not None, "lifecycle action recorded")
    check(item["phase"]["S"] == "waiting" and item["hook"]["S"] == "weka-terminate"
          and item["token"]["S"] == "12345678-1234-1234-1234-123456789012", item)
    results.append(("lifecycle event recorded despite the held lease", d["status"], t))
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--locked", *sum((["-p", f] for f in FUNCTIONS), [])], cwd=ROOT, check=True)
    h = Harness(args)
    try:
        h.start()
        h.setup()
        print("scale state machine in moto with the real Lambdas:")
        results = run(h)
        print(f"sfn scale scenarios: {len(results)} passed")
        h.stop()
        shutil.rmtree(h.run_dir, ignore_errors=True)
    except BaseException:
        print(f"logs kept in {h.run_dir}", file=sys.stderr)
        raise
    finally:
        h.stop()


if __name__ == "__main__":
    main()
