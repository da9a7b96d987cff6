"""IAM in the local cloud: who signs what (issue 16, "the local cloud is as strict as AWS").

moto runs with IAM enforced (tests/emulator/moto_iam.py): Terraform and the scenario clients
sign with the admin user's key; each function process signs with temporary credentials of its
own execution role (assumed as the Lambda service, so the role's trust policy is checked); each
host's AWS CLI with its instance profile role's (assumed as EC2 when the host boots, served by
the IMDS shim, shims/curl, and exported by shims/aws); Step Functions executions with the state
machine's role (moto_iam); the clock and the event feed (playing EventBridge) start executions
with the rules' role's. The router asks moto whether a caller may invoke a function before it
runs the binary. A missing permission is an AccessDenied error of the call that needed it.

`without_action` is the harness's own check that this holds: it takes one action out of a
role's inline policy (through the IAM API, as an operator would) until the block ends.
"""

import contextlib
import json
import os
import sys

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from harness import get_json, post_json  # noqa: E402

REGION = "us-east-1"
# The key names an AWS process reads its credentials from (the Rust SDK's env provider too).
CREDENTIAL_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def admin_env(admin):
    """The admin user's key as AWS_* variables (Terraform, the AWS CLI, boto3)."""
    return {"AWS_ACCESS_KEY_ID": admin["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": admin["SecretAccessKey"]}


def admin_client(service, endpoint, admin, **config):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=admin["AccessKeyId"],
                        aws_secret_access_key=admin["SecretAccessKey"],
                        config=Config(**config) if config else None)


def assume_as_service(moto_url, role_arn, service, session):
    """Temporary credentials of role_arn as `service` would get them (its trust policy decides):
    {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", ...}, the IMDS shape."""
    return post_json(f"{moto_url}/_iam/assume-role-as-service",
                     {"RoleArn": role_arn, "Service": service, "SessionName": session})


def function_env(moto_url, configuration):
    """The credentials a function process runs with: its execution role's (the function
    configuration's Role), as Lambda sets them."""
    creds = assume_as_service(moto_url, configuration["Role"], "lambda.amazonaws.com",
                              configuration["FunctionName"])
    return {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["Token"]}


def instance_profile_role(iam, instance, launch_template_data):
    """The role of the instance profile an instance runs with (from the instance, else from the
    launch template it was launched from: moto does not always copy it to the instance)."""
    profile = (instance.get("IamInstanceProfile")
               or launch_template_data.get("IamInstanceProfile") or {})
    if profile.get("Arn"):
        name = profile["Arn"].rsplit("/", 1)[-1]
    else:
        name = profile.get("Name")
    if not name:
        raise RuntimeError(f"{instance['InstanceId']} has no instance profile")
    roles = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Roles"]
    return roles[0]["Arn"]


def write_host_credentials(host_dir, moto_url, role_arn, instance_id):
    """What the IMDS shim serves at /latest/meta-data/iam/security-credentials/[<role>]: the
    instance profile role's temporary credentials, assumed as EC2 when the host boots."""
    creds = assume_as_service(moto_url, role_arn, "ec2.amazonaws.com", instance_id)
    d = os.path.join(host_dir, "iam")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "role"), "w") as f:
        f.write(role_arn.rsplit("/", 1)[-1])
    with open(os.path.join(d, "credentials.json"), "w") as f:
        json.dump(creds, f, indent=2)


def strip_credentials(env):
    """env without AWS keys: a host has none but its instance profile's (from IMDS)."""
    return {k: v for k, v in env.items() if k not in CREDENTIAL_ENV}


@contextlib.contextmanager
def without_action(iam, role_name, action):
    """Inside the block, `action` is gone from every statement of the role's inline policies
    (statements left without actions are dropped); the policies are put back after."""
    saved = {}
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        doc = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        doc = json.loads(doc) if isinstance(doc, str) else doc
        statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        kept, removed = [], False
        for st in statements:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            left = [a for a in actions if a != action]
            removed = removed or len(left) != len(actions)
            if left:
                kept.append(dict(st, Action=left))
        if removed:
            saved[name] = doc
            iam.put_role_policy(RoleName=role_name, PolicyName=name,
                                PolicyDocument=json.dumps(dict(doc, Statement=kept)))
    if not saved:
        raise ValueError(f"no inline policy of {role_name} allows {action}")
    try:
        yield
    finally:
        for name, doc in saved.items():
            iam.put_role_policy(RoleName=role_name, PolicyName=name, PolicyDocument=json.dumps(doc))


def events_role(events, state_machine_arn):
    """The role EventBridge starts the state machine with: the one its rules' targets name."""
    for rule in events.list_rule_names_by_target(TargetArn=state_machine_arn)["RuleNames"]:
        for target in events.list_targets_by_rule(Rule=rule)["Targets"]:
            if target["Arn"] == state_machine_arn and target.get("RoleArn"):
                return target["RoleArn"]
    raise RuntimeError(f"no EventBridge rule targets {state_machine_arn} with a role")


def events_sfn_client(moto_url, endpoint, role_arn, **config):
    """A Step Functions client signing as EventBridge does for the rules: with the rules'
    role's temporary credentials (assumed as events.amazonaws.com)."""
    creds = assume_as_service(moto_url, role_arn, "events.amazonaws.com", "eventbridge")
    return boto3.client("stepfunctions", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["Token"],
                        config=Config(**config) if config else None)


def denials(moto_url):
    """Every request moto refused so far (authentication or authorization): [{"time",
    "service", "error", "message"}]."""
    return get_json(f"{moto_url}/_iam/denials")["denials"]

