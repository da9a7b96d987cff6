"""Launch moto server on loopback, patched to behave like AWS where the control plane relies on it.

Patches (see README "Local cloud"):
- request handling is serialised: moto's threaded server otherwise loses concurrent conditional
  updates to one DynamoDB item, which real DynamoDB applies atomically;
- Step Functions `ValidateStateMachineDefinition` and `ListStateMachineVersions`, which the
  Terraform AWS provider calls and moto lacks;
- the `attachment.device-index` filter of `DescribeNetworkInterfaces`, which the instances' user
  data uses to find the extra NICs it already attached (moto answers HTTP 500).

Usage: python moto_server.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import json
import sys
import threading

from moto.core.responses import BaseResponse
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.stepfunctions.responses import StepFunctionResponse

_request_lock = threading.RLock()
_call_action = BaseResponse.call_action


def _serialised_call_action(self):
    with _request_lock:
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

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
