mock_provider "aws" {
  # What the certificate function answers Terraform (alb.tf).
  mock_resource "aws_lambda_invocation" {
    defaults = { result = "{\"outcome\":\"imported\",\"certificate_arn\":\"arn:aws:acm:us-east-1:123456789012:certificate/self-signed\"}" }
  }
  # Computed attributes get these values already at plan, so policies built from ARNs and ids
  # can be decoded and checked.
  override_during = plan
  mock_resource "aws_lb" {
    defaults = { dns_name = "internal-weka-lb-1.us-east-1.elb.amazonaws.com", arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/weka-lb/1" }
  }
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:mocked" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mocked" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
  mock_resource "aws_subnet" {
    defaults = { id = "subnet-0mocked" }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0mocked" }
  }
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:us-east-1:123456789012:stateMachine:mocked" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b"] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1", name = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  get_weka_io_token = "test-token"
  weka_version      = "4.4.2"
}

# README "Differences from the reference" and variables_reference.tf: every variable of the
# reference module works with its meaning or is refused at plan; AL2023 AMIs; HTTPS to targets.

###############################################################################
# Default AMIs and instance types
###############################################################################
run "default_ami_is_amazon_linux_2023_x86_64_for_i3en" {
  command = plan
  assert {
    condition     = keys(data.aws_ami.default) == ["x86_64"]
    error_message = "i3en backends need one default AMI, x86_64"
  }
  assert {
    condition = alltrue([for f in data.aws_ami.default["x86_64"].filter :
    f.name != "name" || alltrue([for v in f.values : startswith(v, "al2023-ami-2023") && strcontains(v, "kernel-6.1")])])
    error_message = "the default AMI is Amazon Linux 2023 (kernel 6.1), not Amazon Linux 2"
  }
  assert {
    condition     = aws_launch_template.this["backend"].image_id == data.aws_ami.default["x86_64"].id
    error_message = "the backends boot the x86_64 AMI"
  }
}

run "i8ge_backends_boot_the_arm64_ami_with_the_reference_container_layout" {
  command = plan
  variables {
    instance_type = "i8ge.3xlarge"
  }
  assert {
    condition     = keys(data.aws_ami.default) == ["arm64"]
    error_message = "Graviton backends need the arm64 AMI (and nothing else here)"
  }
  assert {
    condition = alltrue([for f in data.aws_ami.default["arm64"].filter :
    f.name != "architecture" || (length(f.values) == 1 && contains(f.values, "arm64"))])
    error_message = "the lookup filters on the arm64 architecture"
  }
  assert {
    condition     = aws_launch_template.this["backend"].image_id == data.aws_ami.default["arm64"].id
    error_message = "the backends boot the arm64 AMI"
  }
  assert {
    # reference: i8ge.3xlarge = compute 3, drive 1, nvme 1, nics 6; without a dedicated
    # frontend the compute container takes the frontend core too (3 + 1).
    condition = (aws_lambda_function.this["deploy"].environment[0].variables["COMPUTE_CONTAINER_CORES_NUM"] == "4" &&
      aws_lambda_function.this["deploy"].environment[0].variables["NICS_NUM"] == "6" &&
      aws_lambda_function.this["deploy"].environment[0].variables["NVMES_NUM"] == "1" &&
    aws_lambda_function.this["deploy"].environment[0].variables["COMPUTE_MEMORY"] == "62GB")
    error_message = "i8ge.3xlarge takes the reference's containers_config_map entry"
  }
}

run "every_reference_i8ge_size_is_in_containers_config_map" {
  command = plan
  assert {
    condition = alltrue([for t in ["i8ge.2xlarge", "i8ge.3xlarge", "i8ge.6xlarge", "i8ge.12xlarge", "i8ge.18xlarge", "i8ge.24xlarge", "i8ge.48xlarge"] :
    contains(keys(var.containers_config_map), t)])
    error_message = "the seven i8ge sizes of the reference are supported"
  }
  assert {
    condition     = var.containers_config_map["i8ge.48xlarge"].nics == 24 && var.containers_config_map["i8ge.18xlarge"].memory[0] == "347GB"
    error_message = "i8ge values are the reference's"
  }
}

run "an_instance_type_without_a_container_layout_is_refused" {
  command = plan
  variables {
    instance_type = "m5.4xlarge"
  }
  expect_failures = [var.instance_type]
}

run "mixed_architectures_get_one_ami_each_and_client_arch_overrides" {
  command = plan
  variables {
    instance_type  = "i8ge.2xlarge"
    clients_number = 1
  }
  assert {
    condition     = toset(keys(data.aws_ami.default)) == toset(["arm64", "x86_64"])
    error_message = "arm64 backends and c5 clients: one lookup per architecture"
  }
  assert {
    condition     = aws_instance.client[0].ami == data.aws_ami.default["x86_64"].id
    error_message = "c5.2xlarge clients boot the x86_64 AMI"
  }
}

run "client_arch_picks_the_client_ami" {
  command = plan
  variables {
    clients_number       = 1
    client_instance_type = "c7g.2xlarge"
  }
  assert {
    condition     = aws_instance.client[0].ami == data.aws_ami.default["arm64"].id
    error_message = "Graviton clients boot the arm64 AMI"
  }
}

run "client_arch_overrides_the_instance_type" {
  command = plan
  variables {
    clients_number = 1
    client_arch    = "arm64"
  }
  assert {
    condition     = aws_instance.client[0].ami == data.aws_ami.default["arm64"].id
    error_message = "client_arch decides the client AMI's architecture"
  }
}

run "client_arch_other_values_are_refused" {
  command = plan
  variables {
    client_arch = "aarch64"
  }
  expect_failures = [var.client_arch]
}

###############################################################################
# ALB
###############################################################################
run "the_alb_talks_https_to_the_backends_and_without_a_certificate_of_the_callers_serves_a_self_signed_one" {
  command = plan
  variables {
    alb_dns_name   = "weka.example.com"
    clients_number = 1
  }
  assert {
    condition     = aws_lb_target_group.backend[0].protocol == "HTTPS" && aws_lb_target_group.backend[0].port == 14000
    error_message = "WEKA serves TLS on 14000: the target group is HTTPS"
  }
  assert {
    condition     = aws_lb_target_group.backend[0].health_check[0].protocol == "HTTPS" && aws_lb_target_group.backend[0].health_check[0].path == "/api/v2/healthcheck/"
    error_message = "the health check is HTTPS"
  }
  assert {
    condition = alltrue([for l in [aws_lb_listener.api[0], aws_lb_listener.https[0]] :
    l.protocol == "HTTPS" && l.certificate_arn == "arn:aws:acm:us-east-1:123456789012:certificate/self-signed"])
    error_message = "without alb_cert_arn both listeners (14000 and 443) are HTTPS with the self-signed certificate the certificate function imported, as in the reference"
  }
  assert {
    condition     = aws_lambda_invocation.certificate[0].lifecycle_scope == "CRUD" && contains(jsondecode(aws_lambda_invocation.certificate[0].input).names, "weka.example.com")
    error_message = "Terraform calls the certificate function on create, update and destroy, with the names clients use"
  }
  assert {
    condition     = contains(keys(aws_lambda_function.this), "certificate") && !strcontains(jsonencode(aws_lambda_invocation.certificate[0].input), "PRIVATE")
    error_message = "the certificate function is deployed; no key passes through Terraform"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.certificate_expiry[0].event_pattern)["detail-type"] == ["ACM Certificate Approaching Expiration"] && aws_lambda_permission.certificate_expiry[0].principal == "events.amazonaws.com"
    error_message = "ACM's expiry event renews the certificate"
  }
  assert {
    condition     = strcontains(base64decode(aws_instance.client[0].user_data_base64), "aws acm get-certificate --certificate-arn \"arn:aws:acm:us-east-1:123456789012:certificate/self-signed\"") && strcontains(base64decode(aws_instance.client[0].user_data_base64), "--cacert \"$WORKDIR/alb.pem\" \"https://weka.example.com:14000/dist/v1/install\"")
    error_message = "clients verify the ALB against its self-signed certificate as ACM holds it"
  }
  assert {
    condition     = strcontains(aws_iam_role_policy.client[0].policy, "acm:GetCertificate")
    error_message = "clients may read the ALB's certificate"
  }
}

run "with_a_certificate_of_the_callers_no_certificate_function_is_deployed" {
  command = plan
  variables {
    alb_cert_arn = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this), "certificate") && length(aws_lambda_invocation.certificate) == 0 && length(aws_cloudwatch_event_rule.certificate_expiry) == 0
    error_message = "with alb_cert_arn nothing makes a certificate"
  }
}

run "without_an_alb_no_certificate_function_is_deployed" {
  command = plan
  variables {
    create_alb = false
  }
  assert {
    condition     = !contains(keys(aws_lambda_function.this), "certificate") && length(aws_lambda_invocation.certificate) == 0
    error_message = "no ALB, no certificate"
  }
}

run "alb_cert_arn_adds_the_https_listener_and_clients_use_it" {
  command = plan
  variables {
    alb_cert_arn   = "arn:aws:acm:us-east-1:123456789012:certificate/abc"
    alb_dns_name   = "weka.example.com"
    clients_number = 1
  }
  assert {
    condition     = aws_lb_listener.https[0].protocol == "HTTPS" && aws_lb_listener.https[0].certificate_arn == var.alb_cert_arn
    error_message = "443 HTTPS with the given certificate"
  }
  assert {
    condition     = aws_lb_listener.api[0].protocol == "HTTPS" && aws_lb_listener.api[0].certificate_arn == var.alb_cert_arn
    error_message = "with a certificate 14000 is HTTPS too, as in the reference"
  }
  assert {
    condition     = strcontains(base64decode(aws_instance.client[0].user_data_base64), "\"https://weka.example.com:14000/dist/v1/install\"")
    error_message = "with a certificate clients fetch the installer over verified HTTPS from alb_dns_name"
  }
}

run "alb_dns_name_is_what_clients_and_the_output_use" {
  command = plan
  variables {
    alb_dns_name   = "weka.example.com"
    clients_number = 1
  }
  assert {
    condition     = output.alb_dns_name == "weka.example.com" && output.weka_deployment.alb_dns_name == "weka.example.com"
    error_message = "alb_dns_name is the alb_dns_name output"
  }
  assert {
    condition     = strcontains(base64decode(aws_instance.client[0].user_data_base64), "\"https://weka.example.com:14000/dist/v1/install\"") && !strcontains(base64decode(aws_instance.client[0].user_data_base64), "http://weka.example.com")
    error_message = "clients reach the ALB's 14000 listener by alb_dns_name, over HTTPS only"
  }
  assert {
    condition     = strcontains(base64decode(aws_instance.client[0].user_data_base64), "fetch_installer --insecure \"https://$b:14000/dist/v1/install\"")
    error_message = "a backend is tried directly over WEKA's TLS"
  }
}

run "without_alb_dns_name_the_output_is_the_albs_own_name" {
  command = plan
  override_resource {
    target          = aws_lb.this
    override_during = plan
    values          = { dns_name = "internal-weka-lb-1.us-east-1.elb.amazonaws.com", arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/weka-lb/1", arn_suffix = "app/weka-lb/1" }
  }
  assert {
    condition     = output.alb_dns_name == "internal-weka-lb-1.us-east-1.elb.amazonaws.com"
    error_message = "the ALB's own DNS name"
  }
}

run "alb_dns_name_with_a_scheme_is_refused" {
  command = plan
  variables {
    alb_dns_name = "https://weka.example.com"
  }
  expect_failures = [var.alb_dns_name]
}

run "alb_subnet_id_is_the_albs_first_subnet" {
  command = plan
  variables {
    alb_subnet_id            = "subnet-0alb"
    alb_additional_subnet_id = "subnet-0alb2"
  }
  assert {
    condition     = toset(aws_lb.this[0].subnets) == toset(["subnet-0alb", "subnet-0alb2"])
    error_message = "the ALB sits in alb_subnet_id and alb_additional_subnet_id, not the cluster subnet"
  }
}

###############################################################################
# Protocol gateway subnets
###############################################################################
run "gateway_subnets_place_each_gateway_kind" {
  command = plan
  variables {
    nfs_protocol_gateways_number   = 2
    nfs_protocol_gateway_subnet_id = "subnet-0nfs"
    smb_protocol_gateways_number   = 3
    smb_protocol_gateway_subnet_id = "subnet-0smb"
    smb_domain_name                = "corp.example.com"
    s3_protocol_gateways_number    = 1
  }
  assert {
    condition     = aws_autoscaling_group.nfs[0].vpc_zone_identifier == toset(["subnet-0nfs"]) && aws_launch_template.this["nfs"].network_interfaces[0].subnet_id == "subnet-0nfs"
    error_message = "the NFS gateways launch in nfs_protocol_gateway_subnet_id"
  }
  assert {
    condition     = aws_launch_template.this["smb"].network_interfaces[0].subnet_id == "subnet-0smb"
    error_message = "the SMB gateways launch in smb_protocol_gateway_subnet_id"
  }
  assert {
    condition     = aws_launch_template.this["s3"].network_interfaces[0].subnet_id == aws_launch_template.this["backend"].network_interfaces[0].subnet_id
    error_message = "without s3_protocol_gateway_subnet_id the S3 gateways use the cluster subnet"
  }
  assert {
    condition = alltrue([for s in ["subnet-0nfs", "subnet-0smb"] : anytrue([for st in jsondecode(aws_iam_role_policy.backend[0].policy).Statement :
    contains(flatten([st.Action]), "ec2:CreateNetworkInterface") && contains(flatten([st.Resource]), "arn:aws:ec2:us-east-1:123456789012:subnet/${s}")])])
    error_message = "the gateways may create their DPDK NICs in their own subnets"
  }
}

run "a_gateway_subnet_that_is_not_a_subnet_id_is_refused" {
  command = plan
  variables {
    s3_protocol_gateway_subnet_id = "10.0.5.0/24"
  }
  expect_failures = [var.s3_protocol_gateway_subnet_id]
}

###############################################################################
# Clients
###############################################################################
run "clients_share_the_backends_placement_group_by_default" {
  command = plan
  variables {
    clients_number = 1
  }
  assert {
    condition     = aws_instance.client[0].placement_group == aws_placement_group.this[0].name && length(aws_placement_group.client) == 0
    error_message = "client_use_backends_placement_group (default true)"
  }
}

run "clients_get_their_own_placement_group_when_not_sharing" {
  command = plan
  variables {
    clients_number                      = 1
    client_use_backends_placement_group = false
  }
  assert {
    condition     = aws_instance.client[0].placement_group == aws_placement_group.client[0].name && aws_placement_group.client[0].name != aws_placement_group.this[0].name
    error_message = "client_use_backends_placement_group = false: a client placement group"
  }
}

run "client_placement_group_name_is_used" {
  command = plan
  variables {
    clients_number              = 1
    client_placement_group_name = "existing-pg"
  }
  assert {
    condition     = aws_instance.client[0].placement_group == "existing-pg" && length(aws_placement_group.client) == 0
    error_message = "client_placement_group_name names the clients' group"
  }
}

run "client_user_data_runs_custom_data_in_the_reference_order_with_the_cgroups_mode" {
  command = plan
  variables {
    clients_number                 = 1
    clients_custom_data_pre_mount  = "echo PRE-MOUNT-MARK"
    clients_custom_data_post_mount = "echo POST-MOUNT-MARK"
    clients_custom_data            = "echo LAST-MARK"
    clients_weka_cgroups_mode      = "auto"
    alb_dns_name                   = "weka.example.com" # known at plan (the mocked ALB's name is not)
  }
  assert {
    condition     = can(regex("(?s)PRE-MOUNT-MARK.*weka_install[.]sh.*mount -t wekafs.*POST-MOUNT-MARK.*LAST-MARK", base64decode(aws_instance.client[0].user_data_base64)))
    error_message = "pre-mount before the agent install, post-mount after the mount, clients_custom_data last"
  }
  assert {
    condition     = strcontains(base64decode(aws_instance.client[0].user_data_base64), "WEKA_CGROUPS_MODE=\"auto\" bash")
    error_message = "the agent installer runs with clients_weka_cgroups_mode"
  }
}

run "clients_weka_cgroups_mode_other_values_are_refused" {
  command = plan
  variables {
    clients_weka_cgroups_mode = "v1"
  }
  expect_failures = [var.clients_weka_cgroups_mode]
}

###############################################################################
# Function roles
###############################################################################
run "lambda_iam_role_arn_is_every_functions_role_and_no_role_is_created" {
  command = plan
  variables {
    lambda_iam_role_arn = "arn:aws:iam::123456789012:role/weka-lambdas"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.role == "arn:aws:iam::123456789012:role/weka-lambdas"])
    error_message = "every function runs as the given role"
  }
  assert {
    condition     = length(aws_iam_role.lambda) == 0 && length(aws_iam_role_policy.lambda) == 0
    error_message = "the module creates no function role and attaches nothing to the caller's role"
  }
}

run "lambda_iam_role_arns_replace_single_functions_roles" {
  command = plan
  variables {
    lambda_iam_role_arns = { "scale-down" = "arn:aws:iam::123456789012:role/weka-scale-down" }
  }
  assert {
    condition     = aws_lambda_function.this["scale-down"].role == "arn:aws:iam::123456789012:role/weka-scale-down"
    error_message = "scale-down runs as its given role"
  }
  assert {
    condition     = !contains(keys(aws_iam_role.lambda), "scale-down") && length(aws_iam_role.lambda) == length(aws_lambda_function.this) - 1
    error_message = "the other functions keep a role of their own"
  }
}

run "function_roles_are_the_modules_own_by_default" {
  command = plan
  assert {
    condition     = keys(aws_iam_role.lambda) == keys(aws_lambda_function.this) && alltrue([for k, f in aws_lambda_function.this : f.role == aws_iam_role.lambda[k].arn])
    error_message = "one created role per function"
  }
}

run "lambda_iam_role_arns_of_unknown_functions_are_refused" {
  command = plan
  variables {
    lambda_iam_role_arns = { "scale_down" = "arn:aws:iam::123456789012:role/x" }
  }
  expect_failures = [var.lambda_iam_role_arns]
}

run "lambda_iam_role_arn_that_is_not_a_role_is_refused" {
  command = plan
  variables {
    lambda_iam_role_arn = "weka-lambdas"
  }
  expect_failures = [var.lambda_iam_role_arn]
}

###############################################################################
# Reference variables this module does not support: any value but the default stops the plan
# (the message names the variable and the alternative; tests/reference_main asserts the texts).
###############################################################################
run "reference_defaults_of_unsupported_variables_plan" {
  command = plan
  variables {
    vpc_endpoint_proxy_create              = false
    dynamodb_hash_key_name                 = "Key"
    clients_use_autoscaling_group          = false
    data_services_number                   = 0
    data_services_instance_type            = "m6i.xlarge"
    data_services_instance_ami_id          = null
    data_services_instance_iam_profile_arn = ""
    data_services_subnet_id                = null
    data_services_root_volume_size         = null
    data_services_weka_volume_size         = 48
    data_services_capacity_reservation_id  = null
    data_services_weka_cgroups_mode        = "force_v2"
  }
  assert {
    condition     = aws_dynamodb_table.state.hash_key == "pk"
    error_message = "the state table keeps its own keys"
  }
}

run "vpc_endpoint_proxy_create_is_refused" {
  command = plan
  variables {
    vpc_endpoint_proxy_create = true
  }
  expect_failures = [var.vpc_endpoint_proxy_create]
}

run "dynamodb_hash_key_name_names_the_key_adopt_reads" {
  command = plan
  variables {
    dynamodb_hash_key_name = "Id"
  }
  assert {
    condition     = aws_lambda_function.this["adopt"].environment[0].variables["REFERENCE_STATE_HASH_KEY"] == "Id"
    error_message = "adopt reads WEKA's module's table with its hash key"
  }
}

run "clients_use_autoscaling_group_is_refused" {
  command = plan
  variables {
    clients_use_autoscaling_group = true
  }
  expect_failures = [var.clients_use_autoscaling_group]
}

run "data_services_are_refused" {
  command = plan
  variables {
    data_services_number                   = 2
    data_services_instance_type            = "m6i.2xlarge"
    data_services_instance_ami_id          = "ami-0123"
    data_services_instance_iam_profile_arn = "arn:aws:iam::123456789012:instance-profile/x"
    data_services_subnet_id                = "subnet-0ds"
    data_services_root_volume_size         = 60
    data_services_weka_volume_size         = 100
    data_services_capacity_reservation_id  = "cr-0123"
    data_services_weka_cgroups_mode        = "auto"
  }
  expect_failures = [
    var.data_services_number,
    var.data_services_instance_type,
    var.data_services_instance_ami_id,
    var.data_services_instance_iam_profile_arn,
    var.data_services_subnet_id,
    var.data_services_root_volume_size,
    var.data_services_weka_volume_size,
    var.data_services_capacity_reservation_id,
    var.data_services_weka_cgroups_mode,
  ]
}

run "get_cert_private_key_prints_the_self_signed_certificate_never_a_key" {
  command = plan
  assert {
    condition     = output.get_cert_private_key == "aws acm get-certificate --region us-east-1 --certificate-arn arn:aws:acm:us-east-1:123456789012:certificate/self-signed --query Certificate --output text"
    error_message = "the reference's output name, printing the certificate from ACM"
  }
}
