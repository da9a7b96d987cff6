# Stand-in of WEKA's modules/network (default layout: public subnets, no NAT), at its addresses.
variable "prefix" { type = string }
variable "vpc_cidr" { type = string }
variable "subnets_cidrs" { type = list(string) }
variable "tags" { type = map(string) }

data "aws_availability_zones" "available" {
  state = "available"
}

resource "aws_vpc" "vpc" {
  cidr_block           = var.vpc_cidr
  enable_dns_hostnames = true
  enable_dns_support   = true
  tags                 = merge(var.tags, { Name = "${var.prefix}-vpc", Environment = var.prefix })
}

resource "aws_internet_gateway" "ig" {
  count  = 1
  vpc_id = aws_vpc.vpc.id
  tags   = merge(var.tags, { Name = "${var.prefix}-igw", Environment = var.prefix })
}

resource "aws_route_table" "ig_route_table" {
  count  = 1
  vpc_id = aws_vpc.vpc.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.ig[0].id
  }
  tags = merge(var.tags, { Name = "${var.prefix}-igw-rt", Environment = var.prefix })
}

# [0] the cluster subnet, [1] the ALB's additional subnet (the reference adds it with create_alb).
resource "aws_subnet" "public_subnet" {
  count                   = length(var.subnets_cidrs)
  vpc_id                  = aws_vpc.vpc.id
  cidr_block              = var.subnets_cidrs[count.index]
  availability_zone       = data.aws_availability_zones.available.names[count.index]
  map_public_ip_on_launch = true
  tags                    = merge(var.tags, { Name = "${var.prefix}-public-subnet-${count.index}", Environment = var.prefix })
}

resource "aws_route_table_association" "public_rt_associate" {
  count          = length(aws_subnet.public_subnet)
  subnet_id      = aws_subnet.public_subnet[count.index].id
  route_table_id = aws_route_table.ig_route_table[0].id
}

output "vpc_id" {
  value = aws_vpc.vpc.id
}

output "subnet_ids" {
  value = aws_subnet.public_subnet[*].id
}
