"""moto_instances.py: an instance Auto Scaling launches from a launch template carries the
template's primary network interface (security groups, public address), as on AWS.

Run: /work/main/.venv/bin/python -m unittest tests/emulator/test_moto_instances.py
"""

import base64
import os
import sys
import unittest

import boto3
from moto import mock_aws

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_instances  # noqa: E402


class TemplateInterface(unittest.TestCase):
    def launch(self, public):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        asg = boto3.client("autoscaling", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24",
                                   AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
        sg = ec2.create_security_group(GroupName="cluster", Description="c", VpcId=vpc)["GroupId"]
        ec2.create_launch_template(LaunchTemplateName="backend", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "InstanceType": "i3en.2xlarge",
            "NetworkInterfaces": [{"DeviceIndex": 0, "AssociatePublicIpAddress": public,
                                   "Groups": [sg], "SubnetId": subnet}]})
        asg.create_auto_scaling_group(
            AutoScalingGroupName="g", MinSize=1, MaxSize=1, DesiredCapacity=1,
            LaunchTemplate={"LaunchTemplateName": "backend", "Version": "$Latest"},
            VPCZoneIdentifier=subnet)
        iid = asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"][0][
            "InstanceId"]
        return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0], sg

    def setUp(self):
        self.original = moto_instances.InstanceBackend.run_instances
        moto_instances.apply()
        self.addCleanup(setattr, moto_instances.InstanceBackend, "run_instances", self.original)

    @mock_aws
    def test_public_interface_gets_a_public_address_and_the_templates_groups(self):
        instance, sg = self.launch(public=True)
        self.assertTrue(instance.get("PublicIpAddress"))
        self.assertEqual([g["GroupId"] for g in instance["SecurityGroups"]], [sg])

    @mock_aws
    def test_private_interface_gets_no_public_address(self):
        instance, sg = self.launch(public=False)
        self.assertFalse(instance.get("PublicIpAddress"))
        self.assertEqual([g["GroupId"] for g in instance["SecurityGroups"]], [sg])

    @mock_aws
    def test_a_plain_run_instances_from_the_template_lands_in_its_subnet(self):
        # Terraform's aws_instance with launch_template (the SMB and S3 gateways).
        _, sg = self.launch(public=True)
        ec2 = boto3.client("ec2", region_name="us-east-1")
        subnet = ec2.describe_launch_template_versions(LaunchTemplateName="backend")[
            "LaunchTemplateVersions"][0]["LaunchTemplateData"]["NetworkInterfaces"][0]["SubnetId"]
        instance = ec2.run_instances(
            MinCount=1, MaxCount=1,
            LaunchTemplate={"LaunchTemplateName": "backend", "Version": "$Latest"})[
            "Instances"][0]
        self.assertEqual(instance["SubnetId"], subnet)
        self.assertTrue(instance["PrivateIpAddress"].startswith("10.0.0."))
        self.assertEqual([g["GroupId"] for g in instance["SecurityGroups"]], [sg])

    @mock_aws
    def test_run_instances_with_a_primary_interface_gets_its_groups(self):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
        sg = ec2.create_security_group(GroupName="client", Description="c", VpcId=vpc)["GroupId"]
        iid = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, NetworkInterfaces=[
            {"DeviceIndex": 0, "SubnetId": subnet, "Groups": [sg], "AssociatePublicIpAddress": True}])["Instances"][0]["InstanceId"]
        instance = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        self.assertEqual([g["GroupId"] for g in instance["SecurityGroups"]], [sg])


class DetailedMonitoring(unittest.TestCase):
    def setUp(self):
        self.originals = (moto_instances.Monitoring.monitor_instances, moto_instances.Monitoring.unmonitor_instances)
        moto_instances.apply()
        self.addCleanup(self.restore)

    def restore(self):
        moto_instances.Monitoring.monitor_instances, moto_instances.Monitoring.unmonitor_instances = self.originals

    @mock_aws
    def test_monitor_and_unmonitor_set_the_instances_monitoring_state(self):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        iid = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
        state = lambda: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["Monitoring"]["State"]
        self.assertEqual(state(), "disabled")
        answer = ec2.monitor_instances(InstanceIds=[iid])["InstanceMonitorings"]
        self.assertEqual(answer, [{"InstanceId": iid, "Monitoring": {"State": "enabled"}}])
        self.assertEqual(state(), "enabled")
        ec2.unmonitor_instances(InstanceIds=[iid])
        self.assertEqual(state(), "disabled")


class LaunchTemplateVersionUserData(unittest.TestCase):
    def setUp(self):
        self.original = moto_instances.LaunchTemplate.create_version
        moto_instances.apply()
        self.addCleanup(setattr, moto_instances.LaunchTemplate, "create_version", self.original)

    @mock_aws
    def test_the_group_launches_from_a_new_versions_user_data(self):
        ec2 = boto3.client("ec2", region_name="us-east-1")
        asg = boto3.client("autoscaling", region_name="us-east-1")
        ec2.create_launch_template(LaunchTemplateName="backend", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "UserData": base64.b64encode(b"#!/bin/bash\nv1\n").decode()})
        v2 = ec2.create_launch_template_version(LaunchTemplateName="backend", LaunchTemplateData={
            "ImageId": "ami-12c6146b", "UserData": base64.b64encode(b"#!/bin/bash\nv2\n").decode()})
        self.assertEqual(v2["LaunchTemplateVersion"]["VersionNumber"], 2)
        data = ec2.describe_launch_template_versions(LaunchTemplateName="backend", Versions=["2"])[
            "LaunchTemplateVersions"][0]["LaunchTemplateData"]
        self.assertEqual(base64.b64decode(data["UserData"]), b"#!/bin/bash\nv2\n")
        asg.create_auto_scaling_group(
            AutoScalingGroupName="g", MinSize=0, MaxSize=2, DesiredCapacity=0,
            LaunchTemplate={"LaunchTemplateName": "backend", "Version": "2"},
            AvailabilityZones=["us-east-1a"])
        asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=1)
        self.assertEqual(len(asg.describe_auto_scaling_groups()["AutoScalingGroups"][0]["Instances"]), 1)


if __name__ == "__main__":
    unittest.main()
