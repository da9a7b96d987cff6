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
- instances Auto Scaling launches from a launch template get its primary network interface's
  security groups and public address, and `MonitorInstances`/`UnmonitorInstances` exist
  (`moto_instances.py`);
- an SDK retry of a request that already succeeded gets the first attempt's answer again instead
  of being executed twice. The AWS SDKs resend a request under the same `amz-sdk-invocation-id`
  (with `amz-sdk-request: attempt=N`, N > 1) when the first attempt's answer did not reach them;
  executing the copy turned one lost answer into a duplicate: a CreateFunction retried after it
  had succeeded answered 409 "Function already exist", which the Terraform AWS provider retries
  for 5 minutes and then fails the apply. Only answers with a 2xx status of non-GET requests are
  kept (the last 1024); a new call (new invocation id) is executed as always, so a genuine
  duplicate still gets AWS's 409.
- request timing: a request that took longer than MOTO_SLOW_REQUEST_SECS (default 5) is logged
  to stderr with the time spent waiting for the request lock and in the handler;
  MOTO_REQUEST_TIMING=1 logs every request that way.
- DynamoDB transactions copy only the items they name (moto copied whole tables, so a
  transaction's cost grew with the table), and `/_dynamodb/transaction-conflicts` cancels the
  next K transactions as conflicting, as DynamoDB does under contention (`moto_dynamodb.py`);
- ACM: a re-imported certificate keeps its tags, and a certificate an ELBv2 listener uses is
  "in use" (`InUseBy`, `DeleteCertificate` refused), as on AWS (`moto_acm.py`);
- IAM enforcement, opt-in: with MOTO_IAM_ADMIN_FILE=<path> every request must be signed by a
  known identity whose policies allow it; the admin user's key is written to <path> before the
  server serves (see `moto_iam.py`). Without it, any credentials pass, as before.

Usage: python moto_server.py -H 127.0.0.1 -p PORT   (same arguments as moto_server)
"""

import collections
import json
import os
import sys
import threading
import time

from moto.core.responses import BaseResponse
from moto.ec2.models.elastic_network_interfaces import NetworkInterface
from moto.stepfunctions.responses import StepFunctionResponse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_acm  # noqa: E402
import moto_dynamodb  # noqa: E402
import moto_instances  # noqa: E402
import moto_iam  # noqa: E402
import moto_lifecycle  # noqa: E402

_request_lock = threading.RLock()
_call_action = BaseResponse.call_action


_LIFECYCLE_SERVICES = {"autoscaling", "ec2"}
_TIME_ALL = os.environ.get("MOTO_REQUEST_TIMING", "") not in ("", "0")
_SLOW_SECS = float(os.environ.get("MOTO_SLOW_REQUEST_SECS", "5"))

# Answers of succeeded non-GET requests by SDK invocation id, for retries of the same call.
_ANSWERS_KEPT = 1024
_answers: collections.OrderedDict = collections.OrderedDict()


def _header(self, name):
    """A request header, by case-insensitive name (moto passes Werkzeug headers or a dict)."""
    headers = getattr(self, "headers", None)
    try:
        value = headers.get(name) if headers is not None else None
        if value is None and isinstance(headers, dict):
            value = next((v for k, v in headers.items() if k.lower() == name), None)
        return value
    except Exception:  # noqa: BLE001 - header containers differ between services
        return None


def _sdk_attempt(self):
    """(invocation id, attempt number) of an AWS SDK request, or (None, 0)."""
    invocation = _header(self, "amz-sdk-invocation-id")
    if not invocation:
        return None, 0
    attempt = 1
    for part in (_header(self, "amz-sdk-request") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt" and value.isdigit():
            attempt = int(value)
    return invocation, attempt


def _action_name(self):
    try:
        return self._get_action() or "?"
    except Exception:  # noqa: BLE001 - only for the log line
        return "?"


def _log(msg):
    sys.stderr.write(f"moto_server: {msg}\n")
    sys.stderr.flush()


def _serialised_call_action(self):
    invocation, attempt = _sdk_attempt(self)
    keep = invocation is not None and getattr(self, "method", "GET") not in ("GET", "HEAD")
    asked = time.monotonic()
    with _request_lock:
        started = time.monotonic()
        if keep and attempt > 1 and invocation in _answers:
            status, headers, body = _answers[invocation]
            _log(f"{getattr(self, 'service_name', '?')} {_action_name(self)}: SDK retry (attempt {attempt}) of invocation "
                 f"{invocation}, which already succeeded: its answer ({status}) again, not executed twice")
            return status, dict(headers), body
        if getattr(self, "service_name", None) in _LIFECYCLE_SERVICES:
            # Lazy evaluation of lifecycle-hook timeouts (the timer thread covers idle periods).
            moto_lifecycle.tick()
        result = _call_action(self)
        done = time.monotonic()
        if keep and isinstance(result, tuple) and len(result) == 3 and 200 <= int(result[0]) < 300:
            _answers[invocation] = (result[0], dict(result[1]), result[2])
            while len(_answers) > _ANSWERS_KEPT:
                _answers.popitem(last=False)
    if _TIME_ALL or done - asked > _SLOW_SECS:
        status = result[0] if isinstance(result, tuple) else 200
        _log(f"{getattr(self, 'service_name', '?')} {_action_name(self)} {status}: "
             f"{done - asked:.3f}s (lock wait {started - asked:.3f}s, handler {done - started:.3f}s)"
             + (f" attempt {attempt}" if attempt > 1 else ""))
    return result


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
moto_instances.apply()
moto_dynamodb.apply()
moto_acm.apply()
if os.environ.get("MOTO_IAM_ADMIN_FILE") and __name__ == "__main__":
    moto_iam.install(os.environ["MOTO_IAM_ADMIN_FILE"], _request_lock)

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
