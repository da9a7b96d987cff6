"""provider6_check.py finds what AWS provider 6 removed or changed, and nothing else; infra/ and
state-machine/ pass it.

Run: python3 -m unittest infra/tests/test_provider6_check.py   (static.sh runs it)
"""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import provider6_check as p6  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))


def check(src):
    found, _ = p6.check_file("t.tf", src)
    return [(f.line, f.what) for f in found]


def check_tree(files):
    with tempfile.TemporaryDirectory() as d:
        for name, src in files.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(src)
        found, _, _ = p6.check_paths([d])
        return [f.what for f in found]


class Removed(unittest.TestCase):
    def test_eip_vpc(self):
        self.assertEqual(check('resource "aws_eip" "n" {\n  vpc  = true\n  tags = {}\n}\n'),
                         [(2, "resource aws_eip.n: vpc")])

    def test_instance_cpu_core_count_and_threads(self):
        src = 'resource "aws_instance" "i" {\n  ami = "x"\n  cpu_core_count = 2\n  cpu_threads_per_core = 1\n}\n'
        self.assertEqual(check(src), [(3, "resource aws_instance.i: cpu_core_count"),
                                      (4, "resource aws_instance.i: cpu_threads_per_core")])

    def test_instance_user_data_but_not_user_data_base64(self):
        self.assertEqual(check('resource "aws_instance" "i" {\n  user_data = "x"\n}\n'),
                         [(2, "resource aws_instance.i: user_data")])
        self.assertEqual(check('resource "aws_instance" "i" {\n  user_data_base64 = base64encode("x")\n}\n'), [])

    def test_launch_template_blocks_plain_and_dynamic(self):
        src = ('resource "aws_launch_template" "t" {\n'
               '  elastic_gpu_specifications {\n    type = "eg1.medium"\n  }\n'
               '  dynamic "elastic_inference_accelerator" {\n    for_each = []\n'
               '    content {\n      type = "eia1.medium"\n    }\n  }\n}\n')
        self.assertEqual(check(src), [(2, "resource aws_launch_template.t: elastic_gpu_specifications"),
                                      (5, "resource aws_launch_template.t: elastic_inference_accelerator")])

    def test_removed_resource_type(self):
        self.assertEqual(check('resource "aws_simpledb_domain" "d" {\n  name = "x"\n}\n'),
                         [(1, "resource aws_simpledb_domain")])

    def test_provider_endpoints_and_s3_global_endpoint(self):
        src = ('provider "aws" {\n  region = "us-east-1"\n  s3_us_east_1_regional_endpoint = "legacy"\n'
               '  endpoints {\n    ec2 = "http://x"\n    opsworks = "http://x"\n  }\n}\n')
        self.assertEqual(check(src), [(3, "provider aws: s3_us_east_1_regional_endpoint"),
                                      (6, "provider aws: endpoints.opsworks")])

    def test_top_level_region_argument(self):
        self.assertEqual(check('resource "aws_vpc" "v" {\n  region = "us-west-2"\n}\n'),
                         [(2, "resource aws_vpc.v: region")])


class Changed(unittest.TestCase):
    def test_nullable_bool_literals(self):
        src = ('resource "aws_launch_template" "t" {\n  ebs_optimized = "1"\n'
               '  network_interfaces {\n    associate_public_ip_address = 0\n    delete_on_termination = true\n  }\n'
               '  block_device_mappings {\n    ebs {\n      encrypted = var.enc\n    }\n  }\n}\n'
               'resource "aws_lb_target_group" "g" {\n  preserve_client_ip = "true"\n}\n')
        self.assertEqual(check(src), [(2, 'resource aws_launch_template.t: ebs_optimized = "1"'),
                                      (4, "resource aws_launch_template.t: network_interfaces.associate_public_ip_address = 0")])

    def test_ami_most_recent_needs_owners(self):
        bare = 'data "aws_ami" "a" {\n  most_recent = true\n  filter {\n    name = "name"\n    values = ["x"]\n  }\n}\n'
        self.assertEqual(check(bare), [(1, "data aws_ami.a: most_recent without owners")])
        self.assertEqual(check(bare.replace("most_recent = true\n", 'most_recent = true\n  owners = ["amazon"]\n')), [])
        self.assertEqual(check(bare.replace('"name"', '"owner-id"')), [])
        self.assertEqual(check(bare.replace("true", "false")), [])

    def test_ami_allow_unsafe_filter_is_6_only(self):
        self.assertIn((3, "data aws_ami.a: allow_unsafe_filter"),
                      check('data "aws_ami" "a" {\n  most_recent = true\n  allow_unsafe_filter = true\n}\n'))

    def test_lb_listener_mutual_authentication(self):
        passthrough = ('resource "aws_lb_listener" "l" {\n  mutual_authentication {\n    mode = "passthrough"\n'
                       '    trust_store_arn = "arn"\n  }\n}\n')
        self.assertEqual(check(passthrough),
                         [(2, "resource aws_lb_listener.l: mutual_authentication trust_store_arn")])
        verify = 'resource "aws_lb_listener" "l" {\n  mutual_authentication {\n    mode = "verify"\n  }\n}\n'
        self.assertEqual(check(verify), [(2, 'resource aws_lb_listener.l: mutual_authentication mode = "verify"')])
        self.assertEqual(check(verify.replace('"verify"\n', '"verify"\n    trust_store_arn = "arn"\n')), [])


class References(unittest.TestCase):
    def test_region_name_and_region_but_not_id(self):
        src = ('locals {\n  a = data.aws_region.current.name\n  b = "x-${data.aws_region.this[0].region}"\n'
               '  c = data.aws_region.current.id\n}\n')
        self.assertEqual(check(src), [(2, "data.aws_region.current.name"), (3, "data.aws_region.this[0].region")])

    def test_region_attribute_on_other_types(self):
        src = 'locals {\n  a = aws_vpc.v.region\n  b = data.aws_availability_zone.z.region\n  c = aws_s3_bucket.b.region\n}\n'
        self.assertEqual(check(src), [(4, "aws_s3_bucket.b.region"), (2, "aws_vpc.v.region")])

    def test_removed_attributes(self):
        src = 'locals {\n  a = aws_eip.e["k"].vpc\n  b = aws_instance.i.cpu_core_count\n}\n'
        self.assertEqual(check(src), [(3, "aws_instance.i.cpu_core_count"), (2, 'aws_eip.e["k"].vpc')])


class NoFalsePositives(unittest.TestCase):
    def test_comments_strings_maps_heredocs(self):
        src = ('# data.aws_region.current.name in a comment\n'
               'resource "aws_eip" "n" {\n  domain = "vpc" // vpc = true\n'
               '  tags = { vpc = "1", "a#b" = "}" }\n}\n'
               'resource "aws_launch_template" "t" {\n  user_data = base64encode(<<-EOT\n'
               '    vpc = true\n    elastic_gpu_specifications {\n    }\n    EOT\n  )\n'
               '  ebs_optimized = true # "1" in a comment\n'
               '  /* cpu_core_count = 2 */\n}\n')
        self.assertEqual(check(src), [])

    def test_other_providers_and_non_aws_types(self):
        self.assertEqual(check('resource "tls_private_key" "k" {\n  vpc = true\n}\nprovider "google" {\n  region = "x"\n}\n'), [])


class UnreviewedTypes(unittest.TestCase):
    def test_a_type_the_guide_changes_needs_rows(self):
        self.assertEqual(check_tree({"a.tf": 'resource "aws_flow_log" "f" {\n  log_destination = "arn"\n}\n'}),
                         ["resource aws_flow_log"])

    def test_a_type_the_guide_does_not_change_passes(self):
        self.assertEqual(check_tree({"a.tf": 'resource "aws_acm_certificate" "c" {\n  domain_name = "x"\n}\n'}), [])


class ThisRepository(unittest.TestCase):
    def test_infra_and_state_machine_pass(self):
        found, used, files = p6.check_paths([os.path.join(REPO, "infra"), os.path.join(REPO, "state-machine")])
        self.assertEqual([f"{f.file}:{f.line}: {f.what}" for f in found], [])
        self.assertGreater(files, 20)
        # The module's own types are read (the reader did not stop early).
        for k in [("resource", "aws_launch_template"), ("resource", "aws_eip"), ("data", "aws_region"),
                  ("data", "aws_ami"), ("resource", "aws_lb_listener"), ("resource", "aws_sfn_state_machine")]:
            self.assertIn(k, used)


if __name__ == "__main__":
    unittest.main()
