# Stand-in of WEKA's modules/security_group, at its address and with its name and description.
variable "prefix" { type = string }
variable "cluster_name" { type = string }
variable "vpc_id" { type = string }
variable "tags" { type = map(string) }

resource "aws_security_group" "sg" {
  name        = "${var.prefix}-${var.cluster_name}-sg"
  description = "Default SG to allow traffic from the VPC"
  vpc_id      = var.vpc_id

  ingress {
    from_port = 0
    to_port   = 0
    protocol  = "-1"
    self      = true
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = merge(var.tags, { Environment = var.prefix, Name = "${var.prefix}-${var.cluster_name}-sg" })
}

output "sg_ids" {
  value = [aws_security_group.sg.id]
}
