"""IAM enforcement for the patched moto server (tests/emulator/moto_server.py), opt-in.

With `MOTO_IAM_ADMIN_FILE=<path>` in the server's environment, moto's own authentication and
authorization (moto/iam/access_control.py) is switched on from the first request
(`settings.INITIAL_NO_AUTH_ACTION_COUNT = 0`): every AWS API request must carry a SigV4
signature of a known key (an IAM user's access key, or an assumed role's temporary key with its
session token) and the identity's policies must allow the action. Before serving, an admin IAM
user (inline policy Allow * on *) is created in-process and its key written to the file as JSON
({"AccessKeyId", "SecretAccessKey", "Arn"}): the harness (Terraform, the scenario clients) uses it.

What this module adds to moto's evaluation, so that it decides as AWS would for the calls the
control plane makes:
- the IAM action of an API operation where their names differ (Lambda `Invoke` is
  `lambda:InvokeFunction`; moto checks `lambda:Invoke`, which no policy names);
- the request's resource ARN for the calls whose policies are resource-scoped (Lambda Invoke,
  DynamoDB single-table calls, Secrets Manager, Auto Scaling group actions, Step Functions,
  EC2 actions on one instance or ENI). moto determines a resource only for IAM/STS/SQS/S3 and
  otherwise checks "*", which no resource-scoped `Allow` matches (every such call was denied);
- a DynamoDB TransactWriteItems is authorized as AWS does, item by item (PutItem, UpdateItem,
  DeleteItem, ConditionCheckItem on each item's table); moto checked a TransactWriteItems action,
  which no policy can grant;
- the signed payload of a GET/HEAD/DELETE without a body is empty (moto signed its parsed
  parameters, which for a bodiless GET are the headers: SignatureDoesNotMatch);
- a request whose resource is still unknown ("*": several resources, or an unlisted service)
  matches any statement's Resource, i.e. for those the action alone decides.
What moto (and so this local cloud) ignores: Conditions of identity policies (moto evaluates
only StringEquals on keys it is given, and it is given none: `aws:ResourceTag/...` and
`ec2:CreateAction` conditions always hold), NotResource, resource-based policies (Lambda
permissions, which for a same-account caller only add to the identity policy), session
policies, permission boundaries and SCPs. A Deny statement scoped to a resource moto cannot
determine would deny every such request (the module's policies have none).

Services assume roles as AWS does, not through the admin: `POST /_iam/assume-role-as-service
{"RoleArn", "Service", "SessionName"}` (the harness, playing Lambda for each function's
execution role and EC2 for the instance profile's role) checks that the role's trust policy
allows that service principal sts:AssumeRole (moto's trust check crashes on Service principals)
and answers temporary credentials in the IMDS shape ({"AccessKeyId", "SecretAccessKey", "Token",
"Expiration"}). Step Functions executions invoke their Lambdas with the state machine's role's
temporary credentials, taken the same way (moto's interpreter signs with a fixed "ak"/"sk").
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import urllib.parse
from typing import Any

import moto_routes

ACCOUNT = "123456789012"
PARTITION = "aws"
ADMIN_USER = "localcloud-admin"
# Temporary credentials last longer than any run (AWS: Lambda and IMDS refresh them).
SESSION_SECONDS = 6 * 3600

# API operation -> IAM action, where they differ (the ones the control plane calls).
ACTION_ALIASES = {"lambda:Invoke": "lambda:InvokeFunction"}

_lock: Any = threading.RLock()
# Every refused request (`GET /_iam/denials`): a run can assert that nothing it did not mean to
# be refused was (a function may log and tolerate an error).
_denials: list[dict[str, Any]] = []
_role_sessions: dict[tuple[str, str], dict[str, str]] = {}


def _iam():
    from moto.iam.models import iam_backends
    return iam_backends[ACCOUNT][PARTITION]


def create_admin(path: str) -> dict[str, str]:
    """The admin user with an access key (written to path)."""
    iam = _iam()
    iam.create_user(region_name="us-east-1", user_name=ADMIN_USER)
    iam.put_user_policy(ADMIN_USER, "administrator", json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    key = iam.create_access_key(ADMIN_USER)
    admin = {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key,
             "Arn": f"arn:{PARTITION}:iam::{ACCOUNT}:user/{ADMIN_USER}"}
    with open(path + ".tmp", "w") as f:
        json.dump(admin, f)
    os.replace(path + ".tmp", path)
    return admin


# ---- trust policies for service principals -------------------------------------------------

def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _glob(pattern: str, value: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."), value) is not None


def _condition_holds(condition: dict, context: dict[str, str]) -> bool:
    """StringEquals/StringLike/ArnLike/ArnEquals on the context's keys; anything else (or a key
    the context lacks) does not hold: an unknown condition fails closed here."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = context.get(key)
            if actual is None:
                return False
            if operator in ("StringEquals", "ArnEquals"):
                ok = actual in _as_list(expected)
            elif operator in ("StringLike", "ArnLike"):
                ok = any(_glob(p, actual) for p in _as_list(expected))
            else:
                return False
            if not ok:
                return False
    return True


def trust_allows(document: str | dict, service: str, context: dict[str, str]) -> bool:
    """Whether a role's trust policy lets `service` (e.g. lambda.amazonaws.com) assume it."""
    doc = json.loads(document) if isinstance(document, str) else document
    allowed = False
    for st in _as_list(doc.get("Statement", [])):
        actions = _as_list(st.get("Action", []))
        if not any(_glob(a, "sts:AssumeRole") for a in actions):
            continue
        principal = st.get("Principal") or {}
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        if principal != "*" and service not in services:
            continue
        if not _condition_holds(st.get("Condition") or {}, context):
            continue
        if st.get("Effect") == "Deny":
            return False
        allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def assume_as_service(role_arn: str, service: str, session: str) -> dict[str, str]:
    """Temporary credentials of role_arn for `service`, if its trust policy allows it."""
    from moto.sts.models import sts_backends
    with _lock:
        role = _iam().get_role_by_arn(role_arn)
        context = {"aws:SourceAccount": ACCOUNT}
        if not trust_allows(role.assume_role_policy_document, service, context):
            raise PermissionError(f"{service} is not trusted by {role_arn}")
        assumed = sts_backends[ACCOUNT][PARTITION].assume_role(
            region_name="us-east-1", role_session_name=session[:64], role_arn=role_arn,
            policy=None, duration=SESSION_SECONDS, external_id=None)
        return {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": assumed.access_key_id,
                "SecretAccessKey": assumed.secret_access_key, "Token": assumed.session_token,
                "Expiration": assumed.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _control_app(environ: dict[str, Any], start_response: Any) -> Any:
    from werkzeug.wrappers import Request, Response
    request = Request(environ)
    status, body = 200, None
    if request.path.rstrip("/") == "/_iam/denials" and request.method == "GET":
        body = {"denials": list(_denials)}
    elif request.path.rstrip("/") == "/_iam/assume-role-as-service" and request.method == "POST":
        try:
            ask = json.loads(request.get_data() or b"{}")
            body = assume_as_service(ask["RoleArn"], ask["Service"],
                                     ask.get("SessionName") or "localcloud")
        except PermissionError as e:
            status, body = 403, {"error": str(e)}
        except Exception as e:  # noqa: BLE001 - reported to the caller
            status, body = 400, {"error": f"{type(e).__name__}: {e}"}
    else:
        status, body = 404, {"error": f"no such endpoint: {request.method} {request.path}"}
    return Response(json.dumps(body), status=status, mimetype="application/json")(
        environ, start_response)


# ---- resources of requests -----------------------------------------------------------------

_INVOKE = re.compile(r"^/[^/]+/functions/([^/]+)/invocations")
_EC2_TYPES = {"i": "instance", "eni": "network-interface", "vol": "volume", "subnet": "subnet",
              "sg": "security-group"}


def _json_body(self: Any) -> dict:
    try:
        body = self.body  # DynamoDB's handler replaces it by the parsed parameters
        if isinstance(body, dict):
            return body
        return json.loads(body) if body else {}
    except Exception:  # noqa: BLE001 - not JSON: no resource
        return {}


def _query_values(self: Any, prefix: str) -> list[str]:
    qs = getattr(self, "querystring", {}) or {}
    return [v[0] if isinstance(v, list) else v for k, v in qs.items()
            if k == prefix or re.fullmatch(re.escape(prefix) + r"\.\d+", k)]


def _resource(self: Any) -> str:
    """The ARN of the one resource a request acts on, or "*" when unknown."""
    service = getattr(self, "service_name", "")
    region = getattr(self, "region", "us-east-1")
    acct = getattr(self, "current_account", ACCOUNT)
    action = self._get_action()
    if service == "awslambda":
        m = _INVOKE.match(urllib.parse.urlparse(self.uri).path) if action == "Invoke" else None
        if m:
            name = urllib.parse.unquote(m.group(1))
            if name.startswith("arn:"):
                name = name.split(":function:")[-1]
            name = name.split(":")[0]
            return f"arn:{PARTITION}:lambda:{region}:{acct}:function:{name}"
    elif service == "dynamodb":
        table = _json_body(self).get("TableName")
        if table:
            return f"arn:{PARTITION}:dynamodb:{region}:{acct}:table/{table}"
    elif service == "secretsmanager":
        secret = _json_body(self).get("SecretId")
        if secret:
            if secret.startswith("arn:"):
                return secret
            from moto.secretsmanager.models import secretsmanager_backends
            try:
                return secretsmanager_backends[acct][region].describe_secret(secret).arn
            except Exception:  # noqa: BLE001 - no such secret: moto answers that
                return "*"
    elif service == "autoscaling":
        names = _query_values(self, "AutoScalingGroupName")
        if len(names) == 1 and action not in ("DescribeAutoScalingGroups",):
            from moto.autoscaling.models import autoscaling_backends
            group = autoscaling_backends[acct][region].autoscaling_groups.get(names[0])
            if group is not None:
                return group.arn
    elif service == "stepfunctions":
        body = _json_body(self)
        arn = body.get("stateMachineArn") or body.get("executionArn")
        if arn:
            return arn
    elif service == "ec2" and action in ("TerminateInstances", "ModifyInstanceAttribute",
                                         "CreateTags", "AttachNetworkInterface",
                                         "ModifyNetworkInterfaceAttribute", "StopInstances"):
        ids = (_query_values(self, "InstanceId") + _query_values(self, "ResourceId")
               + _query_values(self, "NetworkInterfaceId"))
        if len(ids) == 1 and ids[0].split("-")[0] in _EC2_TYPES:
            return f"arn:{PARTITION}:ec2:{region}:{acct}:{_EC2_TYPES[ids[0].split('-')[0]]}/{ids[0]}"
    return "*"


_TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                        "ConditionCheck": "ConditionCheckItem"}


def _transaction_parts(self: Any) -> list[tuple[str, str]] | None:
    """(action, table ARN) per item of a DynamoDB TransactWriteItems; None for other requests."""
    if getattr(self, "service_name", "") != "dynamodb" or self._get_action() != "TransactWriteItems":
        return None
    region = getattr(self, "region", "us-east-1")
    acct = getattr(self, "current_account", ACCOUNT)
    parts = []
    for item in _json_body(self).get("TransactItems", []):
        for op, body in item.items():
            table = body.get("TableName", "*") if isinstance(body, dict) else "*"
            parts.append((_TRANSACTION_ACTIONS.get(op, op),
                          f"arn:{PARTITION}:dynamodb:{region}:{acct}:table/{table}"))
    return parts


def _determine_resource(self: Any) -> str:
    try:
        return _resource(self)
    except Exception:  # noqa: BLE001 - an unknown resource is "*", never a failed request
        return "*"


def _protocol(self: Any) -> str:
    try:
        from moto.core.utils import get_service_model
        return get_service_model(self.boto3_service_name).metadata.get("protocol", "")
    except Exception:  # noqa: BLE001 - unknown: moto's XML error
        return ""


# ---- Step Functions: the execution role's credentials ---------------------------------------

def _patch_sfn_clients() -> None:
    import sys

    import boto3
    from botocore.config import Config
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.utils import boto_client as module

    original = module.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            # No role: moto's fixed key, which authentication refuses (visible as a task error).
            return original(region, service, state_credentials)
        with _lock:
            creds = _role_sessions.get((role_arn, "states"))
            if creds is None:
                creds = assume_as_service(role_arn, "states.amazonaws.com", "states-execution")
                _role_sessions[(role_arn, "states")] = creds
        from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
        return boto3.client(
            service_name=service, region_name=region,
            endpoint_url=f"http://localhost:{moto_server_port()}",
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["Token"],
            config=Config(parameter_validation=False,
                          retries={"max_attempts": 0, "total_max_attempts": 1},
                          connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                          read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS))

    module.boto_client_for = boto_client_for
    # Modules that imported the name already hold the original.
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils  # noqa: F401
    for name, mod in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(mod, "boto_client_for", None) is original:
            mod.boto_client_for = boto_client_for


# ---- install --------------------------------------------------------------------------------

def install(admin_file: str, lock: Any) -> dict[str, str]:
    """Switches enforcement on; lock: the server's request lock (backends are not thread-safe)."""
    global _lock
    _lock = lock
    from moto import settings
    from moto.core.exceptions import JsonRESTError, _RESTError as RESTError
    from moto.core.responses import BaseResponse
    from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase

    admin = create_admin(admin_file)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0

    init = IAMRequestBase.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._action = ACTION_ALIASES.get(self._action, self._action)

    IAMRequestBase.__init__ = __init__  # type: ignore[method-assign]

    create_request = IAMRequestBase._create_aws_request

    def _create_aws_request(self: Any) -> Any:
        # The signed payload of a GET/HEAD/DELETE without a body is empty. moto signs its parsed
        # parameters when the body is empty (right for a form POST, whose body werkzeug already
        # consumed), which for a request without query or body are the headers: every bodiless
        # GET (Lambda GetFunction, ...) failed with SignatureDoesNotMatch.
        if not self._body and self._method in ("GET", "HEAD", "DELETE"):
            body, self._body, data, self._data = self._body, b"", self._data, b""
            try:
                return create_request(self)
            finally:
                self._body, self._data = body, data
        return create_request(self)

    IAMRequestBase._create_aws_request = _create_aws_request  # type: ignore[method-assign]

    matches = IAMPolicyStatement._check_element_matches

    def _check_element_matches(self: Any, element: Any, value: str) -> bool:
        if element == "Resource" and value == "*":
            return True  # resource unknown: the action alone decides (see the module doc)
        return matches(self, element, value)

    IAMPolicyStatement._check_element_matches = _check_element_matches  # type: ignore[method-assign]

    authorize = BaseResponse._authenticate_and_authorize_normal_action

    def _authenticate_and_authorize_normal_action(self: Any, resource: str = "*") -> None:
        try:
            parts = _transaction_parts(self)
            if parts is None:
                authorize(self, resource)
            for action, part_resource in parts or []:
                # As AWS: each item of a transaction needs its own action on its table; there is
                # no dynamodb:TransactWriteItems permission to grant.
                self._get_action = lambda action=action: action
                resource = part_resource
                try:
                    authorize(self, resource)
                finally:
                    del self._get_action
        except RESTError as e:
            # As AWS words it: the resource named, and in the service's protocol (moto answers
            # XML to every service; the JSON SDK clients then lose the error's code).
            message = e.message + (f" on resource: {resource}" if e.error_type == "AccessDenied"
                                   and resource != "*" else "")
            _denials.append({"time": time.time(), "service": getattr(self, "service_name", "?"),
                             "error": e.error_type, "message": message})
            if _protocol(self) in ("json", "rest-json"):
                error_type = ("AccessDeniedException" if e.error_type == "AccessDenied"
                              else "UnrecognizedClientException"
                              if e.error_type == "InvalidClientTokenId" else e.error_type)
                err = JsonRESTError(error_type, message)
            else:
                err = RESTError(e.error_type, message)
            err.code = e.code
            raise err from None

    BaseResponse._authenticate_and_authorize_normal_action = (  # type: ignore[method-assign]
        _authenticate_and_authorize_normal_action)
    # IAM, STS, SQS and S3 keep moto's own resource determination.
    BaseResponse._determine_resource = _determine_resource  # type: ignore[attr-defined]

    moto_routes.mount("/_iam/", _control_app)
    _patch_sfn_clients()
    return admin
