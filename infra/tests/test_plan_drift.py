"""plan_drift.py lets through only moto's quirks, on their exact shape; anything else fails.

Run: python3 -m unittest infra/tests/test_plan_drift.py   (static.sh runs it)
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def update(address, rtype, before, after, unknown=None):
    return {"address": address, "type": rtype,
            "change": {"actions": ["update"], "before": before, "after": after, "after_unknown": unknown or {}}}


def run(*changes):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"resource_changes": list(changes)}, f)
    try:
        p = subprocess.run([sys.executable, os.path.join(HERE, "plan_drift.py"), f.name], capture_output=True, text=True)
        return p.returncode, p.stdout
    finally:
        os.unlink(f.name)


HOOK_ROLE = "arn:aws:iam::1234567890:role/my-auto-scaling-role"
HOOK_TARGET = "arn:aws:sqs:us-east-1:123456789012:my-queue"


class PlanDrift(unittest.TestCase):
    def test_an_empty_plan_passes(self):
        self.assertEqual(run({"address": "a", "type": "aws_vpc", "change": {"actions": ["no-op"]}})[0], 0)

    def test_moto_hook_targets_are_a_quirk(self):
        rc, out = run(update("h", "aws_autoscaling_lifecycle_hook",
                             {"role_arn": HOOK_ROLE, "notification_target_arn": HOOK_TARGET, "heartbeat_timeout": 900},
                             {"role_arn": None, "notification_target_arn": None, "heartbeat_timeout": 900}))
        self.assertEqual(rc, 0, out)
        self.assertIn("moto quirk", out)

    def test_a_real_hook_change_fails(self):
        rc, out = run(update("h", "aws_autoscaling_lifecycle_hook",
                             {"role_arn": HOOK_ROLE, "heartbeat_timeout": 900}, {"role_arn": None, "heartbeat_timeout": 120}))
        self.assertEqual(rc, 1, out)
        self.assertIn("perpetual diff: h", out)

    def test_a_role_the_module_set_is_not_the_quirk(self):
        rc, out = run(update("h", "aws_autoscaling_lifecycle_hook", {"role_arn": "arn:aws:iam::1:role/x"}, {"role_arn": None}))
        self.assertEqual(rc, 1, out)

    def test_missing_logging_config_is_a_quirk_but_another_attribute_is_not(self):
        cfg = [{"log_format": "JSON"}]
        self.assertEqual(run(update("f", "aws_lambda_function", {"logging_config": [], "timeout": 30},
                                    {"logging_config": cfg, "timeout": 30}))[0], 0)
        self.assertEqual(run(update("f", "aws_lambda_function", {"logging_config": [], "timeout": 30},
                                    {"logging_config": cfg, "timeout": 60}))[0], 1)

    def test_launch_template_tag_spec_copy_is_a_quirk_with_its_asg(self):
        inst = {"resource_type": "instance", "tags": {"Name": "b"}}
        lt_tags = {"weka_cluster_name": "Prod"}
        lt = update("lt", "aws_launch_template",
                    {"tags": lt_tags, "tag_specifications": [inst, {"resource_type": "launch-template", "tags": lt_tags}], "latest_version": 1},
                    {"tags": lt_tags, "tag_specifications": [inst], "latest_version": None}, {"latest_version": True})
        asg = update("asg", "aws_autoscaling_group", {"launch_template": [{"id": "lt-1", "version": "1"}]},
                     {"launch_template": [{"id": "lt-1"}]}, {"launch_template": [{"version": True}]})
        self.assertEqual(run(lt, asg)[0], 0)
        # An ASG following a launch template that really changes is a real diff.
        real = update("lt", "aws_launch_template", {"instance_type": "a", "latest_version": 1},
                      {"instance_type": "b", "latest_version": None}, {"latest_version": True})
        rc, out = run(real, asg)
        self.assertEqual(rc, 1, out)
        self.assertIn("perpetual diff: asg", out)

    def test_a_certificate_left_on_an_http_listener_is_a_quirk_but_not_on_https(self):
        cert = "arn:aws:acm:us-east-1:123456789012:certificate/x"
        self.assertEqual(run(update("l", "aws_lb_listener", {"protocol": "HTTP", "certificate_arn": cert},
                                    {"protocol": "HTTP", "certificate_arn": None}))[0], 0)
        self.assertEqual(run(update("l", "aws_lb_listener", {"protocol": "HTTPS", "certificate_arn": cert},
                                    {"protocol": "HTTPS", "certificate_arn": None}))[0], 1)

    def test_replacements_and_creates_always_fail(self):
        for actions in (["create"], ["delete"], ["delete", "create"]):
            rc, _ = run({"address": "x", "type": "aws_lambda_function", "change": {"actions": actions, "before": {}, "after": {}}})
            self.assertEqual(rc, 1, actions)

    def test_empty_string_and_null_are_equal(self):
        self.assertEqual(run(update("g", "aws_autoscaling_group", {"capacity_reservation_specification": [{"capacity_reservation_preference": None}]},
                                    {"capacity_reservation_specification": [{"capacity_reservation_preference": ""}]}))[0], 0)


if __name__ == "__main__":
    unittest.main()
