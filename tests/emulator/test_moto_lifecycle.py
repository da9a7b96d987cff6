"""Auto Scaling lifecycle hooks in the patched moto server (moto_lifecycle.py).

Run: /work/main/.venv/bin/python -m unittest tests/emulator/test_moto_lifecycle.py
(starts its own server with tests/harness.py; VENV defaults to this interpreter's venv).
"""

from __future__ import annotations

import json
import os
import sys
import time
import unittest
import urllib.request
from datetime import datetime

import boto3
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/: the shared process harness
import harness  # noqa: E402

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
NO_ACTION = "No active Lifecycle Action found with instance ID "
# EC2's answers to TerminateInstances / StopInstances on a protected instance.
MAY_NOT_TERMINATE = "The instance '{}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again."
MAY_NOT_STOP = "The instance '{}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again."


class LifecycleHooksTest(harness.MotoTestCase):
    run_prefix = "moto-lifecycle-"

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.ec2 = boto3.client("ec2", **cls.kw)
        cls.asg = boto3.client("autoscaling", **cls.kw)
        cls.ec2.create_launch_template(
            LaunchTemplateName="lc-test",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro", "UserData": "IyEvYmluL3NoCg=="},
        )
        # As infra/instances.tf's backend template: termination and stop protection.
        cls.ec2.create_launch_template(
            LaunchTemplateName="lc-protected",
            LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro",
                                "DisableApiTermination": True, "DisableApiStop": True},
        )

    # ------------------------------------------------------------------ helpers

    def create_group(self, name: str, desired: int, hooks: list[dict] | None = None, **extra) -> None:
        args = dict(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": "lc-test"},
            MinSize=0,
            MaxSize=10,
            DesiredCapacity=desired,
            AvailabilityZones=["us-east-1a"],
            Tags=[{"Key": "role", "Value": name, "PropagateAtLaunch": True}],
        )
        if hooks:
            args["LifecycleHookSpecificationList"] = hooks
        args.update(extra)
        self.asg.create_auto_scaling_group(**args)
        self.addCleanup(self.delete_group, name)

    def delete_group(self, name: str) -> None:
        """ForceDelete the group unless the test already deleted it."""
        if self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]:
            self.asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)

    @staticmethod
    def hook(name: str, transition: str, timeout: int = 300, default: str = "ABANDON", metadata: str | None = None):
        h = {"LifecycleHookName": name, "LifecycleTransition": transition, "HeartbeatTimeout": timeout,
             "DefaultResult": default}
        if metadata:
            h["NotificationMetadata"] = metadata
        return h

    def states(self, name: str) -> dict[str, str]:
        group = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        return {i["InstanceId"]: i["LifecycleState"] for i in group["Instances"]}

    def ec2_state(self, instance_id: str) -> str:
        r = self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
        return r["State"]["Name"]

    def get(self, path: str):
        with urllib.request.urlopen(self.endpoint + path, timeout=10) as r:
            return json.load(r)

    def last_seq(self) -> int:
        return self.get("/_lifecycle/state")["last_seq"]

    def events(self, after: int, group: str | None = None) -> list[dict]:
        evs = [e["event"] for e in self.get(f"/_lifecycle/events?after={after}")]
        return [e for e in evs if group is None or e["detail"]["AutoScalingGroupName"] == group]

    def complete(self, name: str, hook: str, result: str = "CONTINUE", **ident) -> None:
        self.asg.complete_lifecycle_action(
            AutoScalingGroupName=name, LifecycleHookName=hook, LifecycleActionResult=result, **ident
        )

    def wait_for(self, pred, timeout: float, what: str):
        """harness.wait_for, a timeout failing the test."""
        try:
            return harness.wait_for(what, pred, timeout)
        except TimeoutError as e:
            self.fail(str(e))

    # ------------------------------------------------------------------ launch hook

    def test_launch_hook_pending_wait_then_continue(self):
        seq = self.last_seq()
        self.create_group("lc-launch", 2, [self.hook("boot", LAUNCHING, metadata='{"role":"backend"}')])
        states = self.states("lc-launch")
        self.assertEqual(sorted(states.values()), ["Pending:Wait", "Pending:Wait"])
        for iid in states:
            self.assertEqual(self.ec2_state(iid), "running")
        detail = self.asg.describe_auto_scaling_instances(InstanceIds=list(states))["AutoScalingInstances"]
        self.assertEqual({d["LifecycleState"] for d in detail}, {"Pending:Wait"})

        evs = self.events(seq, "lc-launch")
        self.assertEqual([e["detail-type"] for e in evs], ["EC2 Instance-launch Lifecycle Action"] * 2)
        ev = evs[0]
        self.assertEqual(ev["source"], "aws.autoscaling")
        self.assertEqual(ev["version"], "0")
        self.assertEqual(ev["account"], "123456789012")
        self.assertEqual(ev["region"], "us-east-1")
        self.assertTrue(ev["resources"][0].endswith(":autoScalingGroupName/lc-launch"), ev["resources"])
        for key in ("id", "time"):
            self.assertTrue(ev[key])
        d = ev["detail"]
        self.assertEqual(d["LifecycleHookName"], "boot")
        self.assertEqual(d["LifecycleTransition"], LAUNCHING)
        self.assertEqual(d["NotificationMetadata"], '{"role":"backend"}')
        self.assertIn(d["EC2InstanceId"], states)
        self.assertEqual(len(d["LifecycleActionToken"]), 36)
        self.assertEqual((d["Origin"], d["Destination"]), ("EC2", "AutoScalingGroup"))
        pending = self.get("/_lifecycle/state")["pending"]
        self.assertIn(d["LifecycleActionToken"], {p["LifecycleActionToken"] for p in pending})

        # One completed by token, the other by instance id.
        first, second = evs[0]["detail"], evs[1]["detail"]
        self.complete("lc-launch", "boot", LifecycleActionToken=first["LifecycleActionToken"])
        self.assertEqual(self.states("lc-launch")[first["EC2InstanceId"]], "InService")
        self.assertEqual(self.states("lc-launch")[second["EC2InstanceId"]], "Pending:Wait")
        self.complete("lc-launch", "boot", InstanceId=second["EC2InstanceId"])
        self.assertEqual(sorted(self.states("lc-launch").values()), ["InService", "InService"])

        evs = self.events(seq, "lc-launch")
        self.assertEqual(
            [e["detail-type"] for e in evs],
            ["EC2 Instance-launch Lifecycle Action"] * 2 + ["EC2 Instance Launch Successful"] * 2,
        )
        ok = evs[2]
        self.assertEqual(ok["detail"]["EC2InstanceId"], first["EC2InstanceId"])
        self.assertEqual(ok["resources"][1].split("/")[-1], first["EC2InstanceId"])
        for key in ("StatusCode", "AutoScalingGroupName", "ActivityId", "Details", "RequestId", "StatusMessage",
                    "EndTime", "EC2InstanceId", "StartTime", "Cause", "Description"):
            self.assertIn(key, ok["detail"])
        self.assertEqual(ok["detail"]["Description"], f"Launching a new EC2 instance: {first['EC2InstanceId']}")
        self.assertEqual(set(ok["detail"]["Details"]), {"Availability Zone", "Subnet ID"})
        self.assertEqual(self.get("/_lifecycle/state")["pending"], [])

        # Propagated and ASG-name tags as moto puts them.
        tags = self.ec2.describe_tags(
            Filters=[{"Name": "resource-id", "Values": [first["EC2InstanceId"]]}]
        )["Tags"]
        tags = {t["Key"]: t["Value"] for t in tags}
        self.assertEqual(tags.get("aws:autoscaling:groupName"), "lc-launch")
        self.assertEqual(tags.get("role"), "lc-launch")

        # A desired-capacity raise goes through the hook too, and a repeated set does not launch more.
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-launch", DesiredCapacity=3)
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-launch", DesiredCapacity=3)
        self.assertEqual(sorted(self.states("lc-launch").values()), ["InService", "InService", "Pending:Wait"])

    def test_abandon_terminates_and_replaces(self):
        seq = self.last_seq()
        self.create_group("lc-abandon", 1, [self.hook("boot", LAUNCHING)])
        (old,) = self.states("lc-abandon")
        self.complete("lc-abandon", "boot", "ABANDON", InstanceId=old)
        states = self.states("lc-abandon")
        self.assertNotIn(old, states)
        self.assertEqual(list(states.values()), ["Pending:Wait"])
        self.assertEqual(self.ec2_state(old), "terminated")
        (new,) = states
        evs = self.events(seq, "lc-abandon")
        self.assertEqual(
            [(e["detail-type"], e["detail"]["EC2InstanceId"]) for e in evs],
            [
                ("EC2 Instance-launch Lifecycle Action", old),
                ("EC2 Instance Launch Unsuccessful", old),
                ("EC2 Instance-launch Lifecycle Action", new),
            ],
        )
        self.assertIn("ABANDON", evs[1]["detail"]["StatusMessage"])

    def test_second_complete_is_validation_error_with_aws_xml(self):
        self.create_group("lc-twice", 1, [self.hook("boot", LAUNCHING)])
        (iid,) = self.states("lc-twice")
        token = self.get("/_lifecycle/state")["pending"]
        token = next(p["LifecycleActionToken"] for p in token if p["EC2InstanceId"] == iid)
        self.complete("lc-twice", "boot", InstanceId=iid)

        raw = {}

        def keep(response_dict=None, **_):
            raw["status"], raw["body"] = response_dict["status_code"], response_dict["body"].decode()

        self.asg.meta.events.register("before-parse", keep)
        self.addCleanup(self.asg.meta.events.unregister, "before-parse", keep)
        with self.assertRaises(ClientError) as ctx:
            self.complete("lc-twice", "boot", InstanceId=iid)
        err = ctx.exception.response["Error"]
        self.assertEqual(err["Code"], "ValidationError")
        self.assertEqual(err["Message"], NO_ACTION + iid)
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        body = raw["body"]
        self.assertEqual(raw["status"], 400)
        self.assertTrue(body.lstrip().startswith("<ErrorResponse"), body)
        self.assertIn("<Error>", body)
        self.assertIn("<Code>ValidationError</Code>", body)
        self.assertIn(f"<Message>{NO_ACTION}{iid}</Message>", body)
        self.assertIn("<RequestId>", body)

        with self.assertRaises(ClientError) as ctx:
            self.complete("lc-twice", "boot", LifecycleActionToken=token)
        self.assertEqual(ctx.exception.response["Error"]["Message"], f"No active Lifecycle Action found with token {token}")
        with self.assertRaises(ClientError) as ctx:
            self.asg.record_lifecycle_action_heartbeat(
                AutoScalingGroupName="lc-twice", LifecycleHookName="boot", InstanceId=iid)
        self.assertEqual(ctx.exception.response["Error"]["Message"], NO_ACTION + iid)

    # ------------------------------------------------------------------ timeouts and heartbeats

    def test_heartbeat_timeout_applies_default_continue_without_requests(self):
        seq = self.last_seq()
        self.create_group("lc-timeout-c", 1, [self.hook("boot", LAUNCHING, timeout=1, default="CONTINUE")])
        (iid,) = self.states("lc-timeout-c")
        time.sleep(2.5)  # no request at all: the timer thread applies the default result
        self.assertEqual(self.states("lc-timeout-c"), {iid: "InService"})
        ok = [e for e in self.events(seq, "lc-timeout-c") if e["detail-type"] == "EC2 Instance Launch Successful"]
        self.assertEqual(len(ok), 1)
        parse = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
        waited = (parse(ok[0]["detail"]["EndTime"]) - parse(ok[0]["detail"]["StartTime"])).total_seconds()
        self.assertGreaterEqual(waited, 0.9)
        self.assertLess(waited, 2.0, "applied by the timer, not by the next request")

    def test_heartbeat_timeout_applies_default_abandon(self):
        self.create_group("lc-timeout-a", 1, [self.hook("boot", LAUNCHING, timeout=1, default="ABANDON")])
        (old,) = self.states("lc-timeout-a")
        states = self.wait_for(lambda: (s := self.states("lc-timeout-a")) and old not in s and s, 4,
                               "abandoned instance replaced")
        self.assertEqual(list(states.values()), ["Pending:Wait"])
        self.assertEqual(self.ec2_state(old), "terminated")

    def test_heartbeat_extends_timeout(self):
        self.create_group("lc-heartbeat", 1, [self.hook("boot", LAUNCHING, timeout=2, default="ABANDON")])
        (iid,) = self.states("lc-heartbeat")
        start = time.monotonic()
        time.sleep(1.2)
        self.asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName="lc-heartbeat", LifecycleHookName="boot", InstanceId=iid)
        time.sleep(max(0.0, 2.7 - (time.monotonic() - start)))  # past the original 2 s deadline
        self.assertEqual(self.states("lc-heartbeat").get(iid), "Pending:Wait")
        # Heartbeat by token, then complete.
        token = next(p["LifecycleActionToken"] for p in self.get("/_lifecycle/state")["pending"]
                     if p["EC2InstanceId"] == iid)
        self.asg.record_lifecycle_action_heartbeat(
            AutoScalingGroupName="lc-heartbeat", LifecycleHookName="boot", LifecycleActionToken=token)
        self.complete("lc-heartbeat", "boot", LifecycleActionToken=token)
        self.assertEqual(self.states("lc-heartbeat"), {iid: "InService"})

    # ------------------------------------------------------------------ terminate hook

    def test_scale_in_goes_through_terminate_hook(self):
        self.create_group("lc-scalein", 2, [self.hook("drain", TERMINATING, metadata="bye")])
        self.assertEqual(sorted(self.states("lc-scalein").values()), ["InService", "InService"])
        seq = self.last_seq()
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-scalein", DesiredCapacity=1)
        states = self.states("lc-scalein")
        victim = next(i for i, s in states.items() if s == "Terminating:Wait")
        self.assertEqual(sorted(states.values()), ["InService", "Terminating:Wait"])
        self.assertEqual(self.ec2_state(victim), "running")
        # Setting the same desired capacity again neither relaunches nor terminates more.
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-scalein", DesiredCapacity=1)
        self.assertEqual(self.states("lc-scalein"), states)

        self.complete("lc-scalein", "drain", InstanceId=victim)
        self.assertNotIn(victim, self.states("lc-scalein"))
        self.assertEqual(self.ec2_state(victim), "terminated")
        evs = self.events(seq, "lc-scalein")
        self.assertEqual(
            [(e["detail-type"], e["detail"]["EC2InstanceId"]) for e in evs],
            [("EC2 Instance-terminate Lifecycle Action", victim), ("EC2 Instance Terminate Successful", victim)],
        )
        d = evs[0]["detail"]
        self.assertEqual(d["LifecycleTransition"], TERMINATING)
        self.assertEqual(d["NotificationMetadata"], "bye")
        self.assertEqual((d["Origin"], d["Destination"]), ("AutoScalingGroup", "EC2"))
        d = evs[1]["detail"]
        self.assertEqual(d["Description"], f"Terminating EC2 instance: {victim}")
        self.assertIn("shrinking the capacity from 2 to 1", d["Cause"])
        self.assertEqual((d["Origin"], d["Destination"]), ("AutoScalingGroup", "EC2"))
        with self.assertRaises(ClientError) as ctx:
            self.complete("lc-scalein", "drain", InstanceId=victim)
        self.assertEqual(ctx.exception.response["Error"]["Message"], NO_ACTION + victim)

    def test_terminate_instance_in_asg_goes_through_terminate_hook(self):
        self.create_group("lc-tiasg", 2, [self.hook("drain", TERMINATING)])
        a, b = sorted(self.states("lc-tiasg"))
        # Without decrement: Terminating:Wait and a replacement at once.
        activity = self.asg.terminate_instance_in_auto_scaling_group(
            InstanceId=a, ShouldDecrementDesiredCapacity=False)["Activity"]
        self.assertEqual(activity["Description"], f"Terminating EC2 instance: {a}")
        states = self.states("lc-tiasg")
        self.assertEqual(states[a], "Terminating:Wait")
        self.assertEqual(sorted(states.values()), ["InService", "InService", "Terminating:Wait"])
        self.assertEqual(self.ec2_state(a), "running")
        self.complete("lc-tiasg", "drain", "ABANDON", InstanceId=a)  # ABANDON also terminates
        self.assertNotIn(a, self.states("lc-tiasg"))
        self.assertEqual(self.ec2_state(a), "terminated")
        # With decrement: no replacement.
        self.asg.terminate_instance_in_auto_scaling_group(InstanceId=b, ShouldDecrementDesiredCapacity=True)
        group = self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=["lc-tiasg"])["AutoScalingGroups"][0]
        self.assertEqual(group["DesiredCapacity"], 1)
        self.assertEqual(sorted(self.states("lc-tiasg").values()), ["InService", "Terminating:Wait"])
        self.complete("lc-tiasg", "drain", InstanceId=b)
        self.assertEqual(list(self.states("lc-tiasg").values()), ["InService"])

    def test_terminate_hook_timeout_terminates(self):
        self.create_group("lc-term-timeout", 1, [self.hook("drain", TERMINATING, timeout=1, default="CONTINUE")])
        (iid,) = self.states("lc-term-timeout")
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-term-timeout", DesiredCapacity=0)
        self.assertEqual(self.states("lc-term-timeout"), {iid: "Terminating:Wait"})
        self.wait_for(lambda: not self.states("lc-term-timeout"), 4, "terminated after the heartbeat timeout")
        self.assertEqual(self.ec2_state(iid), "terminated")

    def test_detach_and_ec2_terminate_bypass_terminate_hook(self):
        self.create_group("lc-bypass", 2, [self.hook("drain", TERMINATING)])
        a, b = sorted(self.states("lc-bypass"))
        seq = self.last_seq()
        self.asg.detach_instances(AutoScalingGroupName="lc-bypass", InstanceIds=[a], ShouldDecrementDesiredCapacity=True)
        self.assertEqual(self.states("lc-bypass"), {b: "InService"})
        self.assertEqual(self.ec2_state(a), "running")
        # EC2 termination outside the group: noticed, replaced, no Terminating:Wait.
        self.ec2.terminate_instances(InstanceIds=[b])
        states = self.states("lc-bypass")
        self.assertNotIn(b, states)
        self.assertEqual(list(states.values()), ["InService"])
        types = [e["detail-type"] for e in self.events(seq, "lc-bypass")]
        self.assertEqual(types, ["EC2 Instance Terminate Successful", "EC2 Instance Launch Successful"])
        self.ec2.terminate_instances(InstanceIds=[a])

    def test_ec2_terminate_replaces_only_what_desired_capacity_needs(self):
        # The control plane lowers desired, then terminates protected members it drained.
        self.create_group("lc-shrink", 3)
        ids = sorted(self.states("lc-shrink"))
        self.asg.set_instance_protection(
            AutoScalingGroupName="lc-shrink", InstanceIds=ids, ProtectedFromScaleIn=True)
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-shrink", DesiredCapacity=1)
        self.assertEqual(sorted(self.states("lc-shrink")), ids)
        self.ec2.terminate_instances(InstanceIds=ids[:2])
        self.assertEqual(sorted(self.states("lc-shrink")), ids[2:])
        # Below desired again: one replacement.
        self.ec2.terminate_instances(InstanceIds=ids[2:])
        states = self.states("lc-shrink")
        self.assertEqual(len(states), 1)
        self.assertNotIn(ids[2], states)

    def test_unhealthy_instance_replaced_through_terminate_hook(self):
        self.create_group("lc-unhealthy", 1, [self.hook("drain", TERMINATING)])
        (iid,) = self.states("lc-unhealthy")
        self.asg.set_instance_health(InstanceId=iid, HealthStatus="Unhealthy")
        states = self.states("lc-unhealthy")
        self.assertEqual(states[iid], "Terminating:Wait")
        self.assertEqual(sorted(states.values()), ["InService", "Terminating:Wait"])
        self.complete("lc-unhealthy", "drain", InstanceId=iid)
        self.assertEqual(len(self.states("lc-unhealthy")), 1)

    # ------------------------------------------------------------------ without hooks

    def test_force_delete_terminates_protected_and_waiting_instances(self):
        self.asg.create_auto_scaling_group(
            AutoScalingGroupName="lc-delete", LaunchTemplate={"LaunchTemplateName": "lc-test"},
            MinSize=0, MaxSize=4, DesiredCapacity=2, AvailabilityZones=["us-east-1a"],
            LifecycleHookSpecificationList=[self.hook("join", LAUNCHING)])
        ids = sorted(self.states("lc-delete"))
        self.asg.set_instance_protection(
            AutoScalingGroupName="lc-delete", InstanceIds=ids, ProtectedFromScaleIn=True)
        self.asg.delete_auto_scaling_group(AutoScalingGroupName="lc-delete", ForceDelete=True)
        self.assertEqual({self.ec2_state(i) for i in ids}, {"terminated"})

    def test_group_without_hooks_unchanged(self):
        seq = self.last_seq()
        self.create_group("lc-plain", 3)
        states = self.states("lc-plain")
        self.assertEqual(sorted(states.values()), ["InService"] * 3)
        first = sorted(states)[0]
        self.asg.set_instance_protection(
            AutoScalingGroupName="lc-plain", InstanceIds=[first], ProtectedFromScaleIn=True)
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-plain", DesiredCapacity=1)
        states = self.states("lc-plain")
        self.assertEqual(states, {first: "InService"})
        evs = self.events(seq, "lc-plain")
        self.assertEqual([e["detail-type"] for e in evs],
                         ["EC2 Instance Launch Successful"] * 3 + ["EC2 Instance Terminate Successful"] * 2)
        self.asg.update_auto_scaling_group(AutoScalingGroupName="lc-plain", DesiredCapacity=2)
        self.assertEqual(sorted(self.states("lc-plain").values()), ["InService"] * 2)

    def test_hook_added_later_applies_to_next_launch(self):
        self.create_group("lc-later", 1)
        (first,) = self.states("lc-later")
        self.asg.put_lifecycle_hook(
            AutoScalingGroupName="lc-later", LifecycleHookName="boot", LifecycleTransition=LAUNCHING,
            HeartbeatTimeout=300, DefaultResult="CONTINUE", NotificationMetadata="m")
        hook = self.asg.describe_lifecycle_hooks(AutoScalingGroupName="lc-later")["LifecycleHooks"][0]
        self.assertEqual((hook["NotificationMetadata"], hook["DefaultResult"]), ("m", "CONTINUE"))
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-later", DesiredCapacity=2)
        states = self.states("lc-later")
        self.assertEqual(states[first], "InService")
        (new,) = [i for i in states if i != first]
        self.assertEqual(states[new], "Pending:Wait")
        # Deleting the hook completes the outstanding launch action with ABANDON (as AWS does).
        self.asg.delete_lifecycle_hook(AutoScalingGroupName="lc-later", LifecycleHookName="boot")
        states = self.states("lc-later")
        self.assertNotIn(new, states)
        self.assertEqual(sorted(states.values()), ["InService", "InService"])

    # ------------------------------------------------------------------ protections

    def group(self, name: str) -> dict:
        return self.asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]

    def members(self, name: str) -> dict[str, tuple[str, str]]:
        """instance id -> (LifecycleState, HealthStatus)."""
        return {i["InstanceId"]: (i["LifecycleState"], i["HealthStatus"]) for i in self.group(name)["Instances"]}

    def attribute(self, instance_id: str, name: str) -> bool:
        answer = self.ec2.describe_instance_attribute(InstanceId=instance_id, Attribute=name)
        return answer[name[0].upper() + name[1:]]["Value"]

    def unprotect(self, instance_id: str, termination: bool = True, stop: bool = True) -> None:
        """What a user does before terminating a protected backend: clear the attributes."""
        if termination:
            self.ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
        if stop:
            self.ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiStop={"Value": False})

    def assert_refused(self, call, message: str, **kwargs) -> None:
        with self.assertRaises(ClientError) as ctx:
            call(**kwargs)
        err = ctx.exception.response["Error"]
        self.assertEqual((err["Code"], err["Message"]), ("OperationNotPermitted", message))
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_template_protection_refuses_terminate_and_stop_until_cleared(self):
        self.create_group("lc-prot", 2, LaunchTemplate={"LaunchTemplateName": "lc-protected"})
        a, b = sorted(self.states("lc-prot"))
        for iid in (a, b):
            self.assertTrue(self.attribute(iid, "disableApiTermination"), iid)
            self.assertTrue(self.attribute(iid, "disableApiStop"), iid)
        seq = self.last_seq()
        self.assert_refused(self.ec2.terminate_instances, MAY_NOT_TERMINATE.format(a), InstanceIds=[a])
        self.assert_refused(self.ec2.stop_instances, MAY_NOT_STOP.format(a), InstanceIds=[a])
        self.assertEqual(self.ec2_state(a), "running")
        self.assertEqual(self.members("lc-prot"), {a: ("InService", "Healthy"), b: ("InService", "Healthy")})
        self.assertEqual(self.events(seq, "lc-prot"), [])
        # Clearing one attribute lifts only its own refusal.
        self.unprotect(a, stop=False)
        self.assertFalse(self.attribute(a, "disableApiTermination"))
        self.assert_refused(self.ec2.stop_instances, MAY_NOT_STOP.format(a), InstanceIds=[a])
        self.ec2.terminate_instances(InstanceIds=[a])
        self.assertEqual(self.ec2_state(a), "terminated")
        (c,) = set(self.states("lc-prot")) - {a, b}  # a's replacement, protected as well
        self.assert_refused(self.ec2.terminate_instances, MAY_NOT_TERMINATE.format(c), InstanceIds=[c])
        # Protection set again through ModifyInstanceAttribute refuses again.
        self.unprotect(c)
        self.ec2.modify_instance_attribute(InstanceId=c, DisableApiTermination={"Value": True})
        self.assertTrue(self.attribute(c, "disableApiTermination"))
        self.assert_refused(self.ec2.terminate_instances, MAY_NOT_TERMINATE.format(c), InstanceIds=[c])
        self.unprotect(b, termination=False)
        self.assert_refused(self.ec2.terminate_instances, MAY_NOT_TERMINATE.format(b), InstanceIds=[b])
        # Stopped, b fails the EC2 health check: the group terminates and replaces it.
        self.ec2.stop_instances(InstanceIds=[b])
        self.assertEqual(self.ec2_state(b), "terminated")
        states = self.states("lc-prot")
        self.assertEqual(len(states), 2)
        self.assertNotIn(b, states)

    def test_terminate_refused_per_availability_zone(self):
        # AWS: the instances in a protected instance's AZ are not terminated, the others are.
        def run(template: str, zone: str) -> str:
            r = self.ec2.run_instances(MinCount=1, MaxCount=1, LaunchTemplate={"LaunchTemplateName": template},
                                       Placement={"AvailabilityZone": zone})
            return r["Instances"][0]["InstanceId"]
        a, b = run("lc-test", "us-east-1a"), run("lc-test", "us-east-1a")
        c, d = run("lc-protected", "us-east-1b"), run("lc-test", "us-east-1b")
        self.assertTrue(self.attribute(c, "disableApiTermination"))
        self.assertFalse(self.attribute(d, "disableApiTermination"))
        self.assert_refused(self.ec2.terminate_instances, MAY_NOT_TERMINATE.format(c), InstanceIds=[a, b, c, d])
        self.assertEqual([self.ec2_state(i) for i in (a, b, c, d)], ["terminated", "terminated", "running", "running"])
        self.unprotect(c)
        self.ec2.terminate_instances(InstanceIds=[c, d])
        # RunInstances' own DisableApiTermination parameter protects too.
        (e,) = [i["InstanceId"] for i in self.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, DisableApiTermination=True)["Instances"]]
        self.assert_refused(self.ec2.terminate_instances, MAY_NOT_TERMINATE.format(e), InstanceIds=[e])
        self.unprotect(e)
        self.ec2.terminate_instances(InstanceIds=[e])

    def test_auto_scaling_terminates_protected_instances(self):
        # EC2 termination protection does not stop Auto Scaling's own terminations.
        self.create_group("lc-prot-asg", 3, [self.hook("drain", TERMINATING)],
                          LaunchTemplate={"LaunchTemplateName": "lc-protected"})
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-prot-asg", DesiredCapacity=2)
        (victim,) = [i for i, s in self.states("lc-prot-asg").items() if s == "Terminating:Wait"]
        self.complete("lc-prot-asg", "drain", InstanceId=victim)
        self.assertEqual(self.ec2_state(victim), "terminated")
        a, b = sorted(self.states("lc-prot-asg"))
        self.asg.terminate_instance_in_auto_scaling_group(InstanceId=a, ShouldDecrementDesiredCapacity=True)
        self.complete("lc-prot-asg", "drain", "ABANDON", InstanceId=a)
        self.assertEqual(self.ec2_state(a), "terminated")
        self.assertEqual(self.states("lc-prot-asg"), {b: "InService"})
        self.asg.delete_auto_scaling_group(AutoScalingGroupName="lc-prot-asg", ForceDelete=True)
        self.assertEqual(self.ec2_state(b), "terminated")

    def test_scale_in_protection_respected(self):
        self.create_group("lc-scalein-prot", 3, NewInstancesProtectedFromScaleIn=True)
        ids = sorted(self.states("lc-scalein-prot"))
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-scalein-prot", DesiredCapacity=1)
        self.asg.update_auto_scaling_group(AutoScalingGroupName="lc-scalein-prot", DesiredCapacity=1)
        self.assertEqual(sorted(self.states("lc-scalein-prot")), ids)
        self.assertEqual(self.group("lc-scalein-prot")["DesiredCapacity"], 1)
        self.assertEqual({self.ec2_state(i) for i in ids}, {"running"})
        # Unprotected, one is taken at the next desired-capacity change; the protected one stays.
        self.asg.set_instance_protection(AutoScalingGroupName="lc-scalein-prot", InstanceIds=ids[1:],
                                         ProtectedFromScaleIn=False)
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-scalein-prot", DesiredCapacity=2)
        states = self.states("lc-scalein-prot")
        self.assertEqual(len(states), 2)
        self.assertIn(ids[0], states)

    # ------------------------------------------------------------------ suspended processes

    def suspended_group(self, name: str, desired: int) -> list[str]:
        """A group as infra/ makes the backends': protected template and instances, launch and
        terminate hooks, ReplaceUnhealthy suspended; its launches completed. Returns its ids."""
        self.create_group(name, desired, [self.hook("boot", LAUNCHING), self.hook("drain", TERMINATING)],
                          LaunchTemplate={"LaunchTemplateName": "lc-protected"}, NewInstancesProtectedFromScaleIn=True)
        ids = sorted(self.states(name))
        for iid in ids:
            self.complete(name, "boot", InstanceId=iid)
        self.asg.suspend_processes(AutoScalingGroupName=name, ScalingProcesses=["ReplaceUnhealthy"])
        return ids

    def test_replace_unhealthy_suspended_ec2_termination_stays_unhealthy_until_detached(self):
        a, b = self.suspended_group("lc-suspended", 2)
        seq = self.last_seq()
        self.unprotect(a)
        self.ec2.terminate_instances(InstanceIds=[a])
        self.assertEqual(self.ec2_state(a), "terminated")
        # Still a member, marked unhealthy, not replaced; desired capacity kept.
        self.assertEqual(self.members("lc-suspended"), {a: ("InService", "Unhealthy"), b: ("InService", "Healthy")})
        self.assertEqual(self.group("lc-suspended")["DesiredCapacity"], 2)
        detail = self.asg.describe_auto_scaling_instances(InstanceIds=[a])["AutoScalingInstances"][0]
        self.assertEqual(detail["HealthStatus"].upper(), "UNHEALTHY")
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-suspended", DesiredCapacity=2)
        time.sleep(1.0)  # the timer thread must not replace it either
        self.assertEqual(set(self.states("lc-suspended")), {a, b})
        self.assertEqual(self.events(seq, "lc-suspended"), [])
        self.assertEqual(self.get("/_lifecycle/state")["pending"], [])
        # The control plane's path: DetachInstances without decrement; the group backfills.
        self.asg.detach_instances(AutoScalingGroupName="lc-suspended", InstanceIds=[a],
                                  ShouldDecrementDesiredCapacity=False)
        states = self.states("lc-suspended")
        self.assertNotIn(a, states)
        (new,) = [i for i in states if i != b]
        self.assertEqual(states[new], "Pending:Wait")
        self.assertEqual([(e["detail-type"], e["detail"]["EC2InstanceId"]) for e in self.events(seq, "lc-suspended")],
                         [("EC2 Instance-launch Lifecycle Action", new)])
        acts = self.asg.describe_scaling_activities(AutoScalingGroupName="lc-suspended")["Activities"]
        self.assertEqual(acts[0]["Description"], f"Launching a new EC2 instance: {new}")

    def test_replace_unhealthy_suspended_terminate_through_auto_scaling_replaces(self):
        a, b = self.suspended_group("lc-suspended-tiasg", 2)
        self.unprotect(a)
        self.ec2.terminate_instances(InstanceIds=[a])
        self.assertEqual(self.members("lc-suspended-tiasg")[a], ("InService", "Unhealthy"))
        self.asg.terminate_instance_in_auto_scaling_group(InstanceId=a, ShouldDecrementDesiredCapacity=False)
        states = self.states("lc-suspended-tiasg")
        self.assertEqual(states[a], "Terminating:Wait")
        self.assertEqual(sorted(states.values()), ["InService", "Pending:Wait", "Terminating:Wait"])
        self.complete("lc-suspended-tiasg", "drain", InstanceId=a)
        self.assertNotIn(a, self.states("lc-suspended-tiasg"))

    def test_replace_unhealthy_suspended_stop_stays_unhealthy(self):
        a, b = self.suspended_group("lc-suspended-stop", 2)
        self.unprotect(a)
        self.ec2.stop_instances(InstanceIds=[a])
        self.assertEqual(self.ec2_state(a), "stopped")
        self.assertEqual(self.members("lc-suspended-stop"), {a: ("InService", "Unhealthy"), b: ("InService", "Healthy")})

    def test_resume_replace_unhealthy_replaces_at_once(self):
        (a,) = self.suspended_group("lc-resume", 1)
        self.unprotect(a)
        self.ec2.terminate_instances(InstanceIds=[a])
        self.assertEqual(self.members("lc-resume"), {a: ("InService", "Unhealthy")})
        self.asg.resume_processes(AutoScalingGroupName="lc-resume", ScalingProcesses=["ReplaceUnhealthy"])
        states = self.states("lc-resume")
        self.assertEqual(states[a], "Terminating:Wait")
        self.assertEqual(sorted(states.values()), ["Pending:Wait", "Terminating:Wait"])

    def test_stopped_member_replaced_when_not_suspended(self):
        self.create_group("lc-stop", 1, [self.hook("drain", TERMINATING)])
        (a,) = self.states("lc-stop")
        self.ec2.stop_instances(InstanceIds=[a])
        states = self.states("lc-stop")
        self.assertEqual(states[a], "Terminating:Wait")
        self.assertEqual(sorted(states.values()), ["InService", "Terminating:Wait"])
        self.complete("lc-stop", "drain", InstanceId=a)
        self.assertEqual(self.ec2_state(a), "terminated")

    def test_launch_terminate_health_check_suspended(self):
        self.create_group("lc-procs", 2)
        a, b = sorted(self.states("lc-procs"))
        self.asg.suspend_processes(AutoScalingGroupName="lc-procs", ScalingProcesses=["Launch", "Terminate", "HealthCheck"])
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-procs", DesiredCapacity=3)
        self.assertEqual(set(self.states("lc-procs")), {a, b})
        self.asg.set_desired_capacity(AutoScalingGroupName="lc-procs", DesiredCapacity=1)
        self.assertEqual(set(self.states("lc-procs")), {a, b})
        # HealthCheck suspended: an EC2 termination is not noticed.
        self.ec2.terminate_instances(InstanceIds=[a])
        self.assertEqual(self.members("lc-procs"), {a: ("InService", "Healthy"), b: ("InService", "Healthy")})
        # Resumed: the terminated instance is noticed and replaced, then the group scales to desired 1.
        self.asg.resume_processes(AutoScalingGroupName="lc-procs")
        self.assertEqual(self.members("lc-procs"), {b: ("InService", "Healthy")})

    def test_moto_api_still_served(self):
        with urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=10) as r:
            self.assertEqual(r.status, 200)
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            self.get("/_lifecycle/nope")
        self.assertEqual(ctx.exception.code, 404)


if __name__ == "__main__":
    unittest.main()
