###############################################################################
# Optional internal ALB in front of the backends (WEKA UI/API, client joins).
###############################################################################
locals {
  alb_first_subnet  = var.alb_subnet_id != "" ? var.alb_subnet_id : local.cluster_subnet_id
  alb_second_subnet = var.alb_additional_subnet_id != "" ? var.alb_additional_subnet_id : (local.create_network ? try(aws_subnet.alb[0].id, null) : try(var.subnet_ids[1], null))
}

resource "aws_security_group" "alb" {
  count       = var.create_alb && length(var.alb_sg_ids) == 0 ? 1 : 0
  name        = "${local.p.lb}-${var.cluster_name}-alb-sg"
  description = "WEKA ${var.cluster_name} ALB"
  vpc_id      = local.vpc_id

  ingress {
    description = "WEKA API/UI from the VPC and allowed CIDRs"
    from_port   = 14000
    to_port     = 14000
    protocol    = "tcp"
    cidr_blocks = concat([local.vpc_cidr], var.allow_weka_api_cidrs)
  }

  dynamic "ingress" {
    for_each = var.alb_cert_arn != null ? [1] : []
    content {
      description = "HTTPS"
      from_port   = 443
      to_port     = 443
      protocol    = "tcp"
      cidr_blocks = concat([local.vpc_cidr], var.alb_allow_https_cidrs)
    }
  }

  egress {
    description = "Backends"
    from_port   = 14000
    to_port     = 14000
    protocol    = "tcp"
    cidr_blocks = [local.vpc_cidr]
  }

  tags = merge(local.common_tags, { Name = "${local.p.lb}-${var.cluster_name}-alb-sg" })
}

resource "aws_lb" "this" {
  # checkov:skip=CKV_AWS_91:Access logs need an S3 bucket with a bucket policy outside this module's scope.
  # checkov:skip=CKV_AWS_150:Deletion protection would block terraform destroy of the whole cluster.
  # checkov:skip=CKV2_AWS_20:Without alb_cert_arn there is no certificate (the module cannot make one offline: no tls provider), so the internal 14000 listener is HTTP; with alb_cert_arn 14000 and 443 are HTTPS.
  # checkov:skip=CKV2_AWS_28:Internal ALB; WAF is not applicable to the WEKA API.
  count                      = var.create_alb ? 1 : 0
  name                       = substr("${local.p.lb}-${var.cluster_name}-lb", 0, 32)
  internal                   = true
  load_balancer_type         = "application"
  security_groups            = length(var.alb_sg_ids) > 0 ? var.alb_sg_ids : [aws_security_group.alb[0].id]
  subnets                    = compact([local.alb_first_subnet, local.alb_second_subnet])
  drop_invalid_header_fields = true
  tags                       = local.common_tags

  lifecycle {
    precondition {
      condition     = local.alb_second_subnet != null
      error_message = "The ALB needs a second subnet in another AZ: set alb_additional_subnet_id (or a second entry in subnet_ids), or create_alb = false."
    }
  }
}

# WEKA serves TLS on 14000 (its own, by default self-signed, certificate): the ALB talks HTTPS to
# the backends, as the reference. An ALB does not validate a target's certificate, so the
# self-signed one works.
resource "aws_lb_target_group" "backend" {
  count                = var.create_alb ? 1 : 0
  name                 = substr("${local.p.lb}-${var.cluster_name}-tg", 0, 32)
  port                 = 14000
  protocol             = "HTTPS"
  vpc_id               = local.vpc_id
  deregistration_delay = 30

  health_check {
    path     = "/api/v2/healthcheck/"
    port     = "14000"
    protocol = "HTTPS"
  }

  tags = local.common_tags
}

resource "aws_lb_listener" "api" {
  # checkov:skip=CKV_AWS_2:Without alb_cert_arn (no certificate: the module cannot make one offline, no tls provider) the internal 14000 listener is HTTP and forwards over HTTPS to the backends; with alb_cert_arn it is HTTPS.
  # checkov:skip=CKV_AWS_103:Same as CKV_AWS_2.
  # checkov:skip=CKV2_AWS_20:Without a certificate there is nothing to redirect to; with alb_cert_arn this listener is HTTPS itself.
  count             = var.create_alb ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 14000
  # HTTPS with alb_cert_arn, as the reference; without a certificate HTTP (README, ALB).
  protocol        = var.alb_cert_arn != null ? "HTTPS" : "HTTP"
  ssl_policy      = var.alb_cert_arn != null ? "ELBSecurityPolicy-TLS13-1-2-2021-06" : null
  certificate_arn = var.alb_cert_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.backend[0].arn
  }

  tags = local.common_tags
}

resource "aws_lb_listener" "https" {
  count             = var.create_alb && var.alb_cert_arn != null ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.alb_cert_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.backend[0].arn
  }

  tags = local.common_tags
}

resource "aws_route53_record" "alb" {
  count   = var.create_alb && var.alb_route53_zone_id != "" && var.alb_alias_name != "" ? 1 : 0
  zone_id = var.alb_route53_zone_id
  name    = var.alb_alias_name
  type    = "A"

  alias {
    name                   = aws_lb.this[0].dns_name
    zone_id                = aws_lb.this[0].zone_id
    evaluate_target_health = false
  }
}

locals {
  # The name clients and users reach the ALB by: alb_dns_name, else the Route 53 alias, else the
  # ALB's own name (the reference's order).
  alb_dns_name = var.create_alb ? coalesce(var.alb_dns_name, try(aws_route53_record.alb[0].fqdn, null), aws_lb.this[0].dns_name) : null
}
