#!/usr/bin/env python3
"""Fail on any change in a plan taken right after an apply (`terraform show -json PLAN`).

A perpetual diff is a module bug unless it is one of the emulator's known quirks below; each
quirk is matched on its exact shape (the attribute, and the value moto reports), so a real
change of the same attribute still fails. Used by apply_moto.sh, drift_moto.sh and the migration e2e
(tests/localcloud/migration.py).

    plan_drift.py PLAN.json
"""
import json
import sys

# moto/autoscaling/models.py LifecycleHook: "TODO: These were hardcoded in the original XML
# template" - every hook reports this role and SQS target, although none was set.
MOTO_HOOK_ROLE = "arn:aws:iam::1234567890:role/my-auto-scaling-role"
MOTO_HOOK_TARGET = "arn:aws:sqs:us-east-1:123456789012:my-queue"


def unknown_paths(node, path=()):
    """Paths marked unknown in after_unknown."""
    if node is True:
        yield path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from unknown_paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from unknown_paths(v, path + (i,))


def normal(value):
    """The SDKv2 providers read an unset string as "" or null interchangeably (Terraform treats
    the two as equal for them and shows no change): compare them as equal."""
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normal(v) for v in value]
    return None if value == "" else value


def changed_attributes(change):
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    keys = set(before) | set(after)
    return {k for k in keys
            if normal(before.get(k)) != normal(after.get(k)) or any(True for _ in unknown_paths(unknown.get(k)))}


def hook_quirk(change, changed):
    before, after = change["before"], change["after"]
    quirk = {"role_arn": MOTO_HOOK_ROLE, "notification_target_arn": MOTO_HOOK_TARGET}
    if changed and changed <= set(quirk) and all(before.get(k) == quirk[k] and after.get(k) is None for k in changed):
        return "moto reports a hardcoded role_arn/notification_target_arn for every lifecycle hook"
    return None


def lambda_quirk(change, changed):
    if changed == {"logging_config"} and not change["before"].get("logging_config"):
        return "moto does not store a function's LoggingConfig (GetFunctionConfiguration returns none)"
    return None


def launch_template_quirk(change, changed):
    before, after = change["before"], change["after"]
    unknown = change.get("after_unknown") or {}
    versions = {"default_version", "latest_version"}
    if not changed - versions or not all(unknown.get(v) is True for v in changed & versions):
        return None
    reasons = []
    rest = changed - versions
    if "tags" in rest:
        tags_b, tags_a = before.get("tags") or {}, after.get("tags") or {}
        if not set(tags_b.items()) < set(tags_a.items()):
            return None
        rest -= {"tags", "tags_all"}
        reasons.append("moto describes a launch template's tags as of its creation (later CreateTags are not shown)")
    if "tag_specifications" in rest:
        # CreateLaunchTemplate's own TagSpecifications (resource type launch-template, the
        # template's tags) are copied by moto into the version's data; AWS keeps them apart.
        extra = [t for t in before.get("tag_specifications") or [] if t not in (after.get("tag_specifications") or [])]
        kept = [t for t in before.get("tag_specifications") or [] if t not in extra]
        if not (extra and all(t["resource_type"] == "launch-template" and t["tags"] == before.get("tags") for t in extra)
                and kept == after.get("tag_specifications")):
            return None
        rest -= {"tag_specifications"}
        reasons.append("moto adds the template's own tags to the version's tag_specifications (resource type launch-template)")
    return "; ".join(reasons) if not rest else None


def listener_quirk(change, changed):
    before, after = change["before"], change["after"]
    if changed == {"certificate_arn"} and before.get("protocol") == after.get("protocol") == "HTTP" \
            and before.get("certificate_arn") and after.get("certificate_arn") is None:
        return ("moto keeps an HTTPS listener's certificate after ModifyListener changes it to HTTP "
                "(AWS removes the certificates and SSL policy with the protocol)")
    return None


def asg_quirk(change, changed, quirk_only_templates):
    unknown = change.get("after_unknown") or {}
    if changed == {"launch_template"} and list(unknown_paths(unknown.get("launch_template"))) == [(0, "version")] \
            and quirk_only_templates:
        return "the launch template's version follows the launch template quirk above"
    return None


def main(path):
    plan = json.load(open(path))
    errors, quirks = [], []
    changes = [rc for rc in plan.get("resource_changes", []) if rc["change"]["actions"] not in (["no-op"], ["read"])]
    templates = [rc for rc in changes if rc["type"] == "aws_launch_template"]
    quirk_only_templates = bool(templates)
    for rc in templates:
        if rc["change"]["actions"] != ["update"] or not launch_template_quirk(rc["change"], changed_attributes(rc["change"])):
            quirk_only_templates = False
    for rc in changes:
        change, actions = rc["change"], rc["change"]["actions"]
        if actions != ["update"]:
            errors.append(f"{rc['address']}: {'/'.join(actions)}")
            continue
        changed = changed_attributes(change)
        if not changed:
            quirks.append(f"{rc['address']}: only \"\" against null, which the SDKv2 providers do not tell apart")
            continue
        reason = {
            "aws_autoscaling_lifecycle_hook": lambda: hook_quirk(change, changed),
            "aws_lambda_function": lambda: lambda_quirk(change, changed),
            "aws_launch_template": lambda: launch_template_quirk(change, changed),
            "aws_autoscaling_group": lambda: asg_quirk(change, changed, quirk_only_templates),
            "aws_lb_listener": lambda: listener_quirk(change, changed),
        }.get(rc["type"], lambda: None)()
        if reason:
            quirks.append(f"{rc['address']} ({', '.join(sorted(changed))}): {reason}")
        else:
            detail = {k: [(change.get("before") or {}).get(k), (change.get("after") or {}).get(k)] for k in sorted(changed)}
            errors.append(f"{rc['address']}: update {json.dumps(detail, default=str)[:600]}")
    for q in quirks:
        print(f"  moto quirk, ignored: {q}")
    for e in errors:
        print(f"  perpetual diff: {e}")
    print(f"{len(errors)} perpetual diff(s), {len(quirks)} known emulator quirk(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
