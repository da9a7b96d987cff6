# SMB and S3 protocol clusters: the settings reach clusterize, the gateways carry the protocol
# tag clusterize finds them by, and what WEKA would refuse at create is refused at plan.

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
    defaults = { name = "us-east-1" }
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

run "smb_and_s3_settings_reach_clusterize" {
  command = plan
  variables {
    smb_protocol_gateways_number = 3
    smb_domain_name              = "corp.example.com"
    smb_cluster_name             = "Prod-SMB"
    s3_protocol_gateways_number  = 1
    s3_setup_protocol            = false
  }
  assert {
    condition = (
      aws_lambda_function.this["clusterize"].environment[0].variables["SMB_SETUP_PROTOCOL"] == "true" &&
      aws_lambda_function.this["clusterize"].environment[0].variables["SMB_CLUSTER_NAME"] == "Prod-SMB" &&
      aws_lambda_function.this["clusterize"].environment[0].variables["SMB_DOMAIN_NAME"] == "corp.example.com" &&
      aws_lambda_function.this["clusterize"].environment[0].variables["SMB_PROTOCOL_GATEWAYS_NUM"] == "3" &&
      aws_lambda_function.this["clusterize"].environment[0].variables["S3_SETUP_PROTOCOL"] == "false" &&
      aws_lambda_function.this["clusterize"].environment[0].variables["S3_PROTOCOL_GATEWAYS_NUM"] == "1"
    )
    error_message = "clusterize gets the four protocol variables and the gateway counts"
  }
  assert {
    condition = (
      alltrue([for k, i in aws_instance.gateway : i.tags["protocol"] == (startswith(k, "smb-") ? "SMB" : "S3")]) &&
      length(aws_instance.gateway) == 4
    )
    error_message = "each SMB / S3 gateway carries the reference's protocol tag"
  }
}

run "smb_setup_without_a_domain_is_refused" {
  command = plan
  variables {
    smb_protocol_gateways_number = 3
  }
  expect_failures = [aws_instance.gateway]
}

run "smb_gateways_without_setup_need_no_domain" {
  command = plan
  variables {
    smb_protocol_gateways_number = 3
    smb_setup_protocol           = false
  }
  assert {
    condition     = aws_lambda_function.this["clusterize"].environment[0].variables["SMB_SETUP_PROTOCOL"] == "false"
    error_message = "the gateways stay plain frontends"
  }
}

run "s3_setup_without_the_default_filesystem_is_refused" {
  command = plan
  variables {
    s3_protocol_gateways_number = 1
    set_default_fs              = false
  }
  expect_failures = [aws_instance.gateway]
}
