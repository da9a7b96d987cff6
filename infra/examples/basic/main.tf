# Real AWS, mirroring the seed's main.tf. `terraform init && terraform plan && terraform apply`.
# Build the lambdas first: `cargo lambda build --release --arm64 -o zip` at the repo root
# (or point lambdas_dir at a directory holding <function>/bootstrap.zip).
terraform {
  required_version = ">= 1.9.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60.0, < 6.0.0"
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

  # VPC lambdas (status, scale-down) reach DynamoDB / Secrets Manager through endpoints:
  secretmanager_use_vpc_endpoint       = true
  vpc_endpoint_dynamodb_gateway_create = true
  vpc_endpoint_ec2_create              = true
  vpc_endpoint_autoscaling_create      = true

  ## NFS protocol gateways (minimum two)
  # nfs_protocol_gateways_number = 2
  ## SMB protocol gateways (minimum three)
  # smb_protocol_gateways_number = 3
}

output "weka_deployment" {
  value = module.weka_deployment.weka_deployment
}
