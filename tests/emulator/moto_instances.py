"""moto patch: an instance Auto Scaling launches from a launch template gets the template's
primary network interface settings, as on AWS.

moto's Auto Scaling passes only the template id to `RunInstances`, and moto reads the template's
top-level `SecurityGroupIds` but not its `NetworkInterfaces`: the module's backends (whose
template sets the groups and `AssociatePublicIpAddress` on the interface) came up without
security groups and without a public address, so the seed's `get_ips` helper answered `[]` and
the local cloud could not tell which network a host is in. A plain `RunInstances` from a
template (Terraform's `aws_instance` with `launch_template`: the SMB and S3 gateways) also lost
the interface's subnet and landed in the default VPC: it now gets the template's subnet, as on
AWS, when the request names none.
"""

from typing import Any

from moto.ec2.models.instances import InstanceBackend

_run_instances = InstanceBackend.run_instances


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def _primary_interface(template_data: dict[str, Any]) -> dict[str, Any]:
    for nic in template_data.get("NetworkInterfaces") or []:
        if str(nic.get("DeviceIndex", 0)) == "0":
            return nic
    return {}


def _run_instances_with_template_interface(self: InstanceBackend, image_id: str, count: int,
                                           user_data: Any, security_group_names: list[str],
                                           **kwargs: Any) -> Any:
    if kwargs.get("launch_template"):
        nic = _primary_interface(self._get_template_from_args(kwargs["launch_template"]).data)
        if kwargs.get("associate_public_ip") is None and "AssociatePublicIpAddress" in nic:
            kwargs["associate_public_ip"] = _flag(nic["AssociatePublicIpAddress"])
        if not kwargs.get("security_group_ids") and not security_group_names and nic.get("Groups"):
            kwargs["security_group_ids"] = list(nic["Groups"])
        if not kwargs.get("subnet_id") and not kwargs.get("nics") and nic.get("SubnetId"):
            kwargs["subnet_id"] = nic["SubnetId"]
    return _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)


def apply() -> None:
    InstanceBackend.run_instances = _run_instances_with_template_interface
