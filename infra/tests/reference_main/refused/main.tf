# The reference variables this module refuses, each set as a reference user might: the plan must
# stop with one message per variable naming it and what to use instead. infra/tests/static.sh
# plans this (tests/refused.tftest.hcl, mocked provider), expects the failure and checks every
# message; the list there is the list here.
terraform {
  required_version = ">= 1.9.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60.0"
    }
  }
}

provider "aws" {
}

module "weka_deployment" {
  source            = "../../../"
  prefix            = "WEKA"
  cluster_name      = "Prod"
  weka_version      = "4.4.2"
  get_weka_io_token = "token"

  # The seed tutorial: "Enable VPC endpoints for services like EC2, S3, or a proxy by setting
  # the respective variables to true."
  vpc_endpoint_ec2_create        = true
  vpc_endpoint_s3_gateway_create = true
  vpc_endpoint_proxy_create      = true

  clients_number                = 2
  clients_use_autoscaling_group = true

  data_services_number                   = 2
  data_services_instance_type            = "m6i.2xlarge"
  data_services_instance_ami_id          = "ami-0123456789abcdef0"
  data_services_instance_iam_profile_arn = "arn:aws:iam::123456789012:instance-profile/data-services"
  data_services_subnet_id                = "subnet-0a1b2c3d4e5f60718"
  data_services_root_volume_size         = 64
  data_services_weka_volume_size         = 96
  data_services_capacity_reservation_id  = "cr-0123456789abcdef0"
  data_services_weka_cgroups_mode        = "auto"
}
