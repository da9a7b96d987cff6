# tests/migration.sh: a root module as a user of WEKA's module writes it, pointed at the local
# emulator. Applied first with the reference stand-in (./reference); then the test switches the
# module's source to this repository's module, drops the lines marked "reference only" (inputs
# this module does not take; README "Differences") and uncomments the lines marked "ours:"
# (inputs only the emulator needs), and plans.
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

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "test"
  secret_key                  = "test"
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
}

output "asg_name" {
  value = module.weka_deployment.asg_name
}

output "weka_cluster_admin_password_secret_id" {
  value = module.weka_deployment.weka_cluster_admin_password_secret_id
}
