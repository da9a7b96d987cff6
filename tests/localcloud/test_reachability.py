"""The local cloud's network rules (reachability.py) on hand-written Terraform states: what a
VPC-attached Lambda and an instance reach, and that taking away an endpoint, a route or a
security-group rule takes away the service, as on AWS."""

import copy
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reachability import ALL, Blackhole, Network, endpoint_env, weka_url_template  # noqa: E402

VPC, SUBNET, RTB = "vpc-1", "subnet-1", "rtb-1"


def resource(kind, values):
    return {"mode": "managed", "type": kind, "values": values}


def egress(port_from, port_to, cidr, protocol="tcp"):
    return {"from_port": port_from, "to_port": port_to, "protocol": protocol,
            "cidr_blocks": [cidr], "self": False}


def state(routes=(), endpoints=(), lambda_egress=None, public_ip=True):
    """A deployment like the module's default: one VPC and subnet, the VPC-attached `status`, an
    instance launch template; `routes` of the subnet's table, `endpoints` (service, type)."""
    lambda_egress = lambda_egress if lambda_egress is not None else [
        egress(14000, 14000, "10.0.0.0/16"), egress(443, 443, "0.0.0.0/0")]
    resources = [
        resource("aws_vpc", {"id": VPC, "cidr_block": "10.0.0.0/16"}),
        resource("aws_subnet", {"id": SUBNET, "vpc_id": VPC, "cidr_block": "10.0.0.0/24"}),
        resource("aws_route_table", {"id": RTB, "vpc_id": VPC, "route": list(routes)}),
        resource("aws_route_table_association", {"subnet_id": SUBNET, "route_table_id": RTB}),
        resource("aws_security_group", {"id": "sg-lambda", "egress": lambda_egress,
                                        "ingress": []}),
        resource("aws_security_group", {"id": "sg-cluster", "ingress": [],
                                        "egress": [egress(0, 0, "0.0.0.0/0", "-1")]}),
        resource("aws_security_group", {"id": "sg-endpoints", "egress": [],
                                        "ingress": [egress(443, 443, "10.0.0.0/16")]}),
        resource("aws_lambda_function", {"function_name": "status", "vpc_config": [
            {"subnet_ids": [SUBNET], "security_group_ids": ["sg-lambda"]}]}),
        resource("aws_lambda_function", {"function_name": "fetch", "vpc_config": []}),
        resource("aws_launch_template", {"id": "lt-1", "network_interfaces": [
            {"associate_public_ip_address": "true" if public_ip else "false",
             "security_groups": ["sg-cluster"]}]}),
    ]
    for service, kind in endpoints:
        resources.append(resource("aws_vpc_endpoint", {
            "vpc_id": VPC, "service_name": f"com.amazonaws.us-east-1.{service}",
            "vpc_endpoint_type": kind, "private_dns_enabled": kind == "Interface",
            "route_table_ids": [RTB] if kind == "Gateway" else [],
            "security_group_ids": ["sg-endpoints"] if kind == "Interface" else []}))
    return {"values": {"root_module": {"child_modules": [{"resources": resources}]}}}


IGW = {"cidr_block": "0.0.0.0/0", "gateway_id": "igw-1", "nat_gateway_id": ""}
NAT = {"cidr_block": "0.0.0.0/0", "gateway_id": "", "nat_gateway_id": "nat-1"}
DEFAULT_ENDPOINTS = [("secretsmanager", "Interface"), ("ec2", "Interface"),
                     ("autoscaling", "Interface"), ("dynamodb", "Gateway")]


class FunctionReach(unittest.TestCase):
    def test_outside_a_vpc_every_service_and_no_private_address(self):
        reach = Network(state()).function_reach("fetch")
        self.assertEqual(reach.services, ALL)
        self.assertFalse(reach.weka)

    def test_an_internet_gateway_does_not_help_a_vpc_function(self):
        reach = Network(state(routes=[IGW])).function_reach("status")
        self.assertEqual(reach.services, frozenset())
        self.assertTrue(reach.weka)

    def test_each_endpoint_opens_its_service_only(self):
        reach = Network(state(routes=[IGW], endpoints=DEFAULT_ENDPOINTS)).function_reach("status")
        self.assertEqual(reach.services, {"secretsmanager", "ec2", "autoscaling", "dynamodb"})

    def test_removing_an_endpoint_removes_its_service(self):
        endpoints = [e for e in DEFAULT_ENDPOINTS if e[0] != "dynamodb"]
        reach = Network(state(routes=[IGW], endpoints=endpoints)).function_reach("status")
        self.assertNotIn("dynamodb", reach.services)
        self.assertIn("ec2", reach.services)

    def test_a_gateway_endpoint_needs_the_subnets_route_table(self):
        s = state(routes=[IGW], endpoints=[("dynamodb", "Gateway")])
        for r in s["values"]["root_module"]["child_modules"][0]["resources"]:
            if r["type"] == "aws_vpc_endpoint":
                r["values"]["route_table_ids"] = ["rtb-other"]
        self.assertNotIn("dynamodb", Network(s).function_reach("status").services)

    def test_a_nat_route_opens_everything(self):
        self.assertEqual(Network(state(routes=[NAT])).function_reach("status").services, ALL)

    def test_no_https_egress_no_service_and_no_14000_no_weka(self):
        reach = Network(state(routes=[NAT], endpoints=DEFAULT_ENDPOINTS,
                              lambda_egress=[])).function_reach("status")
        self.assertEqual(reach.services, frozenset())
        self.assertFalse(reach.weka)


class InstanceReach(unittest.TestCase):
    def test_public_address_and_internet_gateway_reach_everything(self):
        net = Network(state(routes=[IGW]))
        public, groups = net.launch_template_nic("lt-1")
        self.assertEqual(net.reach(SUBNET, groups, public).services, ALL)

    def test_without_a_public_address_only_endpoints(self):
        net = Network(state(routes=[IGW], endpoints=[("lambda", "Interface")], public_ip=False))
        public, groups = net.launch_template_nic("lt-1")
        self.assertFalse(public)
        self.assertEqual(net.reach(SUBNET, groups, public).services, {"lambda"})


class Environment(unittest.TestCase):
    def test_unreachable_services_point_at_a_refusing_address(self):
        reach = Network(state(routes=[IGW], endpoints=[("dynamodb", "Gateway")])) \
            .function_reach("status")
        env = endpoint_env(reach, "http://aws", "http://hole")
        self.assertEqual(env["AWS_ENDPOINT_URL_DYNAMODB"], "http://aws")
        self.assertEqual(env["AWS_ENDPOINT_URL_EC2"], "http://hole")
        self.assertEqual(env["AWS_ENDPOINT_URL"], "http://hole")
        self.assertEqual(weka_url_template(reach, "http://sim", "http://hole"),
                         "http://sim/{ip}/api/v1")

    def test_the_blackhole_refuses(self):
        import urllib.error
        import urllib.request
        hole = Blackhole()
        try:
            with self.assertRaises(urllib.error.URLError):
                urllib.request.urlopen(hole.url, timeout=5)
        finally:
            hole.close()

    def test_states_are_not_mutated(self):
        s = state(routes=[IGW], endpoints=DEFAULT_ENDPOINTS)
        before = copy.deepcopy(s)
        Network(s).function_reach("status")
        self.assertEqual(s, before)


if __name__ == "__main__":
    unittest.main()
