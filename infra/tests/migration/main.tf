# tests/localcloud/migration.py: a root module as a user of WEKA's module writes it, pointed at
# the local cloud's moto. Applied first with the reference stand-in (./reference); then the test
# switches the module's source to this repository's module, drops the lines marked "reference
# only" (inputs this module does not take; README "Differences") and uncomments the lines marked
# "ours:" (inputs only the local cloud needs: where the functions' code is, the WEKA simulator,
# the local instance identity, short timeouts; and the outputs its control plane reads), and
# plans.
terraform {
  required_version = ">= 1.9.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60.0, < 7.0.0"
    }
  }
}

variable "aws_endpoint" {
  type        = string
  description = "Emulator endpoint (loopback only)."
}

variable "code_bucket" {
  type        = string
  description = "Emulator bucket holding the reference's lambda zip (and, after the switch, ours)."
}

variable "create_alb" {
  type        = bool
  default     = false
  description = "MIGRATION_WITH_ALB=1 turns the ALB on (the reference's default; off by default to keep the test short)."
}

variable "alb_cert_arn" {
  type    = string
  default = null
}

variable "lambdas_dir" {
  type        = string
  default     = null
  description = "Directory with <function>/bootstrap.zip for this module."
}

variable "access_key" {
  type        = string
  default     = "test"
  description = "The key Terraform signs with: the local cloud's admin user (moto with IAM enforced)."
}

variable "secret_key" {
  type      = string
  default   = "test"
  sensitive = true
}

variable "weka_api_url_template" {
  type        = string
  default     = "http://{ip}:14000/api/v1"
  description = "After the switch: the local cloud points the functions at the WEKA simulator."
}

variable "bootstrap_grace_minutes" {
  type    = number
  default = 30
}

variable "down_backends_removal_timeout" {
  type    = string
  default = "3h"
}

variable "instance_identity_certificate" {
  type        = string
  default     = null
  description = "The local cloud's identity certificate, whose key its IMDS signs with."
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = var.access_key
  secret_key                  = var.secret_key
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    autoscaling    = var.aws_endpoint
    cloudwatch     = var.aws_endpoint
    cloudwatchlogs = var.aws_endpoint
    dynamodb       = var.aws_endpoint
    ec2            = var.aws_endpoint
    elbv2          = var.aws_endpoint
    events         = var.aws_endpoint
    iam            = var.aws_endpoint
    kms            = var.aws_endpoint
    lambda         = var.aws_endpoint
    s3             = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    sfn            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

module "weka_deployment" {
  source = "./reference" # the test replaces it with this repository's module

  prefix            = "WEKA"
  cluster_name      = "Prod"
  cluster_size      = 6
  instance_type     = "i3en.2xlarge"
  ami_id            = "ami-04681a1dbd79675a5" # preloaded in moto
  weka_version      = "4.4.2"
  get_weka_io_token = "migration-test-token"
  tags_map          = { team = "storage" }

  # The stand-in has no self-signed certificate and no generated key (the tls provider): the ALB
  # only with a certificate of the caller's (alb_cert_arn, as a reference user may pass it).
  create_alb      = var.create_alb
  alb_cert_arn    = var.alb_cert_arn
  enable_key_pair = false
  # moto has no placement groups (CreatePlacementGroup is not implemented).
  use_placement_group = false

  lambdas_custom_s3_bucket = var.code_bucket         # reference only
  lambdas_custom_s3_key    = "reference/lambdas.zip" # reference only

  # ours: lambdas_dir              = var.lambdas_dir
  # ours: lambdas_upload_s3_bucket = var.code_bucket
  # ours: attach_ssm_policy        = false # moto lacks the AWS managed SSM policy
  # ours: install_cluster_dpdk     = false # UDP mode: one NIC per simulated host
  # ours: weka_api_url_template               = var.weka_api_url_template
  # ours: bootstrap_grace_minutes             = var.bootstrap_grace_minutes
  # ours: debug_down_backends_removal_timeout = var.down_backends_removal_timeout
  # ours: instance_identity_certificate       = var.instance_identity_certificate
}

output "asg_name" {
  value = module.weka_deployment.asg_name
}

output "weka_cluster_admin_password_secret_id" {
  value = module.weka_deployment.weka_cluster_admin_password_secret_id
}

# What the local cloud's control plane reads (tests/localcloud/cloud.py), after the switch.
# ours: output "weka_deployment" {
# ours:   value = module.weka_deployment.weka_deployment
# ours: }
# ours: output "cluster_helper_commands" {
# ours:   value = module.weka_deployment.cluster_helper_commands
# ours: }
# ours: output "state_table_name" {
# ours:   value = module.weka_deployment.state_table_name
# ours: }
# ours: output "state_machine_arn" {
# ours:   value = module.weka_deployment.state_machine_arn
# ours: }
# ours: output "lambda_names" {
# ours:   value = module.weka_deployment.lambda_names
# ours: }
