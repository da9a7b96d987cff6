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
the local cloud could not tell which network a host is in.

An instance started with `RunInstances` and its own primary interface gets that interface's
security groups too (moto described it without any).

Also `MonitorInstances` / `UnmonitorInstances` (detailed monitoring on or off), which moto
answers with HTTP 500 "not yet implemented": the Terraform AWS provider calls it after creating
an `aws_instance` with `monitoring = true` (the module's clients) and retries the 500 for ever.

And `CreateLaunchTemplateVersion` keeps the version's user data as moto's other paths do
(base64, `Base64EncodedString`): moto stored it as a plain string, and Auto Scaling's next launch
from that version failed an assertion (HTTP 500). Terraform updates a launch template in place
with a new version: the migration e2e's switch from WEKA's module does, then scales out.
"""

from typing import Any

from moto.ec2.models.instances import InstanceBackend
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.responses.monitoring import Monitoring
from moto.ec2.utils import parse_user_data

_run_instances = InstanceBackend.run_instances
_create_version = LaunchTemplate.create_version


def _create_version_with_user_data(self: LaunchTemplate, data: dict[str, Any],
                                   description: str) -> Any:
    if isinstance(data, dict) and isinstance(data.get("UserData"), (str, bytes)):
        data = dict(data, UserData=parse_user_data(data["UserData"]))
    return _create_version(self, data, description)


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
    # RunInstances with a primary interface of its own (the Terraform AWS provider sends the
    # groups there whenever associate_public_ip_address is set): the instance has those groups,
    # as on AWS (moto gave it none).
    primary = [n for n in kwargs.get("nics") or [] if str(n.get("DeviceIndex", 0)) == "0"]
    groups = primary and (primary[0].get("Groups") or primary[0].get("SecurityGroupId"))
    if groups and not kwargs.get("security_group_ids") and not security_group_names:
        kwargs["security_group_ids"] = list(groups)
    return _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)


_MONITORING_RESPONSE = """<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <instancesSet>{items}</instancesSet>
</{action}Response>"""


def _set_monitoring(self: Monitoring, action: str, state: str) -> str:
    self.error_on_dryrun()
    items = []
    for instance_id in self._get_param("InstanceIds", []):
        self.ec2_backend.get_instance(instance_id).monitoring_state = state
        items.append(f"<item><instanceId>{instance_id}</instanceId><monitoring><state>{state}</state></monitoring></item>")
    return _MONITORING_RESPONSE.format(action=action, items="".join(items))


def _monitor_instances(self: Monitoring) -> str:
    return _set_monitoring(self, "MonitorInstances", "enabled")


def _unmonitor_instances(self: Monitoring) -> str:
    return _set_monitoring(self, "UnmonitorInstances", "disabled")


def apply() -> None:
    InstanceBackend.run_instances = _run_instances_with_template_interface
    LaunchTemplate.create_version = _create_version_with_user_data
    Monitoring.monitor_instances = _monitor_instances
    Monitoring.unmonitor_instances = _unmonitor_instances
