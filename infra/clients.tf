###############################################################################
# Optional WEKA clients (plain instances that mount the default filesystem).
###############################################################################
resource "aws_iam_role" "client" {
  count              = var.clients_number > 0 && var.client_instance_iam_profile_arn == "" ? 1 : 0
  name               = substr("${local.iam_base}-client-instance-role", 0, 64)
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
  tags               = local.common_tags
}

resource "aws_iam_role_policy" "client" {
  # checkov:skip=CKV_AWS_290:Describe* actions have no resource-level permissions.
  # checkov:skip=CKV_AWS_355:Describe* actions have no resource-level permissions.
  count = length(aws_iam_role.client)
  name  = "weka-client"
  role  = aws_iam_role.client[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat([{
      Sid      = "FindBackends"
      Effect   = "Allow"
      Action   = ["ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups"]
      Resource = ["*"]
      }], local.self_signed_certificate ? [{
      # The ALB's self-signed certificate, to verify the ALB against (public, always current).
      Sid      = "ReadAlbCertificate"
      Effect   = "Allow"
      Action   = ["acm:GetCertificate"]
      Resource = [local.alb_certificate_arn]
    }] : [])
  })
}

resource "aws_iam_role_policy_attachment" "client_ssm" {
  count      = var.attach_ssm_policy ? length(aws_iam_role.client) : 0
  role       = aws_iam_role.client[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "client" {
  count = length(aws_iam_role.client)
  name  = substr("${local.iam_base}-client-instance-profile", 0, 128)
  role  = aws_iam_role.client[0].name
  tags  = local.common_tags
}

# Clients share the backends' placement group by default (client_use_backends_placement_group);
# client_placement_group_name names another; without both they get a group of their own.
resource "aws_placement_group" "client" {
  count    = var.use_placement_group && var.clients_number > 0 && var.client_placement_group_name == null && !var.client_use_backends_placement_group ? 1 : 0
  name     = "${local.p.ec2}-${var.cluster_name}-client-placement-group"
  strategy = "cluster"
  tags     = local.common_tags
}

locals {
  client_placement_group = !var.use_placement_group ? null : (
    var.client_placement_group_name != null ? var.client_placement_group_name : (
      var.client_use_backends_placement_group ? local.placement_group : try(aws_placement_group.client[0].name, null)
    )
  )
}

resource "aws_instance" "client" {
  # checkov:skip=CKV2_AWS_41:iam_instance_profile is always set (given profile or the created client profile); checkov cannot resolve the conditional.
  count                       = var.clients_number
  ami                         = var.client_instance_ami_id != null ? var.client_instance_ami_id : data.aws_ami.default[local.client_arch].id
  instance_type               = var.client_instance_type
  subnet_id                   = local.cluster_subnet_id
  vpc_security_group_ids      = local.instance_sg_ids
  associate_public_ip_address = local.assign_public_ip
  key_name                    = local.key_name
  iam_instance_profile        = var.client_instance_iam_profile_arn != "" ? element(split("/", var.client_instance_iam_profile_arn), length(split("/", var.client_instance_iam_profile_arn)) - 1) : aws_iam_instance_profile.client[0].name
  placement_group             = local.client_placement_group
  ebs_optimized               = true
  monitoring                  = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = var.metadata_http_tokens
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  root_block_device {
    volume_size = var.clients_root_volume_size
    volume_type = "gp3"
    encrypted   = var.ebs_encrypted
    kms_key_id  = var.ebs_kms_key_id
  }

  dynamic "capacity_reservation_specification" {
    for_each = var.client_capacity_reservation_id != null ? [1] : []
    content {
      capacity_reservation_target {
        capacity_reservation_id = var.client_capacity_reservation_id
      }
    }
  }

  user_data_base64 = base64encode(templatefile("${path.module}/templates/client_user_data.sh.tftpl", {
    cluster_name           = var.cluster_name
    region                 = local.region
    proxy_url              = var.proxy_url
    custom_data            = var.clients_custom_data
    custom_data_pre_mount  = var.clients_custom_data_pre_mount
    custom_data_post_mount = var.clients_custom_data_post_mount
    cgroups_mode           = var.clients_weka_cgroups_mode
    alb_dns                = var.create_alb ? local.alb_dns_name : ""
    alb_self_signed_arn    = local.self_signed_certificate ? local.alb_certificate_arn : ""
    use_dpdk               = var.clients_use_dpdk
    frontend_cores         = var.client_frontend_cores
  }))

  tags = merge(local.common_tags, {
    Name                = "${local.p.ec2}-${var.cluster_name}-client-${count.index}"
    weka_hostgroup_type = "client"
  })

  lifecycle {
    ignore_changes = [ami, user_data_base64]
  }

  depends_on = [aws_autoscaling_group.backend]
}
