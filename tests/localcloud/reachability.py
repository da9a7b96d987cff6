"""What each caller in the local cloud can reach, read from the applied Terraform state, and the
AWS SDK/CLI environment that makes everything else fail as it would on AWS.

On AWS a Lambda outside any VPC reaches every public AWS endpoint and no private address; a
VPC-attached Lambda gets a network interface without a public address, so it reaches an AWS
service only through a VPC endpoint of that service or a NAT gateway on its subnet's route, and
WEKA's API only where its security groups let TCP 14000 out. An instance reaches AWS through its
public address and an internet gateway, a NAT gateway, or endpoints. Here every AWS service is
one loopback endpoint (the router); a service a caller cannot reach is given a loopback address
that refuses connections (`Blackhole`), per service (`AWS_ENDPOINT_URL_<SERVICE>`), so the SDK
and the CLI fail with a connection error as they would (after a timeout) on AWS.
"""

import copy
import ipaddress
import socket

# Service (the endpoint's service name suffix) -> the SDK/CLI environment suffix (service id).
SERVICES = {
    "autoscaling": "AUTO_SCALING",
    "dynamodb": "DYNAMODB",
    "ec2": "EC2",
    "lambda": "LAMBDA",
    "s3": "S3",
    "secretsmanager": "SECRETS_MANAGER",
    "states": "SFN",
    "sts": "STS",
    "logs": "CLOUDWATCH_LOGS",
    "elasticloadbalancing": "ELASTIC_LOAD_BALANCING_V2",
}
ALL = frozenset(SERVICES)
WEKA_PORT = 14000
HTTPS = 443


class Blackhole:
    """A loopback port bound and never listened on: every connection to it is refused."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self):
        self.sock.close()


def _resources(module):
    for r in module.get("resources", []):
        yield r
    for child in module.get("child_modules", []):
        yield from _resources(child)


class Reach:
    """What one caller reaches: AWS services (a subset of ALL) and whether WEKA's API (the
    backends' private addresses) is reachable, with the reason for each verdict."""

    def __init__(self, services, weka, why):
        self.services = frozenset(services)
        self.weka = weka
        self.why = why

    def describe(self):
        services = "all AWS services" if self.services == ALL else (
            ", ".join(sorted(self.services)) or "no AWS service")
        return f"{services}; WEKA API {'yes' if self.weka else 'no'} ({self.why})"


class Network:
    """The VPC layout of an applied deployment (`terraform show -json`): subnets, route tables,
    NAT and internet gateways, VPC endpoints, security groups, Lambda VPC configs, launch
    templates."""

    def __init__(self, state):
        by_type = {}
        for r in _resources(state.get("values", {}).get("root_module", {})):
            if r.get("mode") == "managed":
                by_type.setdefault(r["type"], []).append(r["values"])
        self.subnets = {s["id"]: s for s in by_type.get("aws_subnet", [])}
        self.vpcs = {v["id"]: v for v in by_type.get("aws_vpc", [])}
        self.route_tables = {t["id"]: t for t in by_type.get("aws_route_table", [])}
        self.subnet_route_table = {a["subnet_id"]: a["route_table_id"]
                                   for a in by_type.get("aws_route_table_association", [])
                                   if a.get("subnet_id")}
        self.endpoints = by_type.get("aws_vpc_endpoint", [])
        self.security_groups = {g["id"]: g for g in by_type.get("aws_security_group", [])}
        self.functions = {f["function_name"]: f for f in by_type.get("aws_lambda_function", [])}
        self.launch_templates = by_type.get("aws_launch_template", [])

    def without_endpoint(self, service):
        """The same network with the VPC endpoints of `service` deleted (the harness's own test:
        a deployment missing an endpoint must fail here as on AWS)."""
        other = copy.copy(self)
        other.endpoints = [e for e in self.endpoints
                           if e["service_name"].rsplit(".", 1)[-1] != service]
        return other

    # ---- building blocks ---------------------------------------------------------------------

    def _vpc_cidr(self, subnet_id):
        subnet = self.subnets.get(subnet_id)
        if subnet is None:
            return None
        vpc = self.vpcs.get(subnet["vpc_id"])
        return vpc["cidr_block"] if vpc else subnet["cidr_block"]

    def _routes(self, subnet_id):
        table = self.route_tables.get(self.subnet_route_table.get(subnet_id, ""), {})
        return table.get("route") or []

    def _default_route(self, subnet_id, kind):
        for route in self._routes(subnet_id):
            if route.get("cidr_block") != "0.0.0.0/0":
                continue
            if kind == "nat" and route.get("nat_gateway_id"):
                return True
            if kind == "igw" and (route.get("gateway_id") or "").startswith("igw-"):
                return True
        return False

    def _allows(self, sg_ids, direction, port, cidr):
        """Whether any of the groups has a rule (egress/ingress) for TCP `port` covering `cidr`."""
        target = ipaddress.ip_network(cidr)
        for sg_id in sg_ids:
            for rule in (self.security_groups.get(sg_id) or {}).get(direction) or []:
                if rule.get("protocol") not in ("-1", "tcp", "6"):
                    continue
                if rule.get("protocol") != "-1" and not (
                        int(rule.get("from_port", 0)) <= port <= int(rule.get("to_port", 0))):
                    continue
                for block in rule.get("cidr_blocks") or []:
                    if target.subnet_of(ipaddress.ip_network(block)):
                        return True
                if rule.get("self") and direction == "egress":
                    return True
        return False

    def reach(self, subnet_id, sg_ids, public_ip):
        """What a caller with a network interface in `subnet_id`, in groups `sg_ids`, with or
        without a public address, reaches."""
        vpc_cidr = self._vpc_cidr(subnet_id)
        if vpc_cidr is None:
            return Reach(set(), False, f"subnet {subnet_id} is not in the state")
        out_443 = self._allows(sg_ids, "egress", HTTPS, "0.0.0.0/0")
        weka = self._allows(sg_ids, "egress", WEKA_PORT, vpc_cidr)
        if out_443 and self._default_route(subnet_id, "nat"):
            return Reach(ALL, weka, "NAT gateway")
        if out_443 and public_ip and self._default_route(subnet_id, "igw"):
            return Reach(ALL, weka, "public address, internet gateway")
        services, via = set(), []
        vpc_id = self.subnets[subnet_id]["vpc_id"]
        table = self.subnet_route_table.get(subnet_id)
        for ep in self.endpoints:
            if ep.get("vpc_id") != vpc_id:
                continue
            service = ep["service_name"].rsplit(".", 1)[-1]
            if ep.get("vpc_endpoint_type") == "Gateway":
                ok = table in (ep.get("route_table_ids") or []) and out_443
            else:
                ok = (bool(ep.get("private_dns_enabled"))
                      and self._allows(sg_ids, "egress", HTTPS, vpc_cidr)
                      and self._allows(ep.get("security_group_ids") or [], "ingress", HTTPS,
                                       self.subnets[subnet_id]["cidr_block"]))
            if ok and service in SERVICES:
                services.add(service)
                via.append(service)
        why = ("endpoints: " + ", ".join(sorted(via))) if via else "no NAT, no endpoint"
        if not public_ip and self._default_route(subnet_id, "igw"):
            why += "; no public address"
        return Reach(services, weka, why)

    # ---- callers -----------------------------------------------------------------------------

    def function_reach(self, function_name):
        """A Lambda: outside a VPC every AWS service and no private address."""
        f = self.functions.get(function_name)
        vpc = (f or {}).get("vpc_config") or []
        if not vpc or not vpc[0].get("subnet_ids"):
            return Reach(ALL, False, "not in a VPC")
        subnet = sorted(vpc[0]["subnet_ids"])[0]
        return self.reach(subnet, vpc[0].get("security_group_ids") or [], public_ip=False)

    def launch_template_nic(self, template_id):
        """The primary network interface of a launch template: (public address?, groups), or
        (None, []) for a template not in the state. (moto's instances launched by Auto Scaling
        carry neither the template's groups nor its public address.)"""
        for lt in self.launch_templates:
            if lt.get("id") == template_id:
                nic = (lt.get("network_interfaces") or [{}])[0]
                return (str(nic.get("associate_public_ip_address")).lower() == "true",
                        list(nic.get("security_groups") or []))
        return None, []


def endpoint_env(reach, aws_url, blackhole_url):
    """The SDK/CLI environment for a caller: reachable services at `aws_url`, the rest (and any
    service not listed) refused."""
    env = {"AWS_ENDPOINT_URL": aws_url if reach.services == ALL else blackhole_url}
    for service, suffix in SERVICES.items():
        env[f"AWS_ENDPOINT_URL_{suffix}"] = aws_url if service in reach.services else blackhole_url
    return env


def weka_url_template(reach, sim_url, blackhole_url):
    """WEKA_API_URL_TEMPLATE for a caller: the simulator where the backends are reachable."""
    return (sim_url if reach.weka else blackhole_url) + "/{ip}/api/v1"
