# A root module written for WEKA's module (weka/terraform-aws-weka), planned against this one by
# tests/plans.tftest.hcl (mocked AWS provider; infra/tests/static.sh runs it). Every variable the
# seed tutorial (docs.weka.io "Deploy WEKA on AWS using Terraform") names and every variable of
# the reference's examples/ is used here, with the tutorial's values, and every variable of the
# reference at its default (module "every_reference_variable"); only `source` differs
# (the registry's "weka/weka/aws" there). The one tutorial value this module refuses,
# vpc_endpoint_proxy_create = true, is in refused/main.tf together with every other refused
# reference variable, and static.sh checks the plan stops naming each of them.
terraform {
  required_version = ">= 1.9.0"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The reference's example asks for ">= 6.0.0"; the module takes 5.60 to 6.x (infra/versions.tf)
      # and the offline mirror these tests run against has only 5.100.0.
      version = ">= 5.60.0"
    }
  }
}

provider "aws" {
}

variable "get_weka_io_token" {
  type        = string
  description = "Weka IO token"
  sensitive   = true
}

# examples/public_network/main.tf of the reference, as is.
module "public_network" {
  source             = "../../"
  prefix             = "weka-tf"
  cluster_name       = "poc"
  availability_zones = ["eu-west-1c"]
  allow_ssh_cidrs    = ["0.0.0.0/0"]
  get_weka_io_token  = var.get_weka_io_token
  # Not in the reference's example, which stops at the reference's own check "Please provide
  # either 'install_weka_url' or 'weka_version' variables." without it; here likewise.
  weka_version = "4.4.2"
}

# The tutorial with existing networking ("If using existing resources, collect their AWS IDs"),
# the ALB with a Route 53 alias, OBS tiering, clients, NFS and SMB protocol servers, Secrets
# Manager without an endpoint, and the VPC endpoints.
module "weka_deployment" {
  source            = "../../"
  prefix            = "WEKA"
  cluster_name      = "Prod"
  weka_version      = "4.4.2"
  get_weka_io_token = var.get_weka_io_token
  sg_ids            = ["sg-0a1b2c3d4e5f60718"]
  subnet_ids        = ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a60718"]
  key_pair_name     = "weka-admin"

  ## Application Load Balancer
  create_alb          = true
  alb_route53_zone_id = "Z0123456789ABCDEFGHIJ"
  alb_alias_name      = "weka.example.com"

  ## Object storage tiering
  tiering_enable_obs_integration = true
  tiering_obs_name               = "weka-prod-tiering"
  tiering_enable_ssd_percent     = 20

  ## Clients
  clients_number         = 2
  client_instance_type   = "c5.2xlarge"
  client_frontend_cores  = 1
  client_instance_ami_id = "ami-0123456789abcdef0"

  ## Deploying NFS Protocol Servers ##
  nfs_protocol_gateways_number          = 2 # Minimum of two required
  nfs_protocol_gateway_instance_type    = "c5n.2xlarge"
  nfs_protocol_gateway_weka_volume_size = 48

  ## Deploying SMB Protocol Servers ##
  smb_protocol_gateways_number = 3 # Minimum of three required
  # WEKA's module refuses SMB setup without a domain as well (its protocol_gateways module's
  # precondition), so a working main.tf for it has one.
  smb_domain_name                       = "corp.example.com"
  smb_protocol_gateway_instance_type    = "c5n.2xlarge"
  smb_protocol_gateway_weka_volume_size = 48

  ## Secret Manager
  secretmanager_use_vpc_endpoint = false

  ## VPC endpoints ("by setting the respective variables to true"; the proxy endpoint: refused/)
  vpc_endpoint_ec2_create              = true
  vpc_endpoint_s3_gateway_create       = true
  vpc_endpoint_lambda_create           = true
  vpc_endpoint_dynamodb_gateway_create = true
  vpc_endpoint_autoscaling_create      = true
  vpc_endpoint_proxy_create            = false
}

# The tutorial's "private network deployment": a module-made private subnet behind a NAT
# gateway, no public IPs, a public SSH key.
module "private_network" {
  source                       = "../../"
  prefix                       = "WEKA"
  cluster_name                 = "Private"
  weka_version                 = "4.4.2"
  get_weka_io_token            = var.get_weka_io_token
  availability_zones           = ["us-east-1a"]
  subnet_autocreate_as_private = true
  subnets_cidrs                = ["10.0.1.0/24"]
  create_nat_gateway           = true
  assign_public_ip             = "false"
  ssh_public_key               = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDummyDummyDummyDummyDummyDummyDummyDummy admin"
}

# Every variable of the reference module (its variables.tf at HEAD 2026-05-21, 151), each at the
# reference's default: a main.tf that spells out the defaults (as generated files do) plans.
# Exceptions: get_weka_io_token (required there too); weka_version (both modules refuse an empty
# one without install_weka_url); data_services_number = 0 (2 there: this module creates no
# data-services instances and refuses any other value); containers_config_map (its default map
# has the same entries here).
module "every_reference_variable" {
  source                                        = "../../"
  lambdas_version                               = "85b38faf2b30019985d15f77f21b44ed"
  lambdas_dist                                  = "dev"
  lambdas_custom_s3_bucket                      = null
  lambdas_custom_s3_key                         = null
  availability_zones                            = []
  subnet_ids                                    = []
  nat_public_subnet_cidr                        = "10.0.2.0/24"
  create_nat_gateway                            = false
  subnets_cidrs                                 = ["10.0.1.0/24"]
  prefix                                        = "weka"
  custom_prefix                                 = {}
  subnet_autocreate_as_private                  = false
  assign_public_ip                              = "auto"
  instance_type                                 = "i3en.2xlarge"
  ami_id                                        = null
  sg_ids                                        = []
  cluster_size                                  = 6
  cluster_name                                  = "poc"
  weka_version                                  = "4.4.2"
  get_weka_io_token                             = var.get_weka_io_token
  get_weka_io_token_secret_id                   = ""
  ssh_public_key                                = null
  key_pair_name                                 = null
  enable_key_pair                               = true
  placement_group_name                          = null
  use_placement_group                           = true
  install_weka_url                              = ""
  tags_map                                      = {}
  set_dedicated_fe_container                    = false
  protection_level                              = 2
  stripe_width                                  = -1
  hotspare                                      = 1
  instance_iam_profile_arn                      = ""
  lambda_iam_role_arn                           = ""
  additional_instance_iam_policy_statement      = null
  vpc_cidr                                      = "10.0.0.0/16"
  allow_ssh_cidrs                               = []
  alb_allow_https_cidrs                         = []
  allow_weka_api_cidrs                          = []
  sg_custom_ingress_rules                       = []
  proxy_url                                     = ""
  dynamodb_table_name                           = ""
  dynamodb_hash_key_name                        = "Key"
  sfn_iam_role_arn                              = ""
  event_iam_role_arn                            = ""
  secretmanager_use_vpc_endpoint                = true
  secretmanager_create_vpc_endpoint             = true
  secretmanager_sg_ids                          = []
  secretmanager_kms_key_id                      = null
  secretmanager_enable_encryption               = false
  backends_weka_volume_size                     = 48
  backends_root_volume_size                     = null
  create_alb                                    = true
  alb_subnet_id                                 = ""
  alb_additional_subnet_id                      = ""
  alb_additional_subnet_cidr_block              = "10.0.3.0/24"
  alb_additional_subnet_zone                    = ""
  alb_cert_arn                                  = null
  alb_alias_name                                = ""
  alb_sg_ids                                    = []
  alb_route53_zone_id                           = ""
  alb_dns_name                                  = null
  tiering_obs_name                              = ""
  tiering_enable_obs_integration                = false
  tiering_enable_ssd_percent                    = 20
  tiering_obs_target_ssd_retention              = 86400
  tiering_obs_start_demote                      = 10
  tiering_obs_iam_bucket_prefix                 = ""
  clients_number                                = 0
  client_instance_type                          = "c5.2xlarge"
  client_instance_iam_profile_arn               = ""
  client_instance_ami_id                        = null
  client_frontend_cores                         = 1
  clients_use_dpdk                              = true
  client_placement_group_name                   = null
  client_use_backends_placement_group           = true
  clients_root_volume_size                      = 48
  clients_use_autoscaling_group                 = false
  clients_custom_data                           = ""
  clients_custom_data_pre_mount                 = ""
  clients_custom_data_post_mount                = ""
  client_arch                                   = null
  client_capacity_reservation_id                = null
  clients_weka_cgroups_mode                     = "force_v2"
  nfs_protocol_gateway_instance_iam_profile_arn = ""
  nfs_protocol_gateways_number                  = 0
  nfs_protocol_gateway_secondary_ips_per_nic    = 3
  nfs_protocol_gateway_instance_type            = "c5n.2xlarge"
  nfs_protocol_gateway_fe_cores_num             = 1
  nfs_protocol_gateway_weka_volume_size         = 48
  nfs_protocol_gateway_root_volume_size         = null
  nfs_setup_protocol                            = true
  nfs_interface_group_name                      = "weka-ig"
  nfs_capacity_reservation_id                   = null
  nfs_protocol_gateway_instance_ami_id          = null
  nfs_protocol_gateway_subnet_id                = null
  nfs_protocol_gateway_weka_cgroups_mode        = "force_v2"
  smb_protocol_gateway_instance_iam_profile_arn = ""
  smb_protocol_gateways_number                  = 0
  smb_protocol_gateway_secondary_ips_per_nic    = 0
  smb_protocol_gateway_instance_type            = "c5n.2xlarge"
  smb_protocol_gateway_fe_cores_num             = 1
  smb_protocol_gateway_weka_volume_size         = 48
  smb_protocol_gateway_root_volume_size         = null
  smb_setup_protocol                            = true
  smbw_enabled                                  = true
  smb_cluster_name                              = "Weka-SMB"
  smb_domain_name                               = ""
  smb_capacity_reservation_id                   = null
  smb_protocol_gateway_instance_ami_id          = null
  smb_protocol_gateway_subnet_id                = null
  smb_protocol_gateway_weka_cgroups_mode        = "force_v2"
  s3_protocol_gateway_fe_cores_num              = 1
  s3_protocol_gateway_instance_iam_profile_arn  = ""
  s3_protocol_gateways_number                   = 0
  s3_protocol_gateway_instance_type             = "c5n.2xlarge"
  s3_protocol_gateway_weka_volume_size          = 48
  s3_protocol_gateway_root_volume_size          = null
  s3_setup_protocol                             = true
  s3_capacity_reservation_id                    = null
  s3_protocol_gateway_instance_ami_id           = null
  weka_home_url                                 = ""
  s3_protocol_gateway_subnet_id                 = null
  s3_protocol_gateway_weka_cgroups_mode         = "force_v2"
  vpc_endpoint_ec2_create                       = false
  vpc_endpoint_s3_gateway_create                = false
  vpc_endpoint_proxy_create                     = false
  vpc_endpoint_lambda_create                    = false
  vpc_endpoint_dynamodb_gateway_create          = false
  vpc_endpoint_autoscaling_create               = false
  metadata_http_tokens                          = "required"
  debug_down_backends_removal_timeout           = "3h"
  custom_data                                   = ""
  install_cluster_dpdk                          = true
  ebs_kms_key_id                                = null
  ebs_encrypted                                 = true
  enable_lambda_vpc_config                      = false
  capacity_reservation_id                       = null
  set_default_fs                                = true
  post_cluster_setup_script                     = ""
  data_services_instance_type                   = "m6i.xlarge"
  data_services_number                          = 0
  data_services_subnet_id                       = null
  data_services_weka_volume_size                = 48
  data_services_instance_ami_id                 = null
  data_services_instance_iam_profile_arn        = ""
  data_services_capacity_reservation_id         = null
  data_services_root_volume_size                = null
  data_services_weka_cgroups_mode               = "force_v2"
  weka_cgroups_mode                             = "force_v2"
}

output "weka_deployment" {
  value = module.weka_deployment.weka_deployment
}

output "public_network" {
  value = module.public_network.weka_deployment
}

output "private_network" {
  value = module.private_network.weka_deployment
}

output "every_reference_variable" {
  value = module.every_reference_variable.weka_deployment
}
