# The reference-style main.tf (../main.tf) plans against this module, unchanged but for
# `source`, with a mocked AWS provider. Run by infra/tests/static.sh.
mock_provider "aws" {
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
  mock_resource "aws_vpc" {
    defaults = { cidr_block = "10.0.0.0/16" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b"] }
  }
  mock_data "aws_subnet" {
    defaults = { vpc_id = "vpc-0mocked", availability_zone = "us-east-1a" }
  }
  mock_data "aws_vpc" {
    defaults = { cidr_block = "10.0.0.0/16" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1", name = "us-east-1" }
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
}

run "the_reference_main_tf_plans" {
  command = plan

  assert {
    condition     = output.weka_deployment.cluster_name == "Prod" && output.weka_deployment.asg_name == "WEKA-Prod-autoscaling-group"
    error_message = "the tutorial's names: <prefix>-<cluster>-autoscaling-group"
  }
  assert {
    condition     = output.weka_deployment.lambda_status_name == "WEKA-Prod-status-lambda" && output.weka_deployment.ssh_user == "ec2-user"
    error_message = "the tutorial's output: status lambda name and ssh user"
  }
  assert {
    condition     = length(output.weka_deployment.client_ips) == 2 && length(output.weka_deployment.smb_protocol_gateways_ips) == 3
    error_message = "two clients and three SMB gateways, as asked"
  }
  assert {
    condition     = output.public_network.local_ssh_private_key == "/tmp/weka-tf-poc-private-key.pem"
    error_message = "the reference example: neither key given, the private key is written locally"
  }
  assert {
    condition     = output.private_network.local_ssh_private_key == null && output.private_network.ips_type == "PrivateIpAddress"
    error_message = "the private network: the given public key, private addresses"
  }
  assert {
    condition     = output.every_reference_variable.asg_name == "weka-poc-autoscaling-group" && output.every_reference_variable.client_ips == null
    error_message = "every reference variable at its default: the reference's default names, no clients"
  }
}
