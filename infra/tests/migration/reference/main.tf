# A minimal stand-in of WEKA's module (weka/terraform-aws-weka, HEAD 2026-05-21) for the
# migration e2e (tests/localcloud/migration.py): the resources a running cluster depends on, at
# the reference's addresses, with the reference's names and the arguments that decide them.
# Written for this test (not the reference's code); only the AWS provider (no tls/random/local
# offline: the random secret suffix is a constant here, and no key pair is generated).
terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

variable "prefix" {
  type    = string
  default = "weka"
}

variable "cluster_name" {
  type    = string
  default = "poc"
}

variable "cluster_size" {
  type    = number
  default = 6
}

variable "instance_type" {
  type    = string
  default = "i3en.2xlarge"
}

variable "ami_id" {
  type = string
}

variable "weka_version" {
  type    = string
  default = ""
}

variable "get_weka_io_token" {
  type      = string
  sensitive = true
}

variable "tags_map" {
  type    = map(string)
  default = {}
}

variable "vpc_cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "subnets_cidrs" {
  type    = list(string)
  default = ["10.0.1.0/24"]
}

variable "use_placement_group" {
  type    = bool
  default = true
}

variable "enable_key_pair" {
  type    = bool
  default = true
}

variable "create_alb" {
  type    = bool
  default = true
}

variable "alb_cert_arn" {
  type    = string
  default = null
}

variable "alb_additional_subnet_cidr_block" {
  type    = string
  default = "10.0.3.0/24"
}

variable "secretmanager_use_vpc_endpoint" {
  type    = bool
  default = true
}

variable "lambdas_custom_s3_bucket" {
  type    = string
  default = null
}

variable "lambdas_custom_s3_key" {
  type    = string
  default = null
}

locals {
  tags          = merge(var.tags_map, { aws-apn-id = "pc:epkj0ftddjwa38m3oq9umjjlm" })
  base          = "${var.prefix}-${var.cluster_name}"
  secret_prefix = "weka/${var.prefix}-${var.cluster_name}/"
  # The reference's random_password.suffix (4 characters); a constant here (no random provider).
  suffix    = "Xy7q"
  state_key = "${local.base}-state"
  # The reference's functions, in the order its count-indexed log groups use (toset: lexical).
  functions = ["clusterize", "clusterize-finalization", "deploy", "fetch", "join-nfs-finalization", "management",
  "report", "scale-down", "status", "terminate", "transient"]
  addresses = {
    "clusterize" = "clusterize_lambda", "clusterize-finalization" = "clusterize_finalization_lambda", "deploy" = "deploy_lambda",
    "fetch"      = "fetch_lambda", "report" = "report_lambda", "scale-down" = "scale_down_lambda", "status" = "status_lambda",
    "terminate"  = "terminate_lambda", "transient" = "transient_lambda",
  }
}

data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

module "network" {
  count         = 1
  source        = "./modules/network"
  prefix        = var.prefix
  vpc_cidr      = var.vpc_cidr
  subnets_cidrs = var.create_alb ? concat(var.subnets_cidrs, [var.alb_additional_subnet_cidr_block]) : var.subnets_cidrs
  tags          = local.tags
}

module "security_group" {
  count        = 1
  source       = "./modules/security_group"
  prefix       = var.prefix
  cluster_name = var.cluster_name
  vpc_id       = module.network[0].vpc_id
  tags         = local.tags
}

module "iam" {
  count        = 1
  source       = "./modules/iam"
  prefix       = var.prefix
  cluster_name = var.cluster_name
  tags         = local.tags
}

resource "terraform_data" "unsupported" {
  lifecycle {
    precondition {
      condition     = (!var.create_alb || var.alb_cert_arn != null) && !var.enable_key_pair
      error_message = "This stand-in has no self-signed certificate and no key pair (the tls provider): with create_alb pass alb_cert_arn, and set enable_key_pair = false."
    }
  }
}

# --- Backends -------------------------------------------------------------------
resource "aws_placement_group" "placement_group" {
  count    = var.use_placement_group ? 1 : 0
  name     = "${local.base}-placement-group"
  strategy = "cluster"
  tags     = local.tags
}

resource "aws_kms_key" "kms_key" {
  count                   = 1
  enable_key_rotation     = true
  deletion_window_in_days = 20
  tags                    = merge(local.tags, { Name = local.base })
}

resource "aws_kms_alias" "kms_alias" {
  count         = 1
  name          = "alias/${local.base}"
  target_key_id = aws_kms_key.kms_key[0].key_id
}

resource "aws_kms_key_policy" "kms_key_policy" {
  count  = 1
  key_id = aws_kms_key.kms_key[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "Enable IAM User Permissions"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

resource "aws_launch_template" "launch_template" {
  name_prefix                          = "${local.base}-backend"
  disable_api_termination              = true
  disable_api_stop                     = true
  ebs_optimized                        = true
  image_id                             = var.ami_id
  instance_initiated_shutdown_behavior = "terminate"
  instance_type                        = var.instance_type
  update_default_version               = true

  block_device_mappings {
    device_name = "/dev/sdp"
    ebs {
      volume_size           = 48
      volume_type           = "gp3"
      delete_on_termination = true
      kms_key_id            = aws_kms_key.kms_key[0].arn
      encrypted             = true
    }
  }

  iam_instance_profile {
    arn = module.iam[0].instance_iam_profile_arn
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  network_interfaces {
    associate_public_ip_address = true
    delete_on_termination       = true
    device_index                = 0
    security_groups             = module.security_group[0].sg_ids
    subnet_id                   = module.network[0].subnet_ids[0]
  }

  placement {
    group_name = var.use_placement_group ? aws_placement_group.placement_group[0].name : null
  }

  dynamic "tag_specifications" {
    for_each = ["instance", "network-interface", "volume"]
    content {
      resource_type = tag_specifications.value
      tags = merge(local.tags, {
        Name                = "${local.base}-${tag_specifications.value}-backend"
        weka_cluster_name   = var.cluster_name
        weka_hostgroup_type = "backend"
      })
    }
  }

  user_data = base64encode("#!/bin/bash\n# reference user data: invokes ${local.base}-deploy-lambda\n")
}

resource "aws_autoscaling_group" "autoscaling_group" {
  name                  = "${local.base}-autoscaling-group"
  desired_capacity      = var.cluster_size
  max_size              = var.cluster_size * 7
  min_size              = var.cluster_size
  vpc_zone_identifier   = [module.network[0].subnet_ids[0]]
  suspended_processes   = ["ReplaceUnhealthy"]
  protect_from_scale_in = true

  launch_template {
    id      = aws_launch_template.launch_template.id
    version = aws_launch_template.launch_template.latest_version
  }

  tag {
    key                 = "${local.base}-asg"
    propagate_at_launch = true
    value               = var.cluster_name
  }

  tag {
    key                 = "Name"
    propagate_at_launch = false
    value               = "${local.base}-instance-backend"
  }

  tag {
    key                 = "weka_cluster_name"
    propagate_at_launch = false
    value               = var.cluster_name
  }

  tag {
    key                 = "weka_hostgroup_type"
    propagate_at_launch = false
    value               = "backend"
  }

  lifecycle {
    ignore_changes = [desired_capacity, min_size, max_size]
  }
}

# --- Secrets: `name` (not name_prefix) with the random suffix -------------------
resource "aws_secretsmanager_secret" "get_weka_io_token" {
  count = 1
  name  = "${local.secret_prefix}get_weka_io_token-${local.suffix}"
  tags  = local.tags
}

resource "aws_secretsmanager_secret_version" "get_weka_io_token" {
  count         = 1
  secret_id     = aws_secretsmanager_secret.get_weka_io_token[0].id
  secret_string = var.get_weka_io_token
}

resource "aws_secretsmanager_secret" "weka_username" {
  name = "${local.secret_prefix}weka-username-${local.suffix}"
  tags = local.tags
}

resource "aws_secretsmanager_secret_version" "weka_username" {
  secret_id     = aws_secretsmanager_secret.weka_username.id
  secret_string = "weka-deployment"
}

# Written by clusterize (the test writes them as it would).
resource "aws_secretsmanager_secret" "weka_password" {
  name = "${local.secret_prefix}weka-password-${local.suffix}"
  tags = local.tags
}

resource "aws_secretsmanager_secret" "weka_deployment_password" {
  name = "${local.secret_prefix}weka-deployment-password-${local.suffix}"
  tags = local.tags
}

# The region as `id`, not `name`: the same value on provider 5 and 6 (6 deprecates `name`, and
# `region` does not exist on 5).
resource "aws_vpc_endpoint" "secretmanager_endpoint" {
  count               = var.secretmanager_use_vpc_endpoint ? 1 : 0
  vpc_id              = module.network[0].vpc_id
  service_name        = "com.amazonaws.${data.aws_region.current.id}.secretsmanager"
  vpc_endpoint_type   = "Interface"
  security_group_ids  = module.security_group[0].sg_ids
  subnet_ids          = module.network[0].subnet_ids
  private_dns_enabled = true
  tags                = merge(local.tags, { Name = "${var.prefix}-secretmanager-endpoint", Environment = var.prefix })
}

# --- State table: hash key `Key`, the initial item as the reference writes it -------
resource "aws_dynamodb_table" "weka_deployment" {
  count        = 1
  name         = "${local.base}-weka-deployment"
  hash_key     = "Key"
  billing_mode = "PAY_PER_REQUEST"

  attribute {
    name = "Key"
    type = "S"
  }

  tags = local.tags
}

resource "aws_dynamodb_table_item" "weka_deployment_state" {
  table_name = aws_dynamodb_table.weka_deployment[0].name
  hash_key   = "Key"
  item = jsonencode({
    Key    = { S = local.state_key }
    Locked = { BOOL = false }
    Value = { M = {
      initial_size          = { N = tostring(var.cluster_size) }
      desired_size          = { N = tostring(var.cluster_size) }
      clusterization_target = { N = tostring(var.cluster_size) }
      instances             = { L = [] }
      clusterized           = { BOOL = false }
    } }
  })

  lifecycle {
    ignore_changes = all
  }
}

# --- Lambdas (one role), log groups, state machine, schedule ----------------------
resource "aws_cloudwatch_log_group" "lambdas_log_group" {
  count             = length(local.functions)
  name              = "/aws/lambda/${var.prefix}/${local.base}-${local.functions[count.index]}-lambda"
  retention_in_days = 30
  tags              = local.tags
}

# The reference declares one resource per function; a for_each here would give other
# addresses, so each is spelled out.
resource "aws_lambda_function" "deploy_lambda" {
  function_name = "${local.base}-deploy-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  environment {
    variables = { LAMBDA = "deploy", STATE_TABLE = aws_dynamodb_table.weka_deployment[0].name, STATE_TABLE_HASH_KEY = "Key", STATE_KEY = local.state_key }
  }
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[2].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "clusterize_lambda" {
  function_name = "${local.base}-clusterize-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[0].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "clusterize_finalization_lambda" {
  function_name = "${local.base}-clusterize-finalization-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[1].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "join_nfs_finalization_lambda" {
  function_name = "${local.base}-join-nfs-finalization-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[4].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "management" {
  function_name = "${local.base}-management-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[5].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "report_lambda" {
  function_name = "${local.base}-report-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[6].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "status_lambda" {
  function_name = "${local.base}-status-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[8].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "fetch_lambda" {
  function_name = "${local.base}-fetch-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[3].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "scale_down_lambda" {
  function_name = "${local.base}-scale-down-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[7].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "terminate_lambda" {
  function_name = "${local.base}-terminate-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[9].name
  }
  tags = local.tags
}

resource "aws_lambda_function" "transient_lambda" {
  function_name = "${local.base}-transient-lambda"
  s3_bucket     = var.lambdas_custom_s3_bucket
  s3_key        = var.lambdas_custom_s3_key
  handler       = "bootstrap"
  role          = module.iam[0].lambda_iam_role_arn
  runtime       = "provided.al2023"
  architectures = ["arm64"]
  timeout       = 20
  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambdas_log_group[10].name
  }
  tags = local.tags
}

resource "aws_cloudwatch_log_group" "sfn_log_group" {
  name              = "/aws/vendedlogs/states/${var.prefix}/${var.cluster_name}-scale-down-sfn"
  retention_in_days = 30
  tags              = local.tags
}

resource "aws_sfn_state_machine" "scale_down_state_machine" {
  name     = "${local.base}-scale-down-state-machine"
  role_arn = module.iam[0].sfn_iam_role_arn
  definition = jsonencode({
    Comment = "Run Fetch function for scale down"
    StartAt = "Fetch"
    States = {
      Fetch     = { Type = "Task", Resource = aws_lambda_function.fetch_lambda.arn, Next = "ScaleDown" }
      ScaleDown = { Type = "Task", Resource = aws_lambda_function.scale_down_lambda.arn, Next = "Terminate" }
      Terminate = { Type = "Task", Resource = aws_lambda_function.terminate_lambda.arn, Next = "ErrorCheck" }
      ErrorCheck = { Type = "Choice", Default = "Success",
      Choices = [{ Variable = "$.TransientErrors", IsNull = false, Next = "Transient" }] }
      Success   = { Type = "Succeed" }
      Transient = { Type = "Task", Resource = aws_lambda_function.transient_lambda.arn, End = true }
    }
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.sfn_log_group.arn}:*"
    include_execution_data = true
    level                  = "ALL"
  }

  tags = merge(local.tags, { Name = "${local.base}-scale-up-sfn" })
}

resource "aws_cloudwatch_event_rule" "event_rule" {
  name                = "${local.base}-scale-down-trigger-rule"
  schedule_expression = "rate(1 minute)"
  description         = "CloudWatch trigger scale down step function every 1 minute"
  tags                = merge(local.tags, { Name = "${local.base}-scale-down-trigger-rule" })
}

resource "aws_cloudwatch_event_target" "step_function_event_target" {
  target_id = "TriggerStepFunctionFromCloudWatch"
  rule      = aws_cloudwatch_event_rule.event_rule.name
  arn       = aws_sfn_state_machine.scale_down_state_machine.arn
  role_arn  = module.iam[0].event_iam_role_arn
}

resource "aws_lambda_permission" "invoke_lambda_permission" {
  count         = 4
  action        = "lambda:InvokeFunction"
  function_name = [aws_lambda_function.fetch_lambda, aws_lambda_function.scale_down_lambda, aws_lambda_function.terminate_lambda, aws_lambda_function.transient_lambda][count.index].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.event_rule.arn
  statement_id  = "AllowExecutionFromCloudWatch"
}

# --- ALB (with alb_cert_arn: the reference's self-signed certificate needs the tls provider) ---
resource "aws_lb" "alb" {
  count                      = var.create_alb ? 1 : 0
  name                       = substr("${local.base}-lb", 0, 32)
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = module.security_group[0].sg_ids
  subnets                    = module.network[0].subnet_ids
  enable_deletion_protection = false
  tags                       = merge(local.tags, { Name = "${local.base}-lb", cluster_name = var.cluster_name })
}

resource "aws_lb_target_group" "alb_target_group" {
  count    = var.create_alb ? 1 : 0
  name     = replace(substr("${local.base}-lb-target-group", 0, 32), "/-$/", "")
  vpc_id   = module.network[0].vpc_id
  port     = 14000
  protocol = "HTTPS"

  health_check {
    protocol = "HTTPS"
    port     = "14000"
    path     = "/api/v2/healthcheck/"
  }

  tags = local.tags
}

resource "aws_lb_listener" "lb_weka_listener" {
  count             = var.create_alb ? 1 : 0
  load_balancer_arn = aws_lb.alb[0].id
  port              = 14000
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.alb_cert_arn

  default_action {
    target_group_arn = aws_lb_target_group.alb_target_group[0].id
    type             = "forward"
  }
}

resource "aws_lb_listener" "lb_listener" {
  count             = var.create_alb ? 1 : 0
  load_balancer_arn = aws_lb.alb[0].id
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.alb_cert_arn

  default_action {
    target_group_arn = aws_lb_target_group.alb_target_group[0].id
    type             = "forward"
  }
}

resource "aws_autoscaling_attachment" "alb_autoscaling_attachment" {
  count                  = var.create_alb ? 1 : 0
  autoscaling_group_name = aws_autoscaling_group.autoscaling_group.name
  lb_target_group_arn    = aws_lb_target_group.alb_target_group[0].arn
}

# Outputs the reference has (names shared with this module).
output "asg_name" {
  value = aws_autoscaling_group.autoscaling_group.name
}

output "weka_cluster_admin_password_secret_id" {
  value = aws_secretsmanager_secret.weka_password.id
}
