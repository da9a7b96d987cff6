###############################################################################
# Migration from WEKA's module (weka/terraform-aws-weka): switching a `module` block's source
# from the reference to this module keeps the running cluster. README "Migrating from WEKA's
# module" has the address table and the steps; the migration e2e (tests/localcloud/migration.py)
# applies a stand-in of the reference to the local cloud, switches the source and fails on any
# deleted or replaced ASG, instance, secret or table, then adopts, scales out and self-heals.
#
#   moved   - same resource type and the same job here: Terraform carries the object over and
#             updates it in place. Where the reference's name differs from ours and the name
#             forces replacement (launch templates, secrets, instance role and profile, log
#             groups), the resource ignores changes of its name (see the lifecycle blocks), so a
#             carried-over object keeps its name and a fresh deployment still gets ours.
#   removed - no counterpart here, or one that cannot take the object over, and destroying it
#             would lose data or break what still runs: Terraform forgets it and leaves it in
#             AWS (README lists what to clean up by hand afterwards).
#   neither - everything else of the reference (its Go lambdas' single role and policies,
#             join-nfs-finalization and management functions and their log groups, the
#             EventBridge role, the state machine's managed policy, the lambda permissions for
#             EventBridge) is destroyed by the first apply; ours replaces it.
#
# A moved block whose source is not in the state is a no-op, so these blocks cost nothing on a
# fresh deployment.
###############################################################################

# --- Backends ----------------------------------------------------------------
moved {
  from = aws_autoscaling_group.autoscaling_group
  to   = aws_autoscaling_group.backend
}

moved {
  from = aws_launch_template.launch_template
  to   = aws_launch_template.this["backend"]
}

moved {
  from = aws_placement_group.placement_group
  to   = aws_placement_group.this
}

# The reference's key pair holds the public half of a tls_private_key (or of ssh_public_key).
# Here a generated pair is EC2's own (terraform_data.generated_key_pair, which keeps an existing
# pair of the same name whose private key file is there): forget the pair, never delete it (the
# launch template names it). With ssh_public_key, import it into aws_key_pair.this (README).
removed {
  from = aws_key_pair.generated_key
  lifecycle {
    destroy = false
  }
}

# No AWS object behind these; destroying local_file would delete the private key file the
# operator logs in with. Forgotten; the providers come from the state at `terraform init`.
removed {
  from = local_file.private_key
  lifecycle {
    destroy = false
  }
}

removed {
  from = local_file.public_key
  lifecycle {
    destroy = false
  }
}

removed {
  from = tls_private_key.key
  lifecycle {
    destroy = false
  }
}

removed {
  from = random_password.suffix
  lifecycle {
    destroy = false
  }
}

# The reference's EBS key (created by default, ebs_encrypted = true): every backend volume is
# encrypted with it, so deleting it would make them unreadable. Forgotten; pass its ARN as
# ebs_kms_key_id to keep new volumes on it.
removed {
  from = aws_kms_key.kms_key
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_kms_alias.kms_alias
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_kms_key_policy.kms_key_policy
  lifecycle {
    destroy = false
  }
}

# --- Secrets (values kept: the objects are carried over, names ignored) --------
moved {
  from = aws_secretsmanager_secret.get_weka_io_token
  to   = aws_secretsmanager_secret.token
}

moved {
  from = aws_secretsmanager_secret_version.get_weka_io_token
  to   = aws_secretsmanager_secret_version.token
}

moved {
  from = aws_secretsmanager_secret.weka_username
  to   = aws_secretsmanager_secret.username
}

moved {
  from = aws_secretsmanager_secret_version.weka_username
  to   = aws_secretsmanager_secret_version.username
}

moved {
  from = aws_secretsmanager_secret.weka_password
  to   = aws_secretsmanager_secret.admin_password
}

moved {
  from = aws_secretsmanager_secret.weka_deployment_password
  to   = aws_secretsmanager_secret.deployment_password
}

moved {
  from = module.secrets_kms[0].aws_kms_key.kms_key
  to   = aws_kms_key.secrets[0]
}

moved {
  from = module.secrets_kms[0].aws_kms_alias.kms_alias
  to   = aws_kms_alias.secrets[0]
}

# The key's policy is inline here (aws_kms_key.secrets); destroying the separate policy
# resource would reset the key's policy. Forgotten; the key's update writes ours.
removed {
  from = module.secrets_kms.aws_kms_key_policy.kms_key_policy
  lifecycle {
    destroy = false
  }
}

# The reference's self-signed certificate (its key in the reference's Terraform state) is not
# carried over: without alb_cert_arn the listeners move to the one this module's certificate
# function makes. Forgotten, not destroyed: the listeners use it until they switch (ACM refuses
# to delete it before); delete it afterwards (MIGRATION.md).
removed {
  from = module.self_signed_certificate
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_secretsmanager_secret.self_signed_certificate_private_key
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_secretsmanager_secret_version.self_signed_certificate_private_key
  lifecycle {
    destroy = false
  }
}

# --- State table: replaced by design (hash key `Key` + `Locked`/`Value` there, `pk`/`sk`
# items here; ours is <db prefix>-<cluster>-weka-state). The reference's table and its items are
# forgotten, never destroyed: the cluster's state stays readable for adoption.
removed {
  from = aws_dynamodb_table.weka_deployment
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_dynamodb_table_item.weka_deployment_state
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_dynamodb_table_item.weka_deployment_nfs_state
  lifecycle {
    destroy = false
  }
}

# --- Lambdas: same function names, so they must be carried over (a new function of the same
# name cannot be created beside the old one); code, role and settings are updated in place. ----
moved {
  from = aws_lambda_function.deploy_lambda
  to   = aws_lambda_function.this["deploy"]
}

moved {
  from = aws_lambda_function.clusterize_lambda
  to   = aws_lambda_function.this["clusterize"]
}

moved {
  from = aws_lambda_function.clusterize_finalization_lambda
  to   = aws_lambda_function.this["clusterize-finalization"]
}

moved {
  from = aws_lambda_function.report_lambda
  to   = aws_lambda_function.this["report"]
}

moved {
  from = aws_lambda_function.status_lambda
  to   = aws_lambda_function.this["status"]
}

moved {
  from = aws_lambda_function.fetch_lambda
  to   = aws_lambda_function.this["fetch"]
}

moved {
  from = aws_lambda_function.scale_down_lambda
  to   = aws_lambda_function.this["scale-down"]
}

moved {
  from = aws_lambda_function.terminate_lambda
  to   = aws_lambda_function.this["terminate"]
}

moved {
  from = aws_lambda_function.transient_lambda
  to   = aws_lambda_function.this["transient"]
}

# The reference's log groups are count-indexed over its function names in lexical order
# (toset): 0 clusterize, 1 clusterize-finalization, 2 deploy, 3 fetch, 4 join-nfs-finalization,
# 5 management, 6 report, 7 scale-down, 8 status, 9 terminate, 10 transient. 4 and 5 have no
# function here and are destroyed with their functions.
moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[0]
  to   = aws_cloudwatch_log_group.lambda["clusterize"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[1]
  to   = aws_cloudwatch_log_group.lambda["clusterize-finalization"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[2]
  to   = aws_cloudwatch_log_group.lambda["deploy"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[3]
  to   = aws_cloudwatch_log_group.lambda["fetch"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[6]
  to   = aws_cloudwatch_log_group.lambda["report"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[7]
  to   = aws_cloudwatch_log_group.lambda["scale-down"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[8]
  to   = aws_cloudwatch_log_group.lambda["status"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[9]
  to   = aws_cloudwatch_log_group.lambda["terminate"]
}

moved {
  from = aws_cloudwatch_log_group.lambdas_log_group[10]
  to   = aws_cloudwatch_log_group.lambda["transient"]
}

# --- Scale-down state machine and its schedule (same names) ------------------
moved {
  from = aws_sfn_state_machine.scale_down_state_machine
  to   = aws_sfn_state_machine.scale_down
}

moved {
  from = aws_cloudwatch_log_group.sfn_log_group
  to   = aws_cloudwatch_log_group.sfn
}

moved {
  from = aws_cloudwatch_event_rule.event_rule
  to   = aws_cloudwatch_event_rule.scale_down
}

moved {
  from = aws_cloudwatch_event_target.step_function_event_target
  to   = aws_cloudwatch_event_target.scale_down
}

# --- ALB ---------------------------------------------------------------------
moved {
  from = aws_lb.alb
  to   = aws_lb.this
}

moved {
  from = aws_lb_listener.lb_weka_listener
  to   = aws_lb_listener.api
}

# 443: kept with alb_cert_arn; without it this module has no 443 listener and it is destroyed.
moved {
  from = aws_lb_listener.lb_listener
  to   = aws_lb_listener.https
}

moved {
  from = aws_route53_record.lb_record
  to   = aws_route53_record.alb
}

# The reference's target group is HTTPS, ours HTTP (protocol and name force a new one), and it
# is in use by the listeners and the ASG until they move to ours: forgotten, the ASG's update
# detaches it (target_group_arns), delete it by hand afterwards. Same for the attachment.
removed {
  from = aws_lb_target_group.alb_target_group
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_autoscaling_attachment.alb_autoscaling_attachment
  lifecycle {
    destroy = false
  }
}

# --- Network (module.network, default layout: public subnets, no NAT) --------
# With subnet_autocreate_as_private or create_nat_gateway the reference numbers its subnets
# differently (README: move those with `terraform state mv`).
moved {
  from = module.network[0].aws_vpc.vpc
  to   = aws_vpc.this[0]
}

moved {
  from = module.network[0].aws_subnet.public_subnet[0]
  to   = aws_subnet.cluster[0]
}

moved {
  from = module.network[0].aws_subnet.public_subnet[1]
  to   = aws_subnet.alb[0]
}

moved {
  from = module.network[0].aws_internet_gateway.ig[0]
  to   = aws_internet_gateway.this[0]
}

moved {
  from = module.network[0].aws_route_table.ig_route_table[0]
  to   = aws_route_table.public[0]
}

moved {
  from = module.network[0].aws_route_table_association.public_rt_associate[0]
  to   = aws_route_table_association.cluster_public[0]
}

moved {
  from = module.network[0].aws_route_table_association.public_rt_associate[1]
  to   = aws_route_table_association.alb[0]
}

moved {
  from = module.security_group[0].aws_security_group.sg
  to   = aws_security_group.cluster[0]
}

moved {
  from = aws_vpc_endpoint.secretmanager_endpoint[0]
  to   = aws_vpc_endpoint.interface["secretsmanager"]
}

moved {
  from = module.vpc_endpoint[0].aws_vpc_endpoint.ec2_endpoint[0]
  to   = aws_vpc_endpoint.interface["ec2"]
}

moved {
  from = module.vpc_endpoint[0].aws_vpc_endpoint.lambda_endpoint[0]
  to   = aws_vpc_endpoint.interface["lambda"]
}

moved {
  from = module.vpc_endpoint[0].aws_vpc_endpoint.autoscaling_endpoint[0]
  to   = aws_vpc_endpoint.interface["autoscaling"]
}

moved {
  from = module.vpc_endpoint[0].aws_vpc_endpoint.s3_gateway_endpoint[0]
  to   = aws_vpc_endpoint.gateway["s3"]
}

moved {
  from = module.vpc_endpoint[0].aws_vpc_endpoint.dynamodb_endpoint_gtw[0]
  to   = aws_vpc_endpoint.gateway["dynamodb"]
}

# WEKA's proxy endpoint (vpc_endpoint_proxy_create) has no counterpart: forgotten, so
# instances using proxy_url keep reaching it.
removed {
  from = module.vpc_endpoint.aws_vpc_endpoint.proxy_endpoint
  lifecycle {
    destroy = false
  }
}

# --- IAM (module.iam) ---------------------------------------------------------
# The running backends carry the instance profile: it and its role are carried over (names
# ignored); our inline policy is added. The reference's managed policies stay attached until
# removed by hand (README), so the instances never lose a permission during the switch.
moved {
  from = module.iam[0].aws_iam_role.iam_role
  to   = aws_iam_role.backend[0]
}

moved {
  from = module.iam[0].aws_iam_instance_profile.instance_profile
  to   = aws_iam_instance_profile.backend[0]
}

moved {
  from = module.iam[0].aws_iam_role_policy_attachment.ec2_ssm_attachment
  to   = aws_iam_role_policy_attachment.backend_ssm[0]
}

removed {
  from = module.iam.aws_iam_policy.backend_eni_iam_policy
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy.backend_obs_iam_policy
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy.additional
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy.invoke_lambda_function
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy.backend_log_iam_policy
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy_attachment.backend_eni_role_attachment
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy_attachment.backend_obs_role_attachment
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy_attachment.additional
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy_attachment.backend_log_role_attachment
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.iam.aws_iam_policy_attachment.invoke_lambda_function_attachment
  lifecycle {
    destroy = false
  }
}

# Same name here (<iam prefix>-<cluster>-sfn-role): carried over. Its managed policy (which also
# lets the state machine invoke fetch) is destroyed; ours is inline.
moved {
  from = module.iam[0].aws_iam_role.sfn_iam_role
  to   = aws_iam_role.sfn[0]
}

# --- Protocol gateways and clients -------------------------------------------
# NFS: the group has our name (<ec2 prefix>-<cluster>-nfs-protocol-gateway) and holds cluster
# members: carried over with its launch template. Its own role, profile and placement group are
# used by the running gateways: forgotten.
moved {
  from = module.nfs_protocol_gateways[0].aws_autoscaling_group.autoscaling_group[0]
  to   = aws_autoscaling_group.nfs[0]
}

moved {
  from = module.nfs_protocol_gateways[0].aws_launch_template.this
  to   = aws_launch_template.this["nfs"]
}

removed {
  from = module.nfs_protocol_gateways.aws_placement_group.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_instance_profile.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_role.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy.ec2
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy.logging
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy.autoscaling
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy.invoke_lambda_function
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy_attachment.ec2
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy_attachment.logging
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy_attachment.autoscaling
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_policy_attachment.lambda_invoke
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.nfs_protocol_gateways.aws_iam_role_policy_attachment.ec2_ssm_attachment
  lifecycle {
    destroy = false
  }
}

# SMB and S3 gateways, clients and data services are plain instances (or a client ASG) built
# from the reference's own launch templates; this module builds them differently, and carrying
# them over could replace them. They are forgotten, never destroyed: README says how to keep
# or retire them.
removed {
  from = module.smb_protocol_gateways
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.s3_protocol_gateways
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.clients
  lifecycle {
    destroy = false
  }
}

removed {
  from = module.data_services
  lifecycle {
    destroy = false
  }
}
