###############################################################################
# Backends, protocol gateways: instance role, launch templates, ASGs.
###############################################################################
# Default AMIs: the latest Amazon Linux 2023 (ami_name_filter) of each architecture in use: arm64
# for Graviton instance types (i8ge, c7g, m6g, ...), x86_64 otherwise; one lookup per
# architecture some instance without its own AMI id needs.
locals {
  # Graviton families put a "g" right after the generation digit (i8ge, c7g, m6gd, c6gn, im4gn,
  # hpc7g), plus the first-generation a1.
  instance_arch = { for t in distinct(compact([
    var.instance_type, var.nfs_protocol_gateway_instance_type, var.smb_protocol_gateway_instance_type,
    var.s3_protocol_gateway_instance_type, var.client_instance_type,
  ])) : t => can(regex("^(a1|[a-z]+[0-9]+g[a-z]*)[.]", t)) ? "arm64" : "x86_64" }
  client_arch = var.client_arch != null ? var.client_arch : local.instance_arch[var.client_instance_type]
  default_ami_arches = toset(concat(
    [for k, r in local.instance_roles : local.instance_arch[r.instance_type] if r.ami == null],
    var.clients_number > 0 && var.client_instance_ami_id == null ? [local.client_arch] : [],
  ))
}

data "aws_ami" "default" {
  for_each    = local.default_ami_arches
  most_recent = true
  owners      = ["amazon"]
  filter {
    name   = "name"
    values = [var.ami_name_filter]
  }
  filter {
    name   = "architecture"
    values = [each.key]
  }
}

resource "aws_key_pair" "this" {
  count      = var.enable_key_pair && var.key_pair_name == null && var.ssh_public_key != null ? 1 : 0
  key_name   = "${local.p.ec2}-${var.cluster_name}-ssh-key"
  public_key = var.ssh_public_key
  tags       = local.common_tags
}

resource "aws_placement_group" "this" {
  count    = var.use_placement_group && var.placement_group_name == null ? 1 : 0
  name     = "${local.p.ec2}-${var.cluster_name}-placement-group"
  strategy = "cluster"
  tags     = local.common_tags
}

# Neither a key pair nor a public key given: EC2 generates one at apply, through the AWS CLI of
# the machine that applies (no provider here can write a file or make a key without putting the
# private key in the state); the private key is written 0600 to ssh_private_key_path only.
resource "terraform_data" "generated_key_pair" {
  count = local.generate_key_pair ? 1 : 0
  input = {
    key_name = "${local.p.ec2}-${var.cluster_name}-ssh-key"
    path     = local.ssh_private_key_path
    region   = local.region
    script   = "${path.module}/scripts/ssh-key-pair.sh"
  }

  provisioner "local-exec" {
    command = "bash '${self.input.script}' create '${self.input.key_name}' '${self.input.path}' '${self.input.region}' '${var.cluster_name}'"
  }

  provisioner "local-exec" {
    when       = destroy
    on_failure = continue
    command    = "bash '${self.input.script}' delete '${self.input.key_name}' '${self.input.path}' '${self.input.region}'"
  }
}

locals {
  # The key name comes from the resource's input (known at plan); referring to it still orders the
  # launch template after the key pair's creation.
  generate_key_pair    = var.enable_key_pair && var.key_pair_name == null && var.ssh_public_key == null
  ssh_private_key_path = coalesce(var.ssh_private_key_path, "/tmp/${var.prefix}-${var.cluster_name}-private-key.pem")
  key_name = var.enable_key_pair ? try(coalesce(
    var.key_pair_name, try(aws_key_pair.this[0].key_name, null), try(terraform_data.generated_key_pair[0].input.key_name, null)
  ), null) : null

  # One launch template per role; gateways only when requested.
  instance_roles = merge(
    {
      backend = {
        hostgroup     = "backend"
        protocol      = ""
        instance_type = var.instance_type
        ami           = var.ami_id
        profile       = local.instance_profile
        weka_volume   = var.backends_weka_volume_size + 10 * (local.nics_num - 1)
        root_volume   = var.backends_root_volume_size
        capacity_res  = var.capacity_reservation_id
        secondary_ips = 0
        nics_num      = local.nics_num
        placement     = local.placement_group
        name          = local.backend_name
        subnet        = local.cluster_subnet_id
      }
    },
    var.nfs_protocol_gateways_number > 0 ? {
      nfs = {
        hostgroup     = "gateways-protocol"
        protocol      = "nfs"
        instance_type = var.nfs_protocol_gateway_instance_type
        ami           = var.nfs_protocol_gateway_instance_ami_id
        profile       = var.nfs_protocol_gateway_instance_iam_profile_arn != "" ? var.nfs_protocol_gateway_instance_iam_profile_arn : local.instance_profile
        weka_volume   = var.nfs_protocol_gateway_weka_volume_size
        root_volume   = var.nfs_protocol_gateway_root_volume_size
        capacity_res  = var.nfs_capacity_reservation_id
        secondary_ips = var.nfs_protocol_gateway_secondary_ips_per_nic
        nics_num      = var.nfs_protocol_gateway_fe_cores_num + 1
        placement     = null
        name          = "${local.p.ec2}-${var.cluster_name}-nfs-protocol-gateway"
        subnet        = coalesce(var.nfs_protocol_gateway_subnet_id, local.cluster_subnet_id)
      }
    } : {},
    var.smb_protocol_gateways_number > 0 ? {
      smb = {
        hostgroup     = "gateways-protocol"
        protocol      = var.smbw_enabled ? "smbw" : "smb"
        instance_type = var.smb_protocol_gateway_instance_type
        ami           = var.smb_protocol_gateway_instance_ami_id
        profile       = var.smb_protocol_gateway_instance_iam_profile_arn != "" ? var.smb_protocol_gateway_instance_iam_profile_arn : local.instance_profile
        weka_volume   = var.smb_protocol_gateway_weka_volume_size
        root_volume   = var.smb_protocol_gateway_root_volume_size
        capacity_res  = var.smb_capacity_reservation_id
        secondary_ips = var.smb_protocol_gateway_secondary_ips_per_nic
        nics_num      = var.smb_protocol_gateway_fe_cores_num + 1
        placement     = null
        name          = "${local.p.ec2}-${var.cluster_name}-smb-protocol-gateway"
        subnet        = coalesce(var.smb_protocol_gateway_subnet_id, local.cluster_subnet_id)
      }
    } : {},
    var.s3_protocol_gateways_number > 0 ? {
      s3 = {
        hostgroup     = "gateways-protocol"
        protocol      = "s3"
        instance_type = var.s3_protocol_gateway_instance_type
        ami           = var.s3_protocol_gateway_instance_ami_id
        profile       = var.s3_protocol_gateway_instance_iam_profile_arn != "" ? var.s3_protocol_gateway_instance_iam_profile_arn : local.instance_profile
        weka_volume   = var.s3_protocol_gateway_weka_volume_size
        root_volume   = var.s3_protocol_gateway_root_volume_size
        capacity_res  = var.s3_capacity_reservation_id
        secondary_ips = 0
        nics_num      = var.s3_protocol_gateway_fe_cores_num + 1
        placement     = null
        name          = "${local.p.ec2}-${var.cluster_name}-s3-protocol-gateway"
        subnet        = coalesce(var.s3_protocol_gateway_subnet_id, local.cluster_subnet_id)
      }
    } : {},
  )
}

###############################################################################
# Instance role: invoke the bootstrap lambdas, read the token, manage own NICs.
###############################################################################
data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backend" {
  count              = var.instance_iam_profile_arn == "" ? 1 : 0
  name               = substr("${local.iam_base}-backend-instance-role", 0, 64)
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = local.common_tags

  # Carried over from WEKA's module with its name (running instances use it; migration.tf).
  lifecycle {
    ignore_changes = [name, name_prefix]
  }
}

resource "aws_iam_role_policy" "backend" {
  # checkov:skip=CKV_AWS_290:Only ec2:DescribeNetworkInterfaces (no resource-level support) uses "*"; NIC creation is scoped to the cluster's subnets, security groups and tag, attach/modify to cluster-tagged NICs and instances.
  # checkov:skip=CKV_AWS_355:Same as CKV_AWS_290.
  count = length(aws_iam_role.backend)
  name  = "weka-backend"
  role  = aws_iam_role.backend[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "InvokeBootstrapLambdas"
          Effect   = "Allow"
          Action   = ["lambda:InvokeFunction"]
          Resource = [for f in local.bootstrap_functions : aws_lambda_function.this[f].arn]
        },
        {
          Sid      = "ReadWekaIoToken"
          Effect   = "Allow"
          Action   = ["secretsmanager:GetSecretValue"]
          Resource = [local.token_secret_arn]
        },
        {
          Sid      = "DescribeNics"
          Effect   = "Allow"
          Action   = ["ec2:DescribeNetworkInterfaces"]
          Resource = ["*"]
        },
        {
          # The DPDK NICs: created in the cluster's subnet with the cluster's security groups,
          # tagged weka_cluster_name at creation (the tag the attach statement requires).
          Sid       = "CreateClusterNics"
          Effect    = "Allow"
          Action    = ["ec2:CreateNetworkInterface"]
          Resource  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
          Condition = { StringEquals = { "aws:RequestTag/weka_cluster_name" = var.cluster_name } }
        },
        {
          Sid    = "CreateNicsInTheClusterSubnet"
          Effect = "Allow"
          Action = ["ec2:CreateNetworkInterface"]
          Resource = concat(
            [for id in distinct(concat([local.cluster_subnet_id], var.subnet_ids, [for r in local.instance_roles : r.subnet])) : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:subnet/${id}"],
            [for id in local.instance_sg_ids : "arn:${local.partition}:ec2:${local.region}:${local.account_id}:security-group/${id}"],
          )
        },
        {
          Sid       = "TagNewNics"
          Effect    = "Allow"
          Action    = ["ec2:CreateTags"]
          Resource  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*"]
          Condition = { StringEquals = { "ec2:CreateAction" = "CreateNetworkInterface" } }
        },
        {
          # Attach a cluster NIC to a cluster instance and set it to go with the instance; both
          # resources carry weka_cluster_name. (No delete, no IP reassignment: no script needs them.)
          Sid       = "AttachClusterNics"
          Effect    = "Allow"
          Action    = ["ec2:AttachNetworkInterface", "ec2:ModifyNetworkInterfaceAttribute"]
          Resource  = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:network-interface/*", "arn:${local.partition}:ec2:${local.region}:${local.account_id}:instance/*"]
          Condition = { StringEquals = { "aws:ResourceTag/weka_cluster_name" = var.cluster_name } }
        },
        {
          Sid      = "WekaLogs"
          Effect   = "Allow"
          Action   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:PutRetentionPolicy"]
          Resource = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/wekaio/${local.p.ec2}-${var.cluster_name}*"]
        },
      ],
      local.secrets_kms_key_arn == null ? [] : [{
        Sid      = "DecryptToken"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = [local.secrets_kms_key_arn]
      }],
      var.tiering_enable_obs_integration ? [{
        Sid      = "TieringBucket"
        Effect   = "Allow"
        Action   = ["s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject"]
        Resource = ["arn:${local.partition}:s3:::${var.tiering_obs_iam_bucket_prefix != "" ? var.tiering_obs_iam_bucket_prefix : local.obs_name}*"]
      }] : [],
      var.additional_instance_iam_policy_statement == null ? [] : var.additional_instance_iam_policy_statement,
    )
  })
}

resource "aws_iam_role_policy_attachment" "backend_ssm" {
  count      = var.attach_ssm_policy ? length(aws_iam_role.backend) : 0
  role       = aws_iam_role.backend[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "backend" {
  count = length(aws_iam_role.backend)
  name  = substr("${local.iam_base}-backend-instance-profile", 0, 128)
  role  = aws_iam_role.backend[0].name
  tags  = local.common_tags

  # Carried over from WEKA's module with its name (running instances use it; migration.tf).
  lifecycle {
    ignore_changes = [name, name_prefix]
  }
}

###############################################################################
# Launch templates
###############################################################################
resource "aws_launch_template" "this" {
  for_each                = local.instance_roles
  name                    = "${local.p.ec2}-${var.cluster_name}-${each.key}-launch-template"
  image_id                = each.value.ami != null ? each.value.ami : data.aws_ami.default[local.instance_arch[each.value.instance_type]].id
  instance_type           = each.value.instance_type
  key_name                = local.key_name
  ebs_optimized           = true
  disable_api_termination = true
  disable_api_stop        = true
  update_default_version  = true

  iam_instance_profile {
    arn = each.value.profile
  }

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = var.metadata_http_tokens
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  monitoring {
    enabled = true
  }

  network_interfaces {
    device_index                = 0
    subnet_id                   = each.value.subnet # the ASGs override it with vpc_zone_identifier
    associate_public_ip_address = local.assign_public_ip
    security_groups             = local.instance_sg_ids
    delete_on_termination       = true
    ipv4_address_count          = each.value.secondary_ips > 0 ? each.value.secondary_ips : null
  }

  dynamic "placement" {
    for_each = each.value.placement != null ? [1] : []
    content {
      group_name = each.value.placement
    }
  }

  dynamic "capacity_reservation_specification" {
    for_each = each.value.capacity_res != null ? [1] : []
    content {
      capacity_reservation_target {
        capacity_reservation_id = each.value.capacity_res
      }
    }
  }

  dynamic "block_device_mappings" {
    for_each = each.value.root_volume != null ? [1] : []
    content {
      device_name = var.root_device_name
      ebs {
        volume_size           = each.value.root_volume
        volume_type           = "gp3"
        encrypted             = var.ebs_encrypted
        kms_key_id            = var.ebs_kms_key_id
        delete_on_termination = true
      }
    }
  }

  # /opt/weka
  block_device_mappings {
    device_name = "/dev/sdp"
    ebs {
      volume_size           = each.value.weka_volume
      volume_type           = "gp3"
      encrypted             = var.ebs_encrypted
      kms_key_id            = var.ebs_kms_key_id
      delete_on_termination = true
    }
  }

  dynamic "tag_specifications" {
    for_each = toset(["instance", "volume", "network-interface"])
    content {
      resource_type = tag_specifications.value
      # Gateways also carry the reference's `protocol` tag (NFS, SMB, S3): clusterize finds the
      # SMB / S3 gateways a protocol cluster is created on by it.
      tags = merge(local.common_tags, {
        Name                = each.value.name
        weka_hostgroup_type = each.value.hostgroup
      }, each.value.hostgroup == "gateways-protocol" ? { protocol = upper(each.key) } : {})
    }
  }

  user_data = base64encode(templatefile("${path.module}/templates/user_data.sh.tftpl", {
    cluster_name       = var.cluster_name
    region             = local.region
    protocol           = each.value.protocol
    deploy_lambda_name = aws_lambda_function.this["deploy"].function_name
    nics_num           = each.value.nics_num
    proxy_url          = var.proxy_url
    custom_data        = var.custom_data
  }))

  tags = local.common_tags

  # A template carried over from WEKA's module keeps its name (migration.tf).
  lifecycle {
    ignore_changes = [name, name_prefix]
  }
}

###############################################################################
# Backend ASG: scale by editing its desired capacity.
###############################################################################
resource "aws_autoscaling_group" "backend" {
  name                  = local.asg_name
  desired_capacity      = var.cluster_size
  min_size              = var.cluster_size
  max_size              = 7 * var.cluster_size
  vpc_zone_identifier   = [local.cluster_subnet_id]
  protect_from_scale_in = true
  suspended_processes   = ["ReplaceUnhealthy"]
  target_group_arns     = aws_lb_target_group.backend[*].arn
  force_delete          = true # instances are scale-in protected; destroy must still remove them

  # New instances wait in Pending:Wait until the cluster forms: Terraform must not wait for them.
  wait_for_capacity_timeout = var.launch_lifecycle_hook_enabled ? "0" : null

  launch_template {
    id      = aws_launch_template.this["backend"].id
    version = aws_launch_template.this["backend"].latest_version
  }

  # The initial instances launch with the group, before a separate hook resource exists: they
  # get the hooks here. A change of this block would replace the group, so changes are ignored
  # and made by aws_autoscaling_lifecycle_hook.backend (same names) instead.
  dynamic "initial_lifecycle_hook" {
    for_each = local.backend_hooks
    content {
      name                 = initial_lifecycle_hook.value.name
      lifecycle_transition = initial_lifecycle_hook.value.transition
      default_result       = initial_lifecycle_hook.value.default_result
      heartbeat_timeout    = initial_lifecycle_hook.value.heartbeat_timeout
    }
  }

  dynamic "tag" {
    for_each = merge(local.common_tags, { weka_hostgroup_type = "backend" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    ignore_changes = [desired_capacity, min_size, max_size, initial_lifecycle_hook]
  }

  # Instances call the lambdas and read the state items at first boot.
  depends_on = [aws_dynamodb_table_item.initial_state, aws_iam_role_policy.backend, aws_lambda_function.this]
}

###############################################################################
# Lifecycle hooks of the backend ASG (answered by the control plane; see README)
#   launch:    held until the instance joined (the first cluster_size: until the cluster
#              formed); default ABANDON, so a silent instance is replaced.
#   terminate: held while WEKA deactivates an instance the ASG terminates on its own;
#              default CONTINUE, so the hook never blocks past its timeout.
###############################################################################
locals {
  backend_hooks = merge(
    var.launch_lifecycle_hook_enabled ? {
      launch = {
        name              = local.launch_hook_name
        transition        = "autoscaling:EC2_INSTANCE_LAUNCHING"
        default_result    = "ABANDON"
        heartbeat_timeout = var.launch_heartbeat_timeout
      }
    } : {},
    var.terminate_lifecycle_hook_enabled ? {
      terminate = {
        name              = local.terminate_hook_name
        transition        = "autoscaling:EC2_INSTANCE_TERMINATING"
        default_result    = "CONTINUE"
        heartbeat_timeout = var.terminate_heartbeat_timeout
      }
    } : {},
  )
}

resource "aws_autoscaling_lifecycle_hook" "backend" {
  for_each               = local.backend_hooks
  name                   = each.value.name
  autoscaling_group_name = aws_autoscaling_group.backend.name
  lifecycle_transition   = each.value.transition
  default_result         = each.value.default_result
  heartbeat_timeout      = each.value.heartbeat_timeout
}

###############################################################################
# NFS gateways (ASG), SMB / S3 gateways (instances)
###############################################################################
resource "aws_autoscaling_group" "nfs" {
  count                 = var.nfs_protocol_gateways_number > 0 ? 1 : 0
  name                  = local.nfs_asg_name
  desired_capacity      = var.nfs_protocol_gateways_number
  min_size              = var.nfs_protocol_gateways_number
  max_size              = var.nfs_protocol_gateways_number
  vpc_zone_identifier   = [local.instance_roles["nfs"].subnet]
  protect_from_scale_in = true
  suspended_processes   = ["ReplaceUnhealthy"]
  force_delete          = true

  launch_template {
    id      = aws_launch_template.this["nfs"].id
    version = aws_launch_template.this["nfs"].latest_version
  }

  dynamic "tag" {
    for_each = merge(local.common_tags, { weka_hostgroup_type = "gateways-protocol" })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = false
    }
  }

  lifecycle {
    ignore_changes = [desired_capacity, min_size, max_size]
  }

  depends_on = [aws_autoscaling_group.backend]
}

locals {
  gateway_instances = merge(
    { for i in range(var.smb_protocol_gateways_number) : "smb-${i}" => "smb" },
    { for i in range(var.s3_protocol_gateways_number) : "s3-${i}" => "s3" },
  )
}

resource "aws_instance" "gateway" {
  # checkov:skip=CKV_AWS_8:EBS encryption is set in the launch template (ebs_encrypted).
  # checkov:skip=CKV_AWS_79:IMDSv2 is required by the launch template (metadata_http_tokens).
  # checkov:skip=CKV_AWS_126:Detailed monitoring is enabled in the launch template.
  # checkov:skip=CKV_AWS_135:EBS optimisation is enabled in the launch template.
  # checkov:skip=CKV2_AWS_41:The instance profile comes from the launch template.
  for_each = local.gateway_instances

  launch_template {
    id      = aws_launch_template.this[each.value].id
    version = aws_launch_template.this[each.value].latest_version
  }

  tags = merge(local.common_tags, {
    Name                = "${local.instance_roles[each.value].name}-${each.key}"
    weka_hostgroup_type = "gateways-protocol"
    protocol            = upper(each.value)
  })

  # The launch template owns the user data; the instance never sets it (the provider planned a
  # new user_data hash for every gateway on each plan).
  lifecycle {
    ignore_changes = [launch_template, user_data, user_data_base64]
    # What WEKA would refuse at `weka smb|s3 cluster create`, refused at plan instead.
    precondition {
      condition     = each.value != "smb" || !var.smb_setup_protocol || var.smb_domain_name != ""
      error_message = "smb_domain_name must be set when smb_setup_protocol creates the SMB cluster."
    }
    precondition {
      condition     = each.value != "s3" || !var.s3_setup_protocol || var.set_default_fs
      error_message = "The S3 cluster puts new buckets on the default filesystem: keep set_default_fs = true, or set s3_setup_protocol = false."
    }
  }

  depends_on = [aws_autoscaling_group.backend]
}
