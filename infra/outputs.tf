locals {
  ips_type = local.assign_public_ip ? "PublicIpAddress" : "PrivateIpAddress"
  cluster_helper_commands = {
    get_ips      = "aws ec2 describe-instances --region ${local.region} --instance-ids $(aws autoscaling describe-auto-scaling-groups --region ${local.region} --auto-scaling-group-names ${local.asg_name} --query \"AutoScalingGroups[].Instances[].InstanceId\" --output text) --query 'Reservations[].Instances[].${local.ips_type}' --output json"
    get_status   = "aws lambda invoke --region ${local.region} --function-name ${aws_lambda_function.this["status"].function_name} --payload '{\"type\": \"status\"}' --cli-binary-format raw-in-base64-out /dev/stdout"
    get_progress = "aws lambda invoke --region ${local.region} --function-name ${aws_lambda_function.this["status"].function_name} --payload '{\"type\": \"progress\"}' --cli-binary-format raw-in-base64-out /dev/stdout"
    get_password = "aws secretsmanager get-secret-value --region ${local.region} --secret-id ${aws_secretsmanager_secret.admin_password.arn} --query SecretString --output text"
    # The seed's self-healing test on AWS: backends have termination protection, so a plain
    # terminate-instances is refused; the control plane then detaches the instance and the group
    # launches its replacement (ReplaceUnhealthy is suspended).
    terminate_instance = "aws ec2 modify-instance-attribute --region ${local.region} --instance-id $INSTANCE_ID --no-disable-api-termination && aws ec2 terminate-instances --region ${local.region} --instance-ids $INSTANCE_ID"
  }
  # The seed's three lines first (IPs, progress, password), then ours; one command per line so
  # each runs as printed.
  cluster_helper_commands_text = join("\n", [
    local.cluster_helper_commands.get_ips,
    local.cluster_helper_commands.get_progress,
    local.cluster_helper_commands.get_password,
    local.cluster_helper_commands.get_status,
    local.cluster_helper_commands.terminate_instance,
  ])
  nfs_ips_cmd = var.nfs_protocol_gateways_number > 0 ? "aws ec2 describe-instances --region ${local.region} --filters Name=tag:aws:autoscaling:groupName,Values=${local.nfs_asg_name} Name=instance-state-name,Values=running --query 'Reservations[].Instances[].${local.ips_type}' --output json" : null
  smb_ips     = var.smb_protocol_gateways_number > 0 ? [for k, i in aws_instance.gateway : (local.assign_public_ip ? i.public_ip : i.private_ip) if startswith(k, "smb-")] : null
  s3_ips      = var.s3_protocol_gateways_number > 0 ? [for k, i in aws_instance.gateway : (local.assign_public_ip ? i.public_ip : i.private_ip) if startswith(k, "s3-")] : null
  client_ips  = var.clients_number > 0 ? [for i in aws_instance.client : (local.assign_public_ip ? i.public_ip : i.private_ip)] : null
}

output "weka_deployment" {
  description = "Summary of the deployment (same shape as the reference module's output)."
  value = {
    alb_dns_name                    = var.create_alb ? coalesce(var.alb_dns_name, aws_lb.this[0].dns_name) : null
    alb_alias_record                = try(aws_route53_record.alb[0].fqdn, null)
    asg_name                        = aws_autoscaling_group.backend.name
    client_ips                      = local.client_ips
    cluster_helper_commands         = local.cluster_helper_commands_text
    cluster_name                    = var.cluster_name
    ips_type                        = local.ips_type
    lambda_status_name              = aws_lambda_function.this["status"].function_name
    local_ssh_private_key           = local.generate_key_pair ? local.ssh_private_key_path : null
    nfs_protocol_gateways_ips       = local.nfs_ips_cmd
    smb_protocol_gateways_ips       = local.smb_ips
    s3_protocol_gateways_ips        = local.s3_ips
    ssh_user                        = "ec2-user"
    weka_cluster_password_secret_id = aws_secretsmanager_secret.admin_password.arn
  }
}

output "cluster_helper_commands" {
  description = "AWS CLI v2 commands, one per line: backend IPs, clusterization progress (status lambda), admin password (the seed's three), then the WEKA status, and the self-healing test (terminate the backend INSTANCE_ID=i-...: clears its termination protection first; the control plane detaches it and the group replaces it)."
  value       = local.cluster_helper_commands_text
}

output "helper_commands" {
  description = "The helper commands by name: get_ips, get_progress, get_password, get_status, terminate_instance."
  value       = local.cluster_helper_commands
}

output "cluster_name" {
  description = "WEKA cluster name."
  value       = var.cluster_name
}

output "ips_type" {
  description = "Which instance IP the helper commands print."
  value       = local.ips_type
}

output "asg_name" {
  description = "Backend Auto Scaling group; change its desired capacity to scale."
  value       = aws_autoscaling_group.backend.name
}

output "lambda_status_name" {
  description = "Name of the status lambda."
  value       = aws_lambda_function.this["status"].function_name
}

output "deploy_lambda_name" {
  description = "Name of the deploy lambda."
  value       = aws_lambda_function.this["deploy"].function_name
}

output "lambda_names" {
  description = "All lambda names by function."
  value       = { for k, f in aws_lambda_function.this : k => f.function_name }
}

output "state_machine_arn" {
  description = "Scale-down state machine."
  value       = aws_sfn_state_machine.scale_down.arn
}

output "state_table_name" {
  description = "DynamoDB state table."
  value       = aws_dynamodb_table.state.name
}

output "control_plane" {
  description = "What the operator's CLI (wekactl-aws) needs to find this deployment: region, the status function, the state table and its keys, the state machine and the backend group. `wekactl-aws --tf-dir <this root>` reads it."
  value = {
    region          = local.region
    status_function = aws_lambda_function.this["status"].function_name
    state_table     = aws_dynamodb_table.state.name
    state_key       = local.state_key
    nfs_state_key   = local.nfs_state_key
    state_machine   = aws_sfn_state_machine.scale_down.arn
    asg_name        = aws_autoscaling_group.backend.name
    cluster_name    = var.cluster_name
  }
}

output "weka_cluster_admin_password_secret_id" {
  description = "Secret holding the WEKA admin password (written at clusterization)."
  value       = aws_secretsmanager_secret.admin_password.arn
}

output "weka_cluster_password_secret_id" {
  description = "Same as weka_cluster_admin_password_secret_id (seed name)."
  value       = aws_secretsmanager_secret.admin_password.arn
}

output "local_ssh_private_key" {
  description = "Path of the generated key pair's private key (mode 0600) when neither key_pair_name nor ssh_public_key is given; null otherwise."
  value       = local.generate_key_pair ? local.ssh_private_key_path : null
}

output "ssh_user" {
  description = "SSH user of the instances."
  value       = "ec2-user"
}

output "alb_dns_name" {
  description = "Name of the internal ALB: alb_dns_name, else the Route 53 alias (alb_alias_name), else the ALB's DNS name; null without an ALB."
  value       = local.alb_dns_name
}

output "placement_group_name" {
  description = "Backend placement group."
  value       = local.placement_group
}

output "vpc_id" {
  description = "VPC of the cluster."
  value       = local.vpc_id
}

output "subnet_ids" {
  description = "Cluster subnet (and ALB subnet)."
  value       = compact([local.cluster_subnet_id, try(local.alb_second_subnet, null)])
}

output "sg_ids" {
  description = "Security groups of the instances."
  value       = local.instance_sg_ids
}

output "client_ips" {
  description = "Client IPs."
  value       = local.client_ips
}

output "client_helper_commands" {
  description = "Command printing the client IPs."
  value       = var.clients_number > 0 ? "aws ec2 describe-instances --region ${local.region} --filters Name=tag:weka_cluster_name,Values=${var.cluster_name} Name=tag:weka_hostgroup_type,Values=client Name=instance-state-name,Values=running --query 'Reservations[].Instances[].${local.ips_type}' --output json" : null
}

output "nfs_protocol_gateways_ips" {
  description = "Command printing the NFS gateway IPs (they live in an ASG)."
  value       = local.nfs_ips_cmd
}

output "nfs_protocol_gateways_name" {
  description = "NFS gateway ASG name."
  value       = var.nfs_protocol_gateways_number > 0 ? local.nfs_asg_name : null
}

output "smb_protocol_gateways_ips" {
  description = "SMB gateway IPs."
  value       = local.smb_ips
}

output "smb_protocol_gateways_name" {
  description = "SMB gateway name prefix."
  value       = var.smb_protocol_gateways_number > 0 ? local.instance_roles["smb"].name : null
}

output "s3_protocol_gateways_ips" {
  description = "S3 gateway IPs."
  value       = local.s3_ips
}

output "s3_protocol_gateways_name" {
  description = "S3 gateway name prefix."
  value       = var.s3_protocol_gateways_number > 0 ? local.instance_roles["s3"].name : null
}

output "pre_terraform_destroy_command" {
  description = "Optional before terraform destroy: stop the scale-down schedule so no execution races the teardown."
  value       = "aws events disable-rule --region ${local.region} --name ${aws_cloudwatch_event_rule.scale_down.name}"
}

output "get_cert_private_key" {
  description = "WEKA's module's name, kept for roots written for it: the command that prints the ALB's self-signed certificate (what WEKA's module's command prints too, from a secret). The private key itself never leaves ACM. null with alb_cert_arn or without an ALB."
  value       = local.self_signed_certificate ? "aws acm get-certificate --region ${local.region} --certificate-arn ${local.alb_certificate_arn} --query Certificate --output text" : null
}
