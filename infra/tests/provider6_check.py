#!/usr/bin/env python3
"""AWS provider 6 guard: no .tf under infra/ or state-machine/ uses what hashicorp/aws 6.0 removed,
renamed or restricted, nor what exists only on 6 (the module takes ">= 5.60.0, < 7.0.0", and the
offline mirror has only 5.100.0, so `terraform validate` here never sees a 6.x schema).

Each row of RULES cites the section of the provider's "Version 6 Upgrade Guide" (GUIDE) it comes
from, or the 6.0.0 CHANGELOG entry where the guide says nothing. TYPES_IN_GUIDE lists every
resource and data source type the guide or the 6.0.0 CHANGELOG changes: a type from it that the
module starts to use without rows here fails, so a new resource type gets reviewed against the
guide before it lands.

Run: python3 infra/tests/provider6_check.py [DIR ...]   (static.sh runs it; no terraform needed)
Exit 0 when clean, 1 listing file:line, what 6.x does there, the fix and the guide section.
"""
import os
import re
import sys
from collections import namedtuple

GUIDE = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/guides/version-6-upgrade"
CHANGELOG = "https://github.com/hashicorp/terraform-provider-aws/blob/main/CHANGELOG.md#600-june-18-2025"

# ---------------------------------------------------------------------------------------------
# The table. kind: "resource", "data" or "provider"; path: nested block names, then the argument
# (a `dynamic "x"` block counts as block x). A row matches when the argument or block is set.
# ---------------------------------------------------------------------------------------------
Rule = namedtuple("Rule", "kind type path change fix cite")

RULES = [
    Rule("resource", "aws_instance", "cpu_core_count", "removed in 6.0",
         "cpu_options { core_count = ... } (exists on 5 too)", GUIDE + "#resource-aws_instance"),
    Rule("resource", "aws_instance", "cpu_threads_per_core", "removed in 6.0",
         "cpu_options { threads_per_core = ... } (exists on 5 too)", GUIDE + "#resource-aws_instance"),
    Rule("resource", "aws_instance", "user_data",
         "6.0 keeps user_data in clear text in the state (5 kept a hash): the state differs by major",
         "user_data_base64 = base64encode(...) (stored as given on 5 and 6)", GUIDE + "#resource-aws_instance"),
    Rule("resource", "aws_launch_template", "elastic_gpu_specifications", "removed in 6.0 (Elastic Graphics end of life)",
         "remove the block", GUIDE + "#resource-aws_launch_template"),
    Rule("resource", "aws_launch_template", "elastic_inference_accelerator", "removed in 6.0 (Elastic Inference end of life)",
         "remove the block", GUIDE + "#resource-aws_launch_template"),
    Rule("resource", "aws_eip", "vpc", "removed in 6.0",
         'domain = "vpc" (exists on 5 too)', GUIDE + "#resource-aws_eip"),
    Rule("data", "aws_region", "name", "argument deprecated in 6.0 (`region` replaces it, and does not exist on 5)",
         "omit it (the provider's region) or use a second provider configuration", GUIDE + "#data-source-aws_region"),
    Rule("data", "aws_ami", "allow_unsafe_filter", "exists only on 6 (invalid on 5)",
         "set owners, or a filter on owner-id or image-id", GUIDE + "#data-source-aws_ami"),
    Rule("provider", "aws", "endpoints.opsworks", "removed in 6.0", "remove it", GUIDE + "#removed-provider-arguments"),
    Rule("provider", "aws", "endpoints.simpledb", "removed in 6.0", "remove it", GUIDE + "#removed-provider-arguments"),
    Rule("provider", "aws", "endpoints.sdb", "removed in 6.0", "remove it", GUIDE + "#removed-provider-arguments"),
    Rule("provider", "aws", "endpoints.worklink", "removed in 6.0", "remove it", GUIDE + "#removed-provider-arguments"),
    Rule("provider", "aws", "endpoints.iotanalytics", "removed in 6.0", "remove it", CHANGELOG + " (#42703)"),
    Rule("provider", "aws", "endpoints.iotevents", "removed in 6.0", "remove it", CHANGELOG + " (#42703)"),
    Rule("provider", "aws", "s3_us_east_1_regional_endpoint", "deprecated in 6.0, removed in 7.0",
         "remove it (regional is the default)", GUIDE + "#s3-global-endpoint-deprecation"),
]

# Arguments 6.0 turned from "any boolean-ish string" into one of "", true or false
# (GUIDE#nullable-boolean-validation-update): a literal 0 / 1 / "0" / "1" fails on 6.
NULLABLE_BOOL = {
    ("resource", "aws_launch_template"): [
        "block_device_mappings.ebs.delete_on_termination", "block_device_mappings.ebs.encrypted", "ebs_optimized",
        "network_interfaces.associate_carrier_ip_address", "network_interfaces.associate_public_ip_address",
        "network_interfaces.delete_on_termination", "network_interfaces.primary_ipv6"],
    ("resource", "aws_lb_target_group"): ["preserve_client_ip"],
    ("resource", "aws_alb_target_group"): ["preserve_client_ip"],
}
NULLABLE_BOOL_OK = {"true", "false", '""', '"true"', '"false"', "null"}

# References (in any expression, strings included) to attributes 6.0 removed or changed, or that
# exist only on 6. `data.aws_region.X.id` is the one form valid on both majors (6.47 deprecates it
# too, a warning only: CHANGELOG 6.47.0, #48036).
RegRule = namedtuple("RegRule", "pattern change fix cite")
_IDX = r"(?:\[[^\]]*\])?"
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
REFERENCES = [
    RegRule(rf"\bdata\.aws_region\.{_NAME}{_IDX}\.name\b", "data.aws_region's name is deprecated in 6.0",
            "data.aws_region.X.id (the region's name on 5 and 6)", GUIDE + "#data-source-aws_region"),
    RegRule(rf"\bdata\.aws_region\.{_NAME}{_IDX}\.region\b", "data.aws_region's region exists only on 6",
            "data.aws_region.X.id (the region's name on 5 and 6)", GUIDE + "#data-source-aws_region"),
    RegRule(rf"\b(?:data\.)?aws_s3_bucket\.{_NAME}{_IDX}\.(?:region|bucket_region)\b",
            "aws_s3_bucket's region means the managing region in 6.0; bucket_region exists only on 6",
            "the region the module already knows (local.region)", GUIDE + "#resource-aws_s3_bucket"),
    RegRule(rf"\bdata\.aws_launch_template\.{_NAME}{_IDX}\.(?:elastic_gpu_specifications|elastic_inference_accelerator)\b",
            "removed from data.aws_launch_template in 6.0", "drop the reference", GUIDE + "#data-source-aws_launch_template"),
    RegRule(rf"\baws_instance\.{_NAME}{_IDX}\.(?:cpu_core_count|cpu_threads_per_core)\b",
            "removed from aws_instance in 6.0", "cpu_options[0].core_count / threads_per_core",
            GUIDE + "#resource-aws_instance"),
    RegRule(rf"\baws_eip\.{_NAME}{_IDX}\.vpc\b", "removed from aws_eip in 6.0", "domain", GUIDE + "#resource-aws_eip"),
    # Every other regional type gains a `region` attribute in 6.0 (Enhanced Region Support): a
    # reference to it does not exist on 5. data.aws_availability_zone had it on 5 already.
    RegRule(rf"\b(?:data\.)?(?!aws_availability_zone\.|aws_region\.|aws_s3_bucket\.)aws_[a-z0-9_]+\.{_NAME}{_IDX}\.region\b",
            "`region` on resources and data sources exists only on 6 (Enhanced Region Support)",
            "local.region", GUIDE + "#enhanced-region-support"),
]

# Every type the 6.0 guide or the 6.0.0 CHANGELOG changes (removed types in REMOVED_TYPES).
TYPES_IN_GUIDE = {
    "resource": {
        "aws_accessanalyzer_archive_rule", "aws_alb_target_group", "aws_api_gateway_account",
        "aws_api_gateway_deployment", "aws_appflow_connector_profile", "aws_appflow_flow",
        "aws_batch_compute_environment", "aws_batch_job_queue",
        "aws_bedrock_model_invocation_logging_configuration", "aws_cloudformation_stack_set_instance",
        "aws_cloudfront_key_value_store", "aws_cloudfront_response_headers_policy",
        "aws_cloudtrail_event_data_store", "aws_codeconnections_host", "aws_cognito_user_in_group",
        "aws_config_aggregate_authorization", "aws_cur_report_definition", "aws_db_instance",
        "aws_dms_endpoint", "aws_dx_gateway_association", "aws_dx_hosted_connection",
        "aws_ec2_spot_instance_fleet", "aws_spot_fleet_request", "aws_spot_instance_request",
        "aws_ecs_task_definition", "aws_eip", "aws_eks_addon", "aws_elasticache_cluster",
        "aws_elasticache_replication_group", "aws_elasticache_user", "aws_elasticache_user_group",
        "aws_elastictranscoder_pipeline", "aws_elastictranscoder_preset", "aws_evidently_feature",
        "aws_evidently_launch", "aws_evidently_project", "aws_evidently_segment", "aws_flow_log",
        "aws_globalaccelerator_accelerator", "aws_guardduty_detector",
        "aws_guardduty_organization_configuration", "aws_identitystore_group",
        "aws_imagebuilder_container_recipe", "aws_imagebuilder_image_recipe", "aws_instance",
        "aws_kinesis_analytics_application", "aws_launch_template", "aws_lb_listener",
        "aws_alb_listener", "aws_lb_target_group", "aws_media_store_container",
        "aws_media_store_container_policy", "aws_mq_broker", "aws_networkmanager_core_network",
        "aws_opensearch_domain", "aws_opensearchserverless_security_config",
        "aws_paymentcryptography_key", "aws_quicksight_data_set", "aws_redshift_cluster",
        "aws_rekognition_stream_processor", "aws_resiliencehub_resiliency_policy", "aws_s3_bucket",
        "aws_sagemaker_app_image_config", "aws_sagemaker_image_version", "aws_sagemaker_notebook_instance",
        "aws_service_discovery_service", "aws_servicequotas_template", "aws_ssm_association",
        "aws_ssmincidents_replication_set", "aws_verifiedpermissions_schema", "aws_wafv2_web_acl",
    },
    "data": {
        "aws_ami", "aws_availability_zone", "aws_batch_compute_environment", "aws_cloudtrail_service_account",
        "aws_ecs_task_definition", "aws_ecs_task_execution", "aws_lb_listener_rule", "aws_alb_listener_rule",
        "aws_globalaccelerator_accelerator", "aws_identitystore_group", "aws_identitystore_user",
        "aws_kms_secret", "aws_launch_template", "aws_opensearch_domain",
        "aws_opensearchserverless_security_config", "aws_quicksight_data_set", "aws_region", "aws_s3_bucket",
        "aws_service_discovery_service", "aws_servicequotas_templates", "aws_ssmincidents_replication_set",
        "aws_vpc_endpoint_service", "aws_vpc_peering_connection",
    },
}
REMOVED_TYPES = {
    "aws_simpledb_domain", "aws_worklink_fleet", "aws_worklink_website_certificate_authority_association",
    "aws_redshift_service_account",
} | {"aws_opsworks_" + s for s in (
    "application", "custom_layer", "ecs_cluster_layer", "ganglia_layer", "haproxy_layer", "instance",
    "java_app_layer", "memcached_layer", "mysql_layer", "nodejs_app_layer", "permission", "php_app_layer",
    "rails_app_layer", "rds_db_instance", "stack", "static_web_layer", "user_profile")}

# Types from TYPES_IN_GUIDE whose only 6.0 change is checked elsewhere than in RULES (by a custom
# check below or a reference rule), or does not apply to any argument: reviewed.
REVIEWED = {
    ("resource", "aws_lb_listener"): "mutual_authentication: check_lb_listener",
    ("resource", "aws_alb_listener"): "mutual_authentication: check_lb_listener",
    ("resource", "aws_lb_target_group"): "preserve_client_ip: NULLABLE_BOOL",
    ("resource", "aws_alb_target_group"): "preserve_client_ip: NULLABLE_BOOL",
    ("resource", "aws_s3_bucket"): "region / bucket_region: REFERENCES",
    ("data", "aws_ami"): "most_recent without owners: check_ami",
    ("data", "aws_availability_zone"): "region becomes optional in 6.0: the generic region rule",
    ("data", "aws_launch_template"): "removed attributes: REFERENCES",
}

Finding = namedtuple("Finding", "file line what change fix cite")


# ---------------------------------------------------------------------------------------------
# A small HCL reader: blocks, their labels and arguments (the argument's expression as text).
# Strings (with ${...} / %{...}), heredocs and comments are skipped as such, so neither a `{` in a
# string nor a `vpc = ` inside a map value is taken for structure.
# ---------------------------------------------------------------------------------------------
Block = namedtuple("Block", "type labels line attrs blocks")  # attrs: [(name, text, line)]

_HEREDOC = re.compile(r"<<-?([A-Za-z_][A-Za-z0-9_]*)[ \t]*\r?\n")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class Reader:
    def __init__(self, src):
        self.s = src
        self.n = len(src)

    def line(self, i):
        return self.s.count("\n", 0, i) + 1

    def skip_template(self, i):  # at "${" or "%{"
        i += 2
        depth = 1
        while i < self.n and depth:
            c = self.s[i]
            if c == '"':
                i = self.skip_string(i)
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            i += 1
        return i

    def skip_string(self, i):  # at '"'; returns the index after the closing quote
        i += 1
        while i < self.n:
            c = self.s[i]
            if c == "\\":
                i += 2
                continue
            if c == '"' or c == "\n":
                return i + 1
            if self.s.startswith("$${", i) or self.s.startswith("%%{", i):
                i += 3
                continue
            if self.s.startswith("${", i) or self.s.startswith("%{", i):
                i = self.skip_template(i)
                continue
            i += 1
        return i

    def skip_heredoc(self, i):  # at "<<"; returns the index after the closing marker's line
        m = _HEREDOC.match(self.s, i)
        marker = m.group(1)
        i = m.end()
        while i < self.n:
            end = self.s.find("\n", i)
            end = self.n if end < 0 else end
            if self.s[i:end].strip() == marker:
                return end
            i = end + 1
        return self.n

    def skip_comment(self, i):  # at "#", "//" or "/*"; returns the index of the comment's end
        if self.s.startswith("/*", i):
            end = self.s.find("*/", i + 2)
            return self.n if end < 0 else end + 2
        end = self.s.find("\n", i)
        return self.n if end < 0 else end

    def is_comment(self, i):
        return self.s[i] == "#" or self.s.startswith("//", i) or self.s.startswith("/*", i)

    def skip_space(self, i, newlines=True):
        while i < self.n:
            c = self.s[i]
            if c in " \t\r" or (newlines and c == "\n"):
                i += 1
            elif self.is_comment(i) and (newlines or not self.s.startswith("/*", i)):
                if not newlines:
                    return i
                i = self.skip_comment(i)
            else:
                break
        return i

    def expression_end(self, i):
        """The end of an argument's expression: a newline (or the body's `}`) outside brackets."""
        depth = 0
        while i < self.n:
            c = self.s[i]
            if c == '"':
                i = self.skip_string(i)
                continue
            if c == "<" and _HEREDOC.match(self.s, i):
                i = self.skip_heredoc(i)
                continue
            if self.is_comment(i):
                if self.s.startswith("/*", i):
                    i = self.skip_comment(i)
                    continue
                if depth == 0:
                    return i  # a trailing comment is not part of the expression
                i = self.skip_comment(i)
                continue
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    return i
                depth -= 1
            elif c == "\n" and depth == 0:
                return i
            i += 1
        return i

    def body(self, i, top=False):
        """Reads arguments and blocks up to the body's `}` (or the end); returns (attrs, blocks, i)."""
        attrs, blocks = [], []
        while True:
            i = self.skip_space(i)
            if i >= self.n:
                return attrs, blocks, i
            if self.s[i] == "}":
                if top:
                    raise ValueError(f"line {self.line(i)}: unbalanced '}}'")
                return attrs, blocks, i + 1
            m = _IDENT.match(self.s, i)
            if not m:
                raise ValueError(f"line {self.line(i)}: unexpected {self.s[i:i + 20]!r}")
            name, start = m.group(0), i
            i = self.skip_space(m.end(), newlines=False)
            if self.s.startswith("=", i) and not self.s.startswith("==", i):
                end = self.expression_end(i + 1)
                attrs.append((name, self.s[i + 1:end].strip(), self.line(start)))
                i = end
                continue
            labels = []
            while i < self.n and self.s[i] != "{":
                if self.s[i] == '"':
                    end = self.skip_string(i)
                    labels.append(self.s[i + 1:end - 1])
                    i = end
                else:
                    lm = _IDENT.match(self.s, i)
                    if not lm:
                        raise ValueError(f"line {self.line(i)}: expected a label or '{{' after {name}")
                    labels.append(lm.group(0))
                    i = lm.end()
                i = self.skip_space(i, newlines=False)
            sub_attrs, sub_blocks, i = self.body(i + 1)
            blocks.append(Block(name, labels, self.line(start), sub_attrs, sub_blocks))


def parse(src):
    attrs, blocks, _ = Reader(src).body(0, top=True)
    return blocks


def strip_comments(src):
    """The source with its comments blanked (newlines kept): strings and heredocs stay."""
    r, out, i = Reader(src), [], 0
    while i < r.n:
        c = src[i]
        if c == '"':
            j = r.skip_string(i)
        elif c == "<" and _HEREDOC.match(src, i):
            j = r.skip_heredoc(i)
        elif r.is_comment(i):
            j = r.skip_comment(i)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
            continue
        else:
            j = i + 1
        out.append(src[i:j])
        i = j
    return "".join(out)


def flatten(block, prefix=()):
    """(path, text-or-None, line) for every argument and nested block; a dynamic "x" block is x."""
    for name, text, line in block.attrs:
        yield prefix + (name,), text, line
    for b in block.blocks:
        if b.type == "dynamic" and b.labels:
            path = prefix + (b.labels[0],)
            yield path, None, b.line
            for c in b.blocks:
                if c.type == "content":
                    yield from flatten(c, path)
        else:
            path = prefix + (b.type,)
            yield path, None, b.line
            yield from flatten(b, path)


def literal(text):
    """A literal's HCL text normalised for comparison, or None for an expression."""
    t = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?|true|false|null", t):
        return t
    if re.fullmatch(r'"[^"$%\\]*"', t):
        return t
    return None


# ---------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------
def block_kind(b):
    if b.type in ("resource", "data") and len(b.labels) == 2 and b.labels[0].startswith("aws_"):
        return b.type, b.labels[0]
    if b.type == "provider" and b.labels == ["aws"]:
        return "provider", "aws"
    return None


def check_block(path, b, kind, rtype):
    what = f"{kind} {rtype}" + (f".{b.labels[1]}" if kind != "provider" else "")
    items = list(flatten(b))
    found = []
    for p, text, line in items:
        dotted = ".".join(p)
        for r in RULES:
            if (r.kind, r.type, r.path) == (kind, rtype, dotted):
                found.append(Finding(path, line, f"{what}: {dotted}", r.change, r.fix, r.cite))
        if kind != "provider" and p == ("region",):
            found.append(Finding(path, line, f"{what}: region",
                                 "a top-level `region` argument is either 6-only (Enhanced Region Support) "
                                 "or a 5.x argument 6.0 renamed", "the provider's region (an aliased provider)",
                                 GUIDE + "#enhanced-region-support"))
        if text is not None and dotted in NULLABLE_BOOL.get((kind, rtype), []):
            lit = literal(text)
            if lit is not None and lit not in NULLABLE_BOOL_OK:
                found.append(Finding(path, line, f"{what}: {dotted} = {text}",
                                     '6.0 takes only "", true or false here', "true / false",
                                     GUIDE + "#nullable-boolean-validation-update"))
    if kind == "data" and rtype == "aws_ami":
        found += check_ami(path, b, what, items)
    if kind == "resource" and rtype in ("aws_lb_listener", "aws_alb_listener"):
        found += check_lb_listener(path, b, what)
    return found


def check_ami(path, b, what, items):
    most_recent = next((t for p, t, _ in items if p == ("most_recent",)), None)
    if most_recent is None or literal(most_recent) == "false":
        return []
    if any(p == ("owners",) for p, _, _ in items):
        return []
    for f in b.blocks:
        if f.type == "filter":
            name = next((t for n, t, _ in f.attrs if n == "name"), "")
            if literal(name) in ('"owner-id"', '"image-id"'):
                return []
    return [Finding(path, b.line, f"{what}: most_recent without owners",
                    "an error from 6.0 (a warning on 5)", 'owners = ["..."] or a filter on owner-id / image-id',
                    GUIDE + "#data-source-aws_ami")]


def check_lb_listener(path, b, what):
    found = []
    for m in b.blocks:
        if m.type != "mutual_authentication":
            continue
        args = {n: t for n, t, _ in m.attrs}
        mode = literal(args.get("mode", '""'))
        verify_only = [a for a in ("advertise_trust_store_ca_names", "ignore_client_certificate_expiry", "trust_store_arn")
                       if a in args]
        if mode != '"verify"' and verify_only:
            found.append(Finding(path, m.line, f"{what}: mutual_authentication {', '.join(verify_only)}",
                                 '6.0 accepts these only with mode = "verify"', "drop them for other modes",
                                 GUIDE + "#resource-aws_lb_listener"))
        if mode == '"verify"' and "trust_store_arn" not in args:
            found.append(Finding(path, m.line, f"{what}: mutual_authentication mode = \"verify\"",
                                 "6.0 requires trust_store_arn with it", "set trust_store_arn",
                                 GUIDE + "#resource-aws_lb_listener"))
    return found


def check_file(path, src):
    found, used = [], set()
    for b in parse(src):
        k = block_kind(b)
        if k is None:
            continue
        kind, rtype = k
        used.add(k)
        if rtype in REMOVED_TYPES:
            found.append(Finding(path, b.line, f"{kind} {rtype}", "removed in 6.0", "drop it", GUIDE))
        found += check_block(path, b, kind, rtype)
    code = strip_comments(src)
    for r in REFERENCES:
        for m in re.finditer(r.pattern, code):
            found.append(Finding(path, code.count("\n", 0, m.start()) + 1, m.group(0), r.change, r.fix, r.cite))
    return found, used


def covered():
    return {(r.kind, r.type) for r in RULES} | set(NULLABLE_BOOL) | set(REVIEWED)


def check_paths(roots):
    found, used, files = [], {}, 0
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != ".terraform")
            for fn in sorted(filenames):
                if not (fn.endswith(".tf") or fn.endswith(".tftest.hcl")):
                    continue
                path = os.path.join(dirpath, fn)
                with open(path, encoding="utf-8") as f:
                    src = f.read()
                files += 1
                try:
                    f_found, f_used = check_file(path, src)
                except ValueError as e:
                    found.append(Finding(path, 0, "unreadable", str(e), "fix the syntax", ""))
                    continue
                found += f_found
                for k in f_used:
                    used.setdefault(k, path)
    known = covered()
    for (kind, rtype), path in sorted(used.items()):
        if rtype in TYPES_IN_GUIDE.get(kind, ()) and (kind, rtype) not in known:
            found.append(Finding(path, 0, f"{kind} {rtype}",
                                 "the 6.0 upgrade guide changes this type and provider6_check.py has no rows for it",
                                 "review the guide's section and add its rows to RULES (or REVIEWED)", GUIDE))
    return found, used, files


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    roots = argv or [os.path.join(repo, "infra"), os.path.join(repo, "state-machine")]
    found, used, files = check_paths(roots)
    for f in found:
        rel = os.path.relpath(f.file)
        print(f"{rel}:{f.line}: {f.what}: {f.change}; use: {f.fix} [{f.cite}]")
    if found:
        print(f"provider6_check: FAIL: {len(found)} use(s) of what AWS provider 6 removed or changed")
        return 1
    reviewed = sorted(f"{k} {t}" for k, t in used if t in TYPES_IN_GUIDE.get(k, ()))
    print(f"provider6_check: OK: {files} files, {len(used)} aws types ({len(reviewed)} changed by 6.0: "
          f"{', '.join(reviewed)}), {len(RULES) + len(REFERENCES)} rules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
