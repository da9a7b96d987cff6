mock_provider "aws" {
  # What the certificate function answers Terraform (alb.tf).
  mock_resource "aws_lambda_invocation" {
    defaults = { result = "{\"outcome\":\"imported\",\"certificate_arn\":\"arn:aws:acm:us-east-1:123456789012:certificate/self-signed\"}" }
  }
  # Computed attributes get these values already at plan, so policies built from ARNs and ids
  # can be decoded and checked.
  override_during = plan
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

run "memory_override_per_function" {
  command = plan
  variables {
    lambda_memory_sizes = { "scale-down" = 2048 }
  }
  assert {
    condition     = aws_lambda_function.this["scale-down"].memory_size == 2048
    error_message = "scale-down takes its override"
  }
  assert {
    condition     = aws_lambda_function.this["fetch"].memory_size == 128
    error_message = "the others keep lambda_memory_size"
  }
}

run "memory_override_of_unknown_function_is_refused" {
  command = plan
  variables {
    lambda_memory_sizes = { "scale_down" = 2048 }
  }
  expect_failures = [var.lambda_memory_sizes]
}

run "weka_version_or_install_url_is_required" {
  command = plan
  variables {
    weka_version = ""
  }
  expect_failures = [var.weka_version]
}

run "default_memory_is_the_reference_default" {
  command = plan
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.memory_size == 128])
    error_message = "every function defaults to lambda_memory_size"
  }
}

run "zips_staged_in_s3_when_a_bucket_is_given" {
  command = plan
  variables {
    lambdas_upload_s3_bucket = "code-bucket"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.s3_bucket == "code-bucket" && f.filename == null])
    error_message = "every function takes its code from the bucket"
  }
  assert {
    condition     = length(aws_s3_object.lambda_code) == length(aws_lambda_function.this)
    error_message = "one staged zip per function"
  }
}

run "zips_uploaded_directly_by_default" {
  command = plan
  assert {
    condition     = length(aws_s3_object.lambda_code) == 0 && alltrue([for f in aws_lambda_function.this : f.s3_bucket == null])
    error_message = "no staging without a bucket"
  }
}

run "every_function_has_a_resource_policy_and_steps_are_the_state_machines_only" {
  command = plan
  assert {
    condition = length(setsubtract(
      keys(aws_lambda_function.this),
      setunion(keys(aws_lambda_permission.state_machine), keys(aws_lambda_permission.instances), ["adopt", "certificate"]),
    )) == 0
    error_message = "every function but the operators' adopt and certificate names its callers in a resource policy"
  }
  assert {
    condition     = aws_lambda_permission.certificate_expiry[0].principal == "events.amazonaws.com" && !contains(keys(aws_lambda_permission.instances), "certificate") && !contains(keys(aws_lambda_permission.state_machine), "certificate")
    error_message = "certificate is Terraform's (the operators' IAM policies) and ACM's expiry rule's only"
  }
  assert {
    condition     = !contains(keys(aws_lambda_permission.state_machine), "adopt") && !contains(keys(aws_lambda_permission.instances), "adopt")
    error_message = "adopt is the operators' (their IAM policies): neither instances nor the state machine may invoke it"
  }
  assert {
    condition     = length(setintersection(keys(aws_lambda_permission.state_machine), keys(aws_lambda_permission.instances))) == 0
    error_message = "no function is both a state machine step and an instance's"
  }
  assert {
    condition = alltrue([for f in ["scale-fetch", "scale-down", "terminate", "transient"] :
    !contains(keys(aws_lambda_permission.instances), f) && aws_lambda_permission.state_machine[f].principal == "states.amazonaws.com"])
    error_message = "the state machine's steps are invoked by the state machine only"
  }
  assert {
    condition     = contains(keys(aws_lambda_permission.instances), "fetch") && !contains(keys(aws_lambda_permission.state_machine), "fetch")
    error_message = "fetch serves the instances, not the state machine"
  }
}

run "the_instance_role_mutates_no_ec2_resource_without_a_condition_and_reads_no_admin_secret" {
  command = plan
  override_resource {
    target          = aws_secretsmanager_secret.admin_password
    override_during = plan
    values          = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin" }
  }
  assert {
    condition = alltrue([for st in jsondecode(aws_iam_role_policy.backend[0].policy).Statement :
      can(st.Condition) || alltrue([for a in flatten([st.Action]) :
        !startswith(a, "ec2:") || startswith(a, "ec2:Describe") || a == "ec2:CreateNetworkInterface"
      ])
    ])
    error_message = "every instance-role statement with a mutating EC2 action has a condition (creation is scoped by its subnet and security-group resources and its own tagged statement)"
  }
  assert {
    condition = alltrue([for st in jsondecode(aws_iam_role_policy.backend[0].policy).Statement :
      !contains(flatten([st.Action]), "ec2:CreateNetworkInterface") || can(st.Condition) || alltrue([for r in flatten([st.Resource]) : !endswith(r, "/*")])
    ])
    error_message = "NIC creation names the cluster's subnets and security groups, or carries the cluster tag condition"
  }
  assert {
    condition = alltrue([for st in jsondecode(aws_iam_role_policy.backend[0].policy).Statement :
      !contains(flatten([st.Resource]), aws_secretsmanager_secret.admin_password.arn) && !contains(flatten([st.Resource]), "*") || !anytrue([for a in flatten([st.Action]) : startswith(a, "secretsmanager:")])
    ])
    error_message = "no instance-role statement can read the admin password secret"
  }
}

run "instance_facing_functions_have_reserved_concurrency_and_steps_do_not" {
  command = plan
  assert {
    condition = alltrue([for f in keys(aws_lambda_permission.instances) :
    aws_lambda_function.this[f].reserved_concurrent_executions == 10])
    error_message = "every function instances may call has reserved concurrency"
  }
  assert {
    condition = alltrue([for f in keys(aws_lambda_permission.state_machine) :
    aws_lambda_function.this[f].reserved_concurrent_executions == -1])
    error_message = "the state machine's steps stay unreserved"
  }
}

run "identity_certificate_reaches_the_instance_facing_functions_without_its_armour" {
  command = plan
  variables {
    instance_identity_certificate = file("../tests/localcloud/identity/certificate.pem")
  }
  assert {
    condition = alltrue([for f in ["clusterize", "clusterize-finalization", "report"] :
      length(aws_lambda_function.this[f].environment[0].variables["INSTANCE_IDENTITY_CERTIFICATE"]) > 1000 &&
    !strcontains(aws_lambda_function.this[f].environment[0].variables["INSTANCE_IDENTITY_CERTIFICATE"], "-----")])
    error_message = "the certificate's base64 body is given to every function that admits instance requests"
  }
}

run "a_certificate_that_is_not_pem_is_refused" {
  command = plan
  variables {
    instance_identity_certificate = "MIIB-not-a-pem"
  }
  expect_failures = [var.instance_identity_certificate]
}

run "a_step_timeout_at_or_past_its_task_timeout_is_refused" {
  command = plan
  variables {
    lambda_timeouts = { "scale-down" = 150 }
  }
  expect_failures = [aws_sfn_state_machine.scale_down]
}

run "a_lease_shorter_than_a_step_is_refused" {
  command = plan
  variables {
    scale_lease_ttl = "1m30s"
  }
  expect_failures = [aws_sfn_state_machine.scale_down]
}

run "a_lease_outliving_the_state_machine_is_refused" {
  command = plan
  variables {
    scale_lease_ttl = "20m"
  }
  expect_failures = [aws_sfn_state_machine.scale_down]
}

# Network paths (README "Network paths"): a VPC-attached function reaches an AWS service only
# through an endpoint or a NAT gateway; the defaults create what the callers need.
run "default_deployment_creates_every_endpoint_the_vpc_functions_call" {
  command = plan
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["secretsmanager", "ec2", "autoscaling"])
    error_message = "status calls Secrets Manager, EC2 and Auto Scaling from the VPC: interface endpoints for each"
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.gateway)) == toset(["dynamodb"])
    error_message = "status and scale-down read the state table from the VPC: a DynamoDB gateway endpoint"
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 0
    error_message = "the default deployment has no NAT gateway"
  }
}

run "private_subnet_without_nat_also_gets_the_lambda_endpoint_for_the_instances" {
  command = plan
  variables {
    subnet_autocreate_as_private = true
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["secretsmanager", "ec2", "autoscaling", "lambda"])
    error_message = "instances without public addresses invoke the functions through a Lambda endpoint"
  }
  assert {
    condition     = contains(keys(aws_vpc_endpoint.gateway), "dynamodb")
    error_message = "the DynamoDB gateway endpoint is created"
  }
}

run "a_module_nat_gateway_makes_the_endpoints_unnecessary" {
  command = plan
  variables {
    subnet_autocreate_as_private = true
    create_nat_gateway           = true
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["secretsmanager"]) && length(aws_vpc_endpoint.gateway) == 0
    error_message = "behind the module's NAT only the reference's Secrets Manager endpoint remains"
  }
}

run "endpoint_variables_decide_when_set" {
  command = plan
  variables {
    vpc_endpoint_ec2_create              = false
    vpc_endpoint_autoscaling_create      = false
    vpc_endpoint_dynamodb_gateway_create = false
    secretmanager_create_vpc_endpoint    = false
    vpc_endpoint_lambda_create           = true
  }
  assert {
    condition     = toset(keys(aws_vpc_endpoint.interface)) == toset(["lambda"]) && length(aws_vpc_endpoint.gateway) == 0
    error_message = "true and false override the computed need"
  }
}

# The seed: "If neither is provided, the system creates a key pair and stores the private key
# locally". EC2 generates it at apply (terraform_data + the AWS CLI); the path is the output.
run "without_a_key_a_key_pair_is_generated_and_its_private_key_path_is_the_output" {
  command = plan
  assert {
    condition     = length(terraform_data.generated_key_pair) == 1 && length(aws_key_pair.this) == 0
    error_message = "no key_pair_name nor ssh_public_key: the module generates a key pair"
  }
  assert {
    condition     = output.local_ssh_private_key == "/tmp/${var.prefix}-${var.cluster_name}-private-key.pem" && output.weka_deployment.local_ssh_private_key == output.local_ssh_private_key
    error_message = "local_ssh_private_key is the seed's /tmp/<prefix>-<cluster>-private-key.pem"
  }
  assert {
    condition     = aws_launch_template.this["backend"].key_name == "${var.prefix}-${var.cluster_name}-ssh-key"
    error_message = "the backends launch with the generated key pair"
  }
}

run "a_given_public_key_or_key_pair_generates_nothing" {
  command = plan
  variables {
    ssh_public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummyDummyDummyDummyDummyDummyDummyDummy user"
  }
  assert {
    condition     = length(terraform_data.generated_key_pair) == 0 && length(aws_key_pair.this) == 1 && output.local_ssh_private_key == null
    error_message = "with ssh_public_key the module imports it and writes no private key"
  }
}

# Data-protection geometry at plan (modules/geometry, the rules clusterize applies): one run
# per rule, each breaking only that rule.
run "geometry_default_is_valid" {
  command = plan
  assert {
    condition     = module.geometry.stripe_width == 3 && length(module.geometry.violations) == 0
    error_message = "6 backends, protection 2: default stripe 3, valid"
  }
}

# The variable's own validation stops this one before the module's rule (the same bound).
run "geometry_cluster_too_small_is_refused" {
  command = plan
  variables {
    cluster_size = 5
  }
  expect_failures = [var.cluster_size]
}

run "geometry_protection_level_3_is_refused" {
  command = plan
  variables {
    cluster_size     = 10
    protection_level = 3
  }
  expect_failures = [terraform_data.geometry]
}

run "geometry_stripe_width_out_of_range_is_refused" {
  command = plan
  variables {
    cluster_size = 24
    stripe_width = 17
  }
  expect_failures = [terraform_data.geometry]
}

run "geometry_protection_4_with_6_backends_is_refused" {
  command = plan
  variables {
    protection_level = 4
  }
  expect_failures = [terraform_data.geometry]
}

run "geometry_no_hot_spare_is_refused" {
  command = plan
  variables {
    cluster_size = 8
    hotspare     = 0
  }
  expect_failures = [terraform_data.geometry]
}

run "geometry_hot_spare_2_with_the_default_stripe_is_refused" {
  command = plan
  variables {
    cluster_size = 8
    hotspare     = 2
  }
  expect_failures = [terraform_data.geometry]
}

run "geometry_obs_without_the_default_filesystem_is_refused" {
  command = plan
  variables {
    tiering_enable_obs_integration = true
    set_default_fs                 = false
  }
  expect_failures = [terraform_data.geometry]
}

run "geometry_explicit_stripe_that_fits_is_valid" {
  command = plan
  variables {
    cluster_size = 8
    stripe_width = 4
    hotspare     = 2
  }
  assert {
    condition     = module.geometry.stripe_width == 4 && length(module.geometry.violations) == 0
    error_message = "4 + 2 + 2 = 8 backends fits"
  }
}

# A release (make package) in S3: every function's code read in place, with the manifest's hash.
run "a_release_in_s3_is_deployed_in_place" {
  command = plan
  variables {
    lambdas_custom_s3_bucket = "weka-releases"
    lambdas_version          = "1.4.0"
  }
  override_data {
    target = data.aws_s3_object.lambdas_manifest[0]
    values = {
      body = "{\"format\":1,\"version\":\"1.4.0\",\"architecture\":\"arm64\",\"functions\":{\"adopt\":{\"file\":\"adopt.zip\",\"base64sha256\":\"c2hhMjU2\"},\"certificate\":{\"file\":\"certificate.zip\",\"base64sha256\":\"c2hhMjU2\"},\"clusterize\":{\"file\":\"clusterize.zip\",\"base64sha256\":\"c2hhMjU2\"},\"clusterize-finalization\":{\"file\":\"clusterize-finalization.zip\",\"base64sha256\":\"c2hhMjU2\"},\"deploy\":{\"file\":\"deploy.zip\",\"base64sha256\":\"c2hhMjU2\"},\"fetch\":{\"file\":\"fetch.zip\",\"base64sha256\":\"c2hhMjU2\"},\"report\":{\"file\":\"report.zip\",\"base64sha256\":\"c2hhMjU2\"},\"scale-down\":{\"file\":\"scale-down.zip\",\"base64sha256\":\"c2hhMjU2\"},\"scale-fetch\":{\"file\":\"scale-fetch.zip\",\"base64sha256\":\"c2hhMjU2\"},\"status\":{\"file\":\"status.zip\",\"base64sha256\":\"c2hhMjU2\"},\"terminate\":{\"file\":\"terminate.zip\",\"base64sha256\":\"c2hhMjU2\"},\"transient\":{\"file\":\"transient.zip\",\"base64sha256\":\"c2hhMjU2\"}}}"
    }
  }
  # What Lambda computes of the code it took (checked by the functions' postcondition).
  override_resource {
    target          = aws_lambda_function.this
    override_during = plan
    values          = { code_sha256 = "c2hhMjU2", arn = "arn:aws:lambda:us-east-1:123456789012:function:mocked" }
  }
  assert {
    condition     = alltrue([for f, fn in aws_lambda_function.this : fn.s3_bucket == "weka-releases" && fn.s3_key == "1.4.0/${f}.zip" && fn.filename == null])
    error_message = "every function takes its code from the release, in place"
  }
  assert {
    condition     = alltrue([for fn in aws_lambda_function.this : fn.source_code_hash == "c2hhMjU2"])
    error_message = "each function's hash is the manifest's"
  }
  assert {
    condition     = length(aws_s3_object.lambda_code) == 0
    error_message = "nothing is uploaded"
  }
}

run "a_release_lacking_a_function_is_refused" {
  command = plan
  variables {
    lambdas_custom_s3_bucket = "weka-releases"
    lambdas_custom_s3_key    = "releases/1.4.0"
  }
  override_data {
    target = data.aws_s3_object.lambdas_manifest[0]
    values = {
      body = "{\"format\":1,\"version\":\"1.4.0\",\"architecture\":\"arm64\",\"functions\":{\"deploy\":{\"file\":\"deploy.zip\",\"base64sha256\":\"h\"}}}"
    }
  }
  expect_failures = [terraform_data.lambdas_release]
}

run "a_release_for_another_architecture_is_refused" {
  command = plan
  variables {
    lambdas_custom_s3_bucket = "weka-releases"
    lambdas_custom_s3_key    = "releases/1.4.0"
    lambda_architecture      = "x86_64"
  }
  override_data {
    target = data.aws_s3_object.lambdas_manifest[0]
    values = {
      body = "{\"format\":1,\"version\":\"1.4.0\",\"architecture\":\"arm64\",\"functions\":{}}"
    }
  }
  expect_failures = [terraform_data.lambdas_release]
}

run "a_development_build_needs_lambdas_dist_dev" {
  command = plan
  variables {
    lambdas_custom_s3_bucket = "weka-releases"
    lambdas_custom_s3_key    = "dev"
  }
  override_data {
    target = data.aws_s3_object.lambdas_manifest[0]
    values = {
      body = "{\"format\":1,\"version\":\"0.0.0-abc123\",\"architecture\":\"arm64\",\"functions\":{}}"
    }
  }
  expect_failures = [terraform_data.lambdas_release]
}

run "a_release_excludes_staging_local_zips" {
  command = plan
  variables {
    lambdas_custom_s3_bucket = "weka-releases"
    lambdas_version          = "1.4.0"
    lambdas_upload_s3_bucket = "staging"
  }
  override_data {
    target = data.aws_s3_object.lambdas_manifest[0]
    values = {
      body = "{\"format\":1,\"version\":\"1.4.0\",\"architecture\":\"arm64\",\"functions\":{}}"
    }
  }
  expect_failures = [var.lambdas_custom_s3_bucket]
}

run "code_altered_after_the_release_was_cut_is_caught" {
  command = plan
  variables {
    lambdas_custom_s3_bucket = "weka-releases"
    lambdas_version          = "1.4.0"
  }
  override_data {
    target = data.aws_s3_object.lambdas_manifest[0]
    values = {
      body = "{\"format\":1,\"version\":\"1.4.0\",\"architecture\":\"arm64\",\"functions\":{\"adopt\":{\"file\":\"adopt.zip\",\"base64sha256\":\"c2hhMjU2\"},\"certificate\":{\"file\":\"certificate.zip\",\"base64sha256\":\"c2hhMjU2\"},\"clusterize\":{\"file\":\"clusterize.zip\",\"base64sha256\":\"c2hhMjU2\"},\"clusterize-finalization\":{\"file\":\"clusterize-finalization.zip\",\"base64sha256\":\"c2hhMjU2\"},\"deploy\":{\"file\":\"deploy.zip\",\"base64sha256\":\"c2hhMjU2\"},\"fetch\":{\"file\":\"fetch.zip\",\"base64sha256\":\"c2hhMjU2\"},\"report\":{\"file\":\"report.zip\",\"base64sha256\":\"c2hhMjU2\"},\"scale-down\":{\"file\":\"scale-down.zip\",\"base64sha256\":\"c2hhMjU2\"},\"scale-fetch\":{\"file\":\"scale-fetch.zip\",\"base64sha256\":\"c2hhMjU2\"},\"status\":{\"file\":\"status.zip\",\"base64sha256\":\"c2hhMjU2\"},\"terminate\":{\"file\":\"terminate.zip\",\"base64sha256\":\"c2hhMjU2\"},\"transient\":{\"file\":\"transient.zip\",\"base64sha256\":\"c2hhMjU2\"}}}"
    }
  }
  override_resource {
    target          = aws_lambda_function.this
    override_during = plan
    values          = { code_sha256 = "YWx0ZXJlZA==" }
  }
  expect_failures = [aws_lambda_function.this]
}
