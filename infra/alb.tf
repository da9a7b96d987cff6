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

  ingress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = concat([local.vpc_cidr], var.alb_allow_https_cidrs)
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
  count             = var.create_alb ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 14000
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = local.alb_certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.backend[0].arn
  }

  tags = local.common_tags
}

resource "aws_lb_listener" "https" {
  count             = var.create_alb ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = local.alb_certificate_arn

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

###############################################################################
# The ALB's certificate: the caller's (alb_cert_arn), else a self-signed one, as WEKA's module.
# Made by the `certificate` function (ECDSA P-256, one year, exactly the ALB's names), which
# imports it into ACM: its private key never passes through Terraform's plan or state, nor the
# machine that runs Terraform, and no provider beyond aws is needed. Terraform calls it on
# create, on a change of names (re-issued into the same ARN) and on destroy (after the
# listeners are gone: deleted); ACM's daily expiry events from 45 days before the end renew it
# in place, so the listeners never serve an expired certificate.
###############################################################################
locals {
  self_signed_certificate = var.create_alb && var.alb_cert_arn == null
  alb_certificate_names = local.self_signed_certificate ? distinct(compact([
    aws_lb.this[0].dns_name, var.alb_dns_name, try(aws_route53_record.alb[0].fqdn, null),
  ])) : []
  alb_certificate_arn = (var.alb_cert_arn != null ? var.alb_cert_arn
  : try(jsondecode(aws_lambda_invocation.certificate[0].result).certificate_arn, null))
}

resource "aws_lambda_invocation" "certificate" {
  count           = local.self_signed_certificate ? 1 : 0
  function_name   = aws_lambda_function.this["certificate"].function_name
  lifecycle_scope = "CRUD"
  input           = jsonencode({ names = local.alb_certificate_names })

  lifecycle {
    postcondition {
      condition     = can(jsondecode(self.result).certificate_arn)
      error_message = "The certificate function answered without a certificate: ${self.result}"
    }
  }

  # Its permissions and log group outlive its last call (the delete on destroy).
  depends_on = [aws_iam_role_policy.lambda, aws_cloudwatch_log_group.lambda]
}

resource "aws_cloudwatch_event_rule" "certificate_expiry" {
  count       = local.self_signed_certificate ? 1 : 0
  name        = substr("${local.p.lambda}-${var.cluster_name}-alb-certificate-expiry", 0, 64)
  description = "WEKA ${var.cluster_name}: renew the ALB's self-signed certificate before it expires"
  event_pattern = jsonencode({
    source        = ["aws.acm"]
    "detail-type" = ["ACM Certificate Approaching Expiration"]
    resources     = [local.alb_certificate_arn]
  })
  tags = local.common_tags
}

resource "aws_cloudwatch_event_target" "certificate_expiry" {
  count = local.self_signed_certificate ? 1 : 0
  rule  = aws_cloudwatch_event_rule.certificate_expiry[0].name
  arn   = aws_lambda_function.this["certificate"].arn
}

resource "aws_lambda_permission" "certificate_expiry" {
  count         = local.self_signed_certificate ? 1 : 0
  statement_id  = "acm-expiry-rule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["certificate"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.certificate_expiry[0].arn
}
