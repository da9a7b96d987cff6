###############################################################################
# Least-privilege IAM: one role per function (behaviour.md §6.2, adapted).
###############################################################################
locals {
  table_arn = aws_dynamodb_table.state.arn

  credential_secret_arns = [
    aws_secretsmanager_secret.username.arn,
    aws_secretsmanager_secret.deployment_password.arn,
    aws_secretsmanager_secret.admin_password.arn,
  ]
  asg_arns = [
    "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.asg_name}",
    "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${local.nfs_asg_name}",
  ]
  lifecycle_hooks_enabled = var.launch_lifecycle_hook_enabled || var.terminate_lifecycle_hook_enabled
  cluster_instance_condition = {
    StringEquals = { "aws:ResourceTag/weka_cluster_name" = var.cluster_name }
  }
  # The tag naming the deployment's ALB certificate (handlers/certificate.rs, CERTIFICATE_TAG).
  certificate_tag_requested = { StringEquals = { "aws:RequestTag/weka_alb_certificate" = var.cluster_name } }
  certificate_tag_present   = { StringEquals = { "aws:ResourceTag/weka_alb_certificate" = var.cluster_name } }

  # One statement per need; each function's list below is exactly what its code calls
  # (checked by shared/tests/infra.rs against the handlers and adapters).
  st_table = { for name, actions in {
    # A group's state is its head item and one item per registration (Query reads both);
    # a registration writes both in one transaction (PutItem + UpdateItem).
    read       = ["dynamodb:GetItem", "dynamodb:Query"]
    read_write = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"]
    write      = ["dynamodb:UpdateItem"]
    report     = ["dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query"]
    status     = ["dynamodb:GetItem", "dynamodb:Query"]
    scale_down = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:Query"]
    # PutItem: a lifecycle decision is recorded as an event (`<state key>#events`).
    lifecycle = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:PutItem"]
    # terminate also writes notes (PutItem): the pending terminations, scale-down's failure;
    # and frees a departed member's registration (DeleteItem, in the eviction's transaction).
    terminate = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    step      = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem"]
    # adopt: reads the group's state, marks it clusterized, keeps its record (a note).
    adopt = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:PutItem"]
    } : name => [{
      Sid      = "StateTable"
      Effect   = "Allow"
      Action   = actions
      Resource = [local.table_arn]
  }] }
  st_describe_instances = [{
    Sid      = "DescribeInstances"
    Effect   = "Allow"
    Action   = ["ec2:DescribeInstances"]
    Resource = ["*"]
  }]
  st_describe_network_interfaces = [{
    Sid      = "DescribeNetworkInterfaces"
    Effect   = "Allow"
    Action   = ["ec2:DescribeNetworkInterfaces"]
    Resource = ["*"]
  }]
  # Who a request names: the group holding one instance, whatever the group's size.
  st_describe_asg_instances = [{
    Sid      = "DescribeAsgInstances"
    Effect   = "Allow"
    Action   = ["autoscaling:DescribeAutoScalingInstances"]
    Resource = ["*"]
  }]
  st_describe_asg = [{
    Sid      = "DescribeAsg"
    Effect   = "Allow"
    Action   = ["autoscaling:DescribeAutoScalingGroups"]
    Resource = ["*"]
  }]
  # Answers to the backend ASG's lifecycle hooks (only that group has hooks), granted only
  # while a hook exists.
  st_complete_lifecycle = [for st in [{
    Sid      = "CompleteLifecycleActions"
    Effect   = "Allow"
    Action   = ["autoscaling:CompleteLifecycleAction"]
    Resource = [local.asg_arns[0]]
  }] : st if local.lifecycle_hooks_enabled]
  st_answer_lifecycle = [for st in [{
    Sid      = "AnswerLifecycleActions"
    Effect   = "Allow"
    Action   = ["autoscaling:CompleteLifecycleAction", "autoscaling:RecordLifecycleActionHeartbeat"]
    Resource = [local.asg_arns[0]]
  }] : st if local.lifecycle_hooks_enabled]
  st_read_credentials = [{
    Sid      = "ReadCredentials"
    Effect   = "Allow"
    Action   = ["secretsmanager:GetSecretValue"]
    Resource = local.credential_secret_arns
  }]
  st_kms_decrypt = local.secrets_kms_key_arn == null ? [] : [{
    Sid      = "SecretsKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt"]
    Resource = [local.secrets_kms_key_arn]
  }]
  st_kms_encrypt = local.secrets_kms_key_arn == null ? [] : [{
    Sid      = "SecretsKey"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]
    Resource = [local.secrets_kms_key_arn]
  }]
  # Lambda itself manages the function's ENIs; these actions need Resource "*"
  # (same as the AWS managed AWSLambdaVPCAccessExecutionRole).
  st_vpc_eni = [{
    Sid      = "LambdaVpcEni"
    Effect   = "Allow"
    Action   = ["ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    Resource = ["*"]
  }]

  function_statements = {
    "deploy" = concat(local.st_table["read"], local.st_describe_instances, local.st_describe_network_interfaces)

    "clusterize" = concat(local.st_table["read_write"], local.st_describe_instances, local.st_describe_network_interfaces, local.st_describe_asg_instances, [{
      Sid      = "WritePasswords"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"]
      Resource = [aws_secretsmanager_secret.admin_password.arn, aws_secretsmanager_secret.deployment_password.arn]
    }], local.st_kms_encrypt)

    "clusterize-finalization" = concat(local.st_table["lifecycle"], local.st_complete_lifecycle, local.st_describe_asg_instances, [{
      Sid       = "TagNfsGateways"
      Effect    = "Allow"
      Action    = ["ec2:CreateTags"]
      Resource  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]
      Condition = local.cluster_instance_condition
    }])

    # Describe: a report that arrives before its lifecycle action was recorded finds the instance.
    "report" = concat(local.st_table["report"], local.st_describe_asg, local.st_describe_instances, local.st_answer_lifecycle)

    "status" = concat(local.st_table["status"], local.st_describe_asg, local.st_describe_instances, local.st_read_credentials, local.st_kms_decrypt)

    "fetch" = concat(local.st_table["read"], local.st_describe_asg, local.st_describe_instances, local.st_read_credentials, local.st_kms_decrypt)

    "adopt" = concat(local.st_table["adopt"], local.st_describe_instances, local.st_read_credentials, local.st_kms_decrypt, [{
      Sid      = "ReadReferenceState"
      Effect   = "Allow"
      Action   = ["dynamodb:GetItem"]
      Resource = ["arn:${local.partition}:dynamodb:${local.region}:${local.account_id}:table/${local.reference_table_name}"]
    }])

    "scale-fetch" = concat(local.st_table["step"], local.st_describe_asg, local.st_describe_instances)

    "scale-down" = concat(local.st_table["scale_down"], local.st_read_credentials, local.st_kms_decrypt)

    "terminate" = concat(local.st_table["terminate"], local.st_describe_asg, local.st_describe_instances, local.st_answer_lifecycle, [
      {
        Sid      = "ManageClusterAsgs"
        Effect   = "Allow"
        Action   = ["autoscaling:SetInstanceProtection", "autoscaling:DetachInstances"]
        Resource = local.asg_arns
      },
      {
        Sid       = "TerminateClusterInstances"
        Effect    = "Allow"
        Action    = ["ec2:ModifyInstanceAttribute", "ec2:TerminateInstances"]
        Resource  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]
        Condition = local.cluster_instance_condition
      },
    ])

    "transient" = []

    # The deployment's certificate only: a new one is imported with its tag, an existing one is
    # re-imported, described or deleted only while it carries that tag (ListCertificates and
    # ListTagsForCertificate read which are).
    "certificate" = [
      {
        Sid       = "ImportTaggedCertificate"
        Effect    = "Allow"
        Action    = ["acm:ImportCertificate", "acm:AddTagsToCertificate"]
        Resource  = ["*"]
        Condition = local.certificate_tag_requested
      },
      {
        Sid       = "ManageOwnCertificate"
        Effect    = "Allow"
        Action    = ["acm:ImportCertificate", "acm:DescribeCertificate", "acm:DeleteCertificate"]
        Resource  = ["arn:${local.partition}:acm:${local.region}:${local.account_id}:certificate/*"]
        Condition = local.certificate_tag_present
      },
      {
        Sid      = "FindOwnCertificate"
        Effect   = "Allow"
        Action   = ["acm:ListCertificates", "acm:ListTagsForCertificate"]
        Resource = ["*"]
      },
    ]
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "lambda" {
  for_each           = local.lambda_own_role
  name               = substr("${local.iam_base}-${each.key}-lambda-role", 0, 64)
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
  tags               = local.common_tags
}

resource "aws_iam_role_policy" "lambda" {
  # checkov:skip=CKV_AWS_290:Only Describe* (no resource-level support) and Lambda's own VPC ENI management (AWS requires Resource "*", as in AWSLambdaVPCAccessExecutionRole) use "*".
  # checkov:skip=CKV_AWS_355:Same as CKV_AWS_290: "*" only for Describe* and Lambda-managed VPC ENIs.
  for_each = local.lambda_own_role
  name     = "${each.key}-least-privilege"
  role     = aws_iam_role.lambda[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [{
        Sid      = "OwnLogGroup"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
      }],
      local.lambda_in_vpc[each.key] ? local.st_vpc_eni : [],
      local.function_statements[each.key],
    )
  })
}

###############################################################################
# Functions
###############################################################################
resource "aws_cloudwatch_log_group" "lambda" {
  # checkov:skip=CKV_AWS_338:Retention is a cost decision exposed as log_retention_days (default 30, as the reference); set 365+ where policy requires.
  for_each          = local.functions
  name              = local.lambda_log_group[each.key]
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_kms_key_id
  tags              = local.common_tags

  # A group carried over from WEKA's module keeps its name and history (migration.tf).
  lifecycle {
    ignore_changes = [name]
  }
}

# Where each function's code comes from, one of:
# - a release (make package: <function>.zip + manifest.json) in S3 (lambdas_custom_s3_bucket
#   and _key, or the key lambdas_version), read in place; nothing is built or uploaded here;
# - a release in a local directory (lambdas_dir holding its manifest.json), uploaded;
# - local zips (lambdas_dir/<function>/bootstrap.zip, cargo lambda's layout), uploaded directly
#   or staged in lambdas_upload_s3_bucket.
locals {
  release_in_s3     = var.lambdas_custom_s3_bucket != null
  release_s3_prefix = trimsuffix(coalesce(var.lambdas_custom_s3_key, var.lambdas_version, "-"), "/")
  local_manifest    = "${local.lambdas_dir}/manifest.json"
  release = (local.release_in_s3 ? jsondecode(data.aws_s3_object.lambdas_manifest[0].body)
  : fileexists(local.local_manifest) ? jsondecode(file(local.local_manifest)) : null)
  release_functions = try(local.release.functions, {})
  lambda_zips = { for f in keys(local.functions) : f => (local.release == null
    ? "${local.lambdas_dir}/${f}/bootstrap.zip"
  : "${local.lambdas_dir}/${try(local.release_functions[f].file, "${f}.zip")}") }
  lambda_code_in_s3 = var.lambdas_upload_s3_bucket != null && !local.release_in_s3
  lambda_code_hash = { for f in keys(local.functions) : f => (local.release_in_s3
    ? try(local.release_functions[f].base64sha256, "")
  : filebase64sha256(local.lambda_zips[f])) }
}

data "aws_s3_object" "lambdas_manifest" {
  count  = local.release_in_s3 ? 1 : 0
  bucket = var.lambdas_custom_s3_bucket
  key    = "${local.release_s3_prefix}/manifest.json"
}

# The release must hold every function of this module, built for the configured architecture,
# and be the version asked for.
resource "terraform_data" "lambdas_release" {
  count = local.release == null ? 0 : 1
  lifecycle {
    precondition {
      condition     = try(local.release.format, 0) == 1
      error_message = "The functions' release manifest has format ${try(local.release.format, "(none)")}; this module reads format 1 (make package)."
    }
    precondition {
      condition     = length(setsubtract(keys(local.functions), keys(local.release_functions))) == 0
      error_message = "The functions' release ${try(local.release.version, "?")} lacks ${join(", ", setsubtract(keys(local.functions), keys(local.release_functions)))}: it was cut for another version of this module."
    }
    precondition {
      condition     = try(local.release.architecture, "") == var.lambda_architecture
      error_message = "The functions' release is built for ${try(local.release.architecture, "?")}, lambda_architecture is ${var.lambda_architecture}."
    }
    precondition {
      condition     = var.lambdas_version == null || try(local.release.version, "") == var.lambdas_version
      error_message = "lambdas_version is ${coalesce(var.lambdas_version, "-")}, the release found is ${try(local.release.version, "?")}."
    }
    precondition {
      condition     = var.lambdas_dist != "release" || !strcontains(try(local.release.version, ""), "-")
      error_message = "The release found is ${try(local.release.version, "?")}, a development build: set lambdas_dist = \"dev\" to deploy it."
    }
  }
}

# Optional: the zips staged in S3 (lambdas_upload_s3_bucket). The AWS provider creates functions
# from a local zip one at a time (one provider-wide lock, held through its >= 5 s wait for each
# function to become Active), so nine functions take >= 45 s one after another; from S3 they are
# created in parallel.
resource "aws_s3_object" "lambda_code" {
  # checkov:skip=CKV_AWS_186:The bucket is the caller's; its default encryption (SSE-S3 or the caller's KMS key) applies to the staged zips, which hold no secrets.
  for_each    = local.lambda_code_in_s3 ? local.functions : {}
  bucket      = var.lambdas_upload_s3_bucket
  key         = "${local.lambda_names[each.key]}/bootstrap.zip"
  source      = local.lambda_zips[each.key]
  source_hash = filemd5(local.lambda_zips[each.key])
  # No tags: S3 objects take at most 10, and the module's tags may be more.
}

resource "aws_lambda_function" "this" {
  # checkov:skip=CKV_AWS_116:Invoked synchronously (instances, Step Functions); callers see and retry errors, a DLQ would never receive anything.
  # checkov:skip=CKV_AWS_115:The instance-facing functions have reserved concurrency (instance_function_reserved_concurrency); the state machine's steps are bounded by the schedule and the DynamoDB lease.
  # checkov:skip=CKV_AWS_272:Code signing needs AWS Signer profiles outside this module; the zip hash is pinned by source_code_hash.
  # checkov:skip=CKV_AWS_173:Environment holds only names/ARNs (no secrets); Lambda encrypts it at rest with the AWS managed key.
  # checkov:skip=CKV_AWS_117:Only status and scale-down must reach the cluster network and are VPC-attached; others are VPC-attached with enable_lambda_vpc_config.
  for_each      = local.functions
  function_name = local.lambda_names[each.key]
  description   = "WEKA ${var.cluster_name}: ${each.key}"
  role          = local.lambda_role_arns[each.key]
  runtime       = "provided.al2023"
  handler       = "bootstrap"
  architectures = [var.lambda_architecture]
  filename      = local.release_in_s3 || local.lambda_code_in_s3 ? null : local.lambda_zips[each.key]
  s3_bucket = (local.release_in_s3 ? var.lambdas_custom_s3_bucket
  : local.lambda_code_in_s3 ? aws_s3_object.lambda_code[each.key].bucket : null)
  s3_key = (local.release_in_s3 ? "${local.release_s3_prefix}/${try(local.release_functions[each.key].file, "${each.key}.zip")}"
  : local.lambda_code_in_s3 ? aws_s3_object.lambda_code[each.key].key : null)
  # filebase64sha256 fails at plan time when a local zip is missing: build it first
  # (make package); a release in S3 carries its hashes in its manifest.
  source_code_hash = local.lambda_code_hash[each.key]
  timeout          = lookup(var.lambda_timeouts, each.key, each.value.timeout)
  memory_size      = lookup(var.lambda_memory_sizes, each.key, var.lambda_memory_size)
  # What instances can call is capped, so no host (or fleet of them) can take the account's
  # concurrency; -1 leaves a function unreserved.
  reserved_concurrent_executions = each.value.bootstrap && var.instance_function_reserved_concurrency != null ? var.instance_function_reserved_concurrency : -1

  dynamic "environment" {
    for_each = length(local.function_env[each.key]) > 0 ? [1] : []
    content {
      variables = local.function_env[each.key]
    }
  }

  logging_config {
    log_format            = "JSON"
    application_log_level = var.lambda_log_level
    system_log_level      = "WARN"
    log_group             = aws_cloudwatch_log_group.lambda[each.key].name
  }

  tracing_config {
    mode = var.lambda_tracing_mode
  }

  dynamic "vpc_config" {
    for_each = local.lambda_in_vpc[each.key] ? [1] : []
    content {
      subnet_ids         = [local.cluster_subnet_id]
      security_group_ids = local.lambda_sg_ids
    }
  }

  tags = local.common_tags

  lifecycle {
    precondition {
      condition     = toset(keys(local.function_env[each.key])) == toset(local.function_env_table[each.key])
      error_message = "The environment of ${each.key} differs from infra/function-env.json, the table the code and the test harness are checked against."
    }
    precondition {
      condition     = local.release == null || local.release_in_s3 ? true : filebase64sha256(local.lambda_zips[each.key]) == try(local.release_functions[each.key].base64sha256, "")
      error_message = "${local.lambda_zips[each.key]} does not match the SHA-256 its release manifest records: the release directory was altered."
    }
    # Lambda hashes the code it took from S3: a zip altered after the release was cut is caught.
    postcondition {
      condition     = local.release == null || self.code_sha256 == try(local.release_functions[each.key].base64sha256, "")
      error_message = "Lambda computed ${self.code_sha256} for ${each.key}'s code, its release manifest records ${try(local.release_functions[each.key].base64sha256, "?")}: the uploaded release was altered."
    }
  }

  depends_on = [aws_iam_role_policy.lambda, terraform_data.lambdas_release]
}
