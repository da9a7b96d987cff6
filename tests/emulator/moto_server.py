"""Launch moto server on loopback, patched to behave like AWS where the control plane relies on it.

Patches (see README "Local cloud"):
- request handling is serialised: moto's threaded server otherwise loses concurrent conditional
  updates to one DynamoDB item, which real DynamoDB applies atomically;
- Step Functions `ValidateStateMachineDefinition` and `ListStateMachineVersions`, which the
  Terraform AWS provider calls and moto lacks;
- the `attachment.device-index` filter of `DescribeNetworkInterfaces`, which the instances' user
  data uses to find the extra NICs it already attached (moto answers HTTP 500);
- Auto Scaling lifecycle hooks (Pending:Wait / Terminating:Wait, CompleteLifecycleAction,
  RecordLifecycleActionHeartbeat, heartbeat timeouts) and an event feed on `/_lifecycle/`:
  see `moto_lifecycle.py` and LIFECYCLE.md. Replacement after an EC2 termination only restores
  the desired capacity, as on AWS (moto replaced every terminated member).

Usage: python moto_server.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import json
import os
import sys
import threading

from moto.core.responses import BaseResponse
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.stepfunctions.responses import StepFunctionResponse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_lifecycle  # noqa: E402

_request_lock = threading.RLock()
_call_action = BaseResponse.call_action


_LIFECYCLE_SERVICES = {"autoscaling", "ec2"}


def _serialised_call_action(self):
    with _request_lock:
        if getattr(self, "service_name", None) in _LIFECYCLE_SERVICES:
            # Lazy evaluation of lifecycle-hook timeouts (the timer thread covers idle periods).
            moto_lifecycle.tick()
        return _call_action(self)


def _validate_state_machine_definition(self):
    return json.dumps({"result": "OK", "diagnostics": []})


def _list_state_machine_versions(self):
    return json.dumps({"stateMachineVersions": []})


_eni_filter = NetworkInterface.get_filter_value


def _eni_filter_value(self, filter_name, method_name=None):
    if filter_name == "attachment.device-index":
        return str(self.device_index) if self.instance is not None else None
    return _eni_filter(self, filter_name, method_name)


BaseResponse.call_action = _serialised_call_action
NetworkInterface.get_filter_value = _eni_filter_value
StepFunctionResponse.validate_state_machine_definition = _validate_state_machine_definition
StepFunctionResponse.list_state_machine_versions = _list_state_machine_versions
moto_lifecycle.install(_request_lock, start_timer=__name__ == "__main__")

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
