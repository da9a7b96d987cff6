###############################################################################
# Networking: use given subnets/SGs, or create a minimal VPC.
###############################################################################
data "aws_availability_zones" "available" {
  # checkov:skip=CKV_AWS_394:Used only to pick a default AZ when none is given; set availability_zones to pin it.
  state = "available"
}

data "aws_subnet" "given" {
  count = length(var.subnet_ids) > 0 ? 1 : 0
  id    = var.subnet_ids[0]
}

data "aws_vpc" "given" {
  count = length(var.subnet_ids) > 0 ? 1 : 0
  id    = data.aws_subnet.given[0].vpc_id
}

locals {
  create_network = length(var.subnet_ids) == 0
  create_sg      = length(var.sg_ids) == 0
  az             = local.create_network ? (length(var.availability_zones) > 0 ? var.availability_zones[0] : data.aws_availability_zones.available.names[0]) : data.aws_subnet.given[0].availability_zone
  alb_az         = var.alb_additional_subnet_zone != "" ? var.alb_additional_subnet_zone : [for z in data.aws_availability_zones.available.names : z if z != local.az][0]

  vpc_id            = local.create_network ? aws_vpc.this[0].id : data.aws_subnet.given[0].vpc_id
  vpc_cidr          = local.create_network ? aws_vpc.this[0].cidr_block : data.aws_vpc.given[0].cidr_block
  cluster_subnet_id = local.create_network ? aws_subnet.cluster[0].id : var.subnet_ids[0]
  public_subnet     = local.create_network && !var.subnet_autocreate_as_private
  assign_public_ip  = var.assign_public_ip == "auto" ? local.public_subnet : var.assign_public_ip == "true"

  instance_sg_ids = local.create_sg ? [aws_security_group.cluster[0].id] : var.sg_ids
  lambda_sg_ids   = length(var.lambda_sg_ids) > 0 ? var.lambda_sg_ids : (local.create_sg ? [aws_security_group.lambda[0].id] : var.sg_ids)

  need_igw = local.create_network && (local.public_subnet || var.create_nat_gateway)
}

resource "aws_vpc" "this" {
  # checkov:skip=CKV2_AWS_11:Flow logs are an account-level logging decision (destination, retention, cost); enable them outside this module.
  count                = local.create_network ? 1 : 0
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-vpc" })
}

# Lock down the default SG of the created VPC (nothing uses it).
resource "aws_default_security_group" "this" {
  count  = local.create_network ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = local.common_tags
}

resource "aws_subnet" "cluster" {
  count                   = local.create_network ? 1 : 0
  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = var.subnets_cidrs[0]
  availability_zone       = local.az
  map_public_ip_on_launch = false # public IPs are set per instance (assign_public_ip)
  tags                    = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-subnet" })
}

# The ALB needs a second subnet in another AZ.
resource "aws_subnet" "alb" {
  count             = local.create_network && var.create_alb && var.alb_additional_subnet_id == "" ? 1 : 0
  vpc_id            = aws_vpc.this[0].id
  cidr_block        = var.alb_additional_subnet_cidr_block
  availability_zone = local.alb_az
  tags              = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-alb-subnet" })
}

resource "aws_internet_gateway" "this" {
  count  = local.need_igw ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-igw" })
}

resource "aws_route_table" "public" {
  count  = local.need_igw ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this[0].id
  }
  tags = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-public-rt" })
}

resource "aws_route_table_association" "cluster_public" {
  count          = local.public_subnet ? 1 : 0
  subnet_id      = aws_subnet.cluster[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table_association" "alb" {
  count          = length(aws_subnet.alb)
  subnet_id      = aws_subnet.alb[0].id
  route_table_id = local.public_subnet ? aws_route_table.public[0].id : aws_route_table.private[0].id
}

# Private subnet (optionally behind a NAT gateway).
resource "aws_subnet" "nat" {
  count             = local.create_network && var.subnet_autocreate_as_private && var.create_nat_gateway ? 1 : 0
  vpc_id            = aws_vpc.this[0].id
  cidr_block        = var.nat_public_subnet_cidr
  availability_zone = local.az
  tags              = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-nat-subnet" })
}

resource "aws_route_table_association" "nat" {
  count          = length(aws_subnet.nat)
  subnet_id      = aws_subnet.nat[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count  = length(aws_subnet.nat)
  domain = "vpc"
  tags   = local.common_tags
}

resource "aws_nat_gateway" "this" {
  count         = length(aws_subnet.nat)
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.nat[0].id
  tags          = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-nat" })
}

resource "aws_route_table" "private" {
  count  = local.create_network && var.subnet_autocreate_as_private ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  dynamic "route" {
    for_each = aws_nat_gateway.this
    content {
      cidr_block     = "0.0.0.0/0"
      nat_gateway_id = route.value.id
    }
  }
  tags = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-private-rt" })
}

resource "aws_route_table_association" "cluster_private" {
  count          = length(aws_route_table.private)
  subnet_id      = aws_subnet.cluster[0].id
  route_table_id = aws_route_table.private[0].id
}

###############################################################################
# Security groups
###############################################################################
resource "aws_security_group" "cluster" {
  # checkov:skip=CKV_AWS_382:Instances download WEKA from get.weka.io (or a proxy) and call AWS APIs; the destinations are not known in advance.
  count       = local.create_sg ? 1 : 0
  name        = "${var.prefix}-${var.cluster_name}-sg"
  description = "WEKA ${var.cluster_name} instances"
  vpc_id      = local.vpc_id

  ingress {
    description = "Cluster members"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    self        = true
  }

  ingress {
    description = "Inside the VPC (clients, lambdas, ALB)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = [local.vpc_cidr]
  }

  dynamic "ingress" {
    for_each = length(var.allow_ssh_cidrs) > 0 ? [1] : []
    content {
      description = "SSH"
      from_port   = 22
      to_port     = 22
      protocol    = "tcp"
      cidr_blocks = var.allow_ssh_cidrs
    }
  }

  dynamic "ingress" {
    for_each = length(var.allow_weka_api_cidrs) > 0 ? [1] : []
    content {
      description = "WEKA API"
      from_port   = 14000
      to_port     = 14000
      protocol    = "tcp"
      cidr_blocks = var.allow_weka_api_cidrs
    }
  }

  dynamic "ingress" {
    for_each = var.sg_custom_ingress_rules
    content {
      description = "Custom rule"
      from_port   = ingress.value.from_port
      to_port     = ingress.value.to_port
      protocol    = ingress.value.protocol
      cidr_blocks = [ingress.value.cidr_block]
    }
  }

  egress {
    description = "Outbound (WEKA download, AWS APIs)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-sg" })

  # WEKA's module names this group the same; carried over, its description (which forces a new
  # group, impossible while instances use it) is kept (migration.tf).
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_security_group" "lambda" {
  # checkov:skip=CKV2_AWS_5:Attached to the VPC lambdas (status, scale-down) through local.lambda_sg_ids.
  count       = local.create_sg && length(var.lambda_sg_ids) == 0 ? 1 : 0
  name        = "${var.prefix}-${var.cluster_name}-lambda-sg"
  description = "WEKA ${var.cluster_name} VPC lambdas"
  vpc_id      = local.vpc_id

  egress {
    description = "WEKA API on backends"
    from_port   = 14000
    to_port     = 14000
    protocol    = "tcp"
    cidr_blocks = [local.vpc_cidr]
  }

  egress {
    description = "AWS APIs (VPC endpoints or NAT)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-lambda-sg" })
}

###############################################################################
# VPC endpoints
###############################################################################
locals {
  # Callers in the VPC without a NAT gateway of the module's reach AWS only through endpoints:
  # Lambda network interfaces never get public addresses (an internet gateway does not help
  # them), and instances without a public IP have no other way out. An endpoint variable left
  # null creates the endpoint exactly when such a caller needs the service; true or false
  # decides it.
  module_nat         = local.create_network && var.subnet_autocreate_as_private && var.create_nat_gateway
  vpc_function_needs = toset(flatten([for f, c in local.functions : c.aws if local.lambda_in_vpc[f]]))
  private_instances  = !local.assign_public_ip
  instance_needs     = local.private_instances ? toset(["lambda", "ec2"]) : toset([])
  endpoint_needed    = { for s in ["ec2", "autoscaling", "dynamodb", "lambda", "acm"] : s => !local.module_nat && (contains(local.vpc_function_needs, s) || contains(local.instance_needs, s)) }
  endpoint_ec2       = coalesce(var.vpc_endpoint_ec2_create, local.endpoint_needed["ec2"])
  endpoint_autoscale = coalesce(var.vpc_endpoint_autoscaling_create, local.endpoint_needed["autoscaling"])
  endpoint_dynamodb  = coalesce(var.vpc_endpoint_dynamodb_gateway_create, local.endpoint_needed["dynamodb"])
  endpoint_lambda    = coalesce(var.vpc_endpoint_lambda_create, local.endpoint_needed["lambda"])
  interface_endpoints = merge(
    var.secretmanager_use_vpc_endpoint && var.secretmanager_create_vpc_endpoint ? { secretsmanager = true } : {},
    local.endpoint_ec2 ? { ec2 = true } : {},
    local.endpoint_lambda ? { lambda = true } : {},
    local.endpoint_autoscale ? { autoscaling = true } : {},
    local.endpoint_needed["acm"] ? { acm = true } : {},
  )
  gateway_endpoints = merge(
    var.vpc_endpoint_s3_gateway_create ? { s3 = true } : {},
    local.endpoint_dynamodb ? { dynamodb = true } : {},
  )
  cluster_route_table_ids = local.create_network ? concat(aws_route_table_association.cluster_public[*].route_table_id, aws_route_table_association.cluster_private[*].route_table_id) : data.aws_route_table.given[*].id
}

data "aws_route_table" "given" {
  count     = !local.create_network && length(local.gateway_endpoints) > 0 ? 1 : 0
  subnet_id = var.subnet_ids[0]
}

resource "aws_security_group" "endpoints" {
  count       = length(local.interface_endpoints) > 0 && length(var.secretmanager_sg_ids) == 0 ? 1 : 0
  name        = "${var.prefix}-${var.cluster_name}-endpoints-sg"
  description = "WEKA ${var.cluster_name} VPC interface endpoints"
  vpc_id      = local.vpc_id

  ingress {
    description = "HTTPS from the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [local.vpc_cidr]
  }

  tags = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-endpoints-sg" })
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = local.interface_endpoints
  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = [local.cluster_subnet_id]
  security_group_ids  = length(var.secretmanager_sg_ids) > 0 ? var.secretmanager_sg_ids : [aws_security_group.endpoints[0].id]
  tags                = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-${each.key}" })
}

resource "aws_vpc_endpoint" "gateway" {
  for_each          = local.gateway_endpoints
  vpc_id            = local.vpc_id
  service_name      = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = local.cluster_route_table_ids
  tags              = merge(local.common_tags, { Name = "${var.prefix}-${var.cluster_name}-${each.key}" })
}
