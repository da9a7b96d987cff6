# Real AWS, mirroring the seed's main.tf. `terraform init && terraform plan && terraform apply`.
# Build the lambdas first: `cargo lambda build --release --arm64 -o zip` at the repo root
# (or point lambdas_dir at a directory holding <function>/bootstrap.zip).
terraform {
  required_version = ">= 1.9.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60.0, < 7.0.0"
    }
  }
}

variable "get_weka_io_token" {
  type      = string
  sensitive = true
}

provider "aws" {
  region = "us-east-1"
}

module "weka_deployment" {
  source = "../.."

  prefix            = "WEKA"
  cluster_name      = "Prod"
  cluster_size      = 6
  instance_type     = "i3en.6xlarge"
  weka_version      = "4.4.2"
  get_weka_io_token = var.get_weka_io_token

  # Existing networking (omit both to let the module create a VPC):
  # subnet_ids = ["subnet-0123456789abcdef0"]
  # sg_ids     = ["sg-0123456789abcdef0"]
  # alb_additional_subnet_id = "subnet-0fedcba9876543210"

  key_pair_name        = null # or an existing EC2 key pair name
  allow_ssh_cidrs      = []
  allow_weka_api_cidrs = []

  # The VPC endpoints the VPC-attached lambdas (status, scale-down) need are created by default
  # (infra/README.md "Network paths"); with your own subnets behind a NAT gateway you may set
  # vpc_endpoint_{dynamodb_gateway,ec2,autoscaling,lambda}_create = false.

  ## NFS protocol gateways (minimum two)
  # nfs_protocol_gateways_number = 2
  ## SMB protocol gateways (minimum three)
  # smb_protocol_gateways_number = 3
}

output "weka_deployment" {
  value = module.weka_deployment.weka_deployment
}

# What `wekactl-aws --tf-dir .` reads to find this deployment (README "The operator's CLI").
output "control_plane" {
  value = module.weka_deployment.control_plane
}
