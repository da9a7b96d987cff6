# Applies the unchanged module to a local AWS emulator (moto). Only the provider differs.
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
  default     = "http://127.0.0.1:5000"
  description = "Emulator endpoint (loopback only)."
}

variable "prefix" {
  type        = string
  default     = "WEKA"
  description = "The seed's example names (its output shows WEKA-Prod-status-lambda, ...)."
}

variable "cluster_name" {
  type    = string
  default = "Prod"
}

variable "region" {
  type    = string
  default = "us-east-1"
}

variable "lambdas_dir" {
  type        = string
  default     = null
  description = "Directory with <function>/bootstrap.zip; null = <repo>/target/lambda."
}

variable "lambdas_custom_s3_bucket" {
  type        = string
  default     = null
  description = "Emulator bucket holding a release (make package's layout) under lambdas_version/."
}

variable "lambdas_version" {
  type    = string
  default = null
}

variable "lambdas_upload_s3_bucket" {
  type        = string
  default     = null
  description = "Existing emulator bucket to stage the zips in: the provider then creates the nine functions in parallel (~5 s) instead of one at a time (~5 s each, ~45 s). null = direct upload."
}

variable "cluster_size" {
  type    = number
  default = 6
}

variable "ami_id" {
  type        = string
  default     = "ami-04681a1dbd79675a5" # Amazon Linux 2 image preloaded in moto
  description = "Any AMI known to the emulator."
}

variable "weka_api_url_template" {
  type        = string
  default     = "http://{ip}:14000/api/v1"
  description = "The local cloud points this at the WEKA simulator on loopback."
}

variable "bootstrap_grace_minutes" {
  type    = number
  default = 30
}

variable "instance_identity_certificate" {
  type        = string
  default     = null
  description = "The local cloud's identity certificate (tests/localcloud/identity/certificate.pem), whose key its IMDS signs with."
}

variable "install_cluster_dpdk" {
  type        = bool
  default     = true
  description = "false = UDP mode: one NIC per backend, no extra ENIs to create (faster locally)."
}

variable "launch_heartbeat_timeout" {
  type        = number
  default     = 900
  description = "The launch hook's timeout (the fault scenarios shorten it to 120)."
}

variable "terminate_heartbeat_timeout" {
  type        = number
  default     = 900
  description = "The terminate hook's timeout (the fault scenarios shorten it to 120)."
}

variable "lifecycle_deadline_margin" {
  type    = number
  default = 120
}

variable "lambda_timeouts" {
  type        = map(number)
  default     = {}
  description = "Per-function timeout overrides (the fault scenarios shorten the scale steps')."
}

variable "scale_lease_ttl" {
  type        = string
  default     = "3m"
  description = "The scale lease's lifetime: above every scale step's timeout (checked at plan)."
}

variable "subnet_autocreate_as_private" {
  type        = bool
  default     = false
  description = "The private-subnet-without-NAT variant (the fault scenarios run on it): instances get no public address and reach AWS through the endpoints the module creates."
}

variable "ssh_private_key_path" {
  type        = string
  default     = null
  description = "Where the generated key pair's private key goes (null: the module's /tmp default)."
}

variable "down_backends_removal_timeout" {
  type    = string
  default = "3h"
}

variable "smb_domain_name" {
  type    = string
  default = "weka.local"
}

variable "features" {
  type = object({
    create_alb                     = optional(bool, false)
    alb_cert_arn                   = optional(string)
    tiering_enable_obs_integration = optional(bool, false)
    nfs_protocol_gateways_number   = optional(number, 0)
    smb_protocol_gateways_number   = optional(number, 0)
    s3_protocol_gateways_number    = optional(number, 0)
    clients_number                 = optional(number, 0)
  })
  default     = {}
  description = "Optional parts of the module (tests/drift_moto.sh turns them all on); the defaults keep the local cloud small."
}

variable "access_key" {
  type        = string
  default     = "test"
  description = "The emulator key Terraform signs with: the local cloud's admin user (moto with IAM enforced); any key when IAM is not enforced."
}

variable "secret_key" {
  type      = string
  default   = "test"
  sensitive = true
}

provider "aws" {
  region                      = var.region
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
    route53        = var.aws_endpoint
    s3             = var.aws_endpoint
    secretsmanager = var.aws_endpoint
    sfn            = var.aws_endpoint
    sts            = var.aws_endpoint
  }
}

module "weka" {
  source = "../.."

  prefix            = var.prefix
  cluster_name      = var.cluster_name
  cluster_size      = var.cluster_size
  get_weka_io_token = "local-dummy-token"
  weka_version      = "4.4.2"
  ami_id            = var.ami_id
  lambdas_dir       = var.lambdas_dir

  alarm_sns_topic_create = true # so apply_moto.sh checks the alarm topic's wiring too

  weka_api_url_template               = var.weka_api_url_template
  bootstrap_grace_minutes             = var.bootstrap_grace_minutes
  debug_down_backends_removal_timeout = var.down_backends_removal_timeout
  install_cluster_dpdk                = var.install_cluster_dpdk
  instance_identity_certificate       = var.instance_identity_certificate
  launch_heartbeat_timeout            = var.launch_heartbeat_timeout
  terminate_heartbeat_timeout         = var.terminate_heartbeat_timeout
  lifecycle_deadline_margin           = var.lifecycle_deadline_margin
  lambda_timeouts                     = var.lambda_timeouts
  scale_lease_ttl                     = var.scale_lease_ttl
  subnet_autocreate_as_private        = var.subnet_autocreate_as_private
  ssh_private_key_path                = var.ssh_private_key_path
  smb_domain_name                     = var.smb_domain_name

  # Emulator-friendly choices (variables only; no resource differs).
  use_placement_group                   = false                   # moto never reports the group "available"
  attach_ssm_policy                     = false                   # moto lacks the AWS managed SSM policy
  create_alb                            = var.features.create_alb # default false: moto keeps a new ALB "provisioning" for ~60 s
  alb_cert_arn                          = var.features.alb_cert_arn
  tiering_enable_obs_integration        = var.features.tiering_enable_obs_integration
  nfs_protocol_gateways_number          = var.features.nfs_protocol_gateways_number
  smb_protocol_gateways_number          = var.features.smb_protocol_gateways_number
  s3_protocol_gateways_number           = var.features.s3_protocol_gateways_number
  clients_number                        = var.features.clients_number
  secretmanager_recovery_window_in_days = 0
  log_retention_days                    = 1

  # Set by the harness (apply_moto.sh, the local cloud): the code from an emulator bucket, so
  # the provider creates the functions in parallel: zips staged there by the module, or a
  # release uploaded there (make package's layout). null = the module's default direct upload.
  lambdas_upload_s3_bucket = var.lambdas_upload_s3_bucket
  lambdas_custom_s3_bucket = var.lambdas_custom_s3_bucket
  lambdas_version          = var.lambdas_version
}

output "weka_deployment" {
  value = module.weka.weka_deployment
}

output "cluster_helper_commands" {
  value = module.weka.cluster_helper_commands
}

output "state_table_name" {
  value = module.weka.state_table_name
}

output "state_machine_arn" {
  value = module.weka.state_machine_arn
}

output "lambda_names" {
  value = module.weka.lambda_names
}

output "control_plane" {
  value = module.weka.control_plane
}
