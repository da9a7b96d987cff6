# Stand-in of WEKA's modules/iam: the instance role and profile with a managed policy attached
# exclusively (aws_iam_policy_attachment), and the lambda, state machine and EventBridge roles.
variable "prefix" { type = string }
variable "cluster_name" { type = string }
variable "tags" { type = map(string) }

locals {
  base = "${var.prefix}-${var.cluster_name}"
  trust = { for svc in ["ec2", "lambda", "states", "events"] : svc => jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "${svc}.amazonaws.com" } }]
  }) }
}

resource "aws_iam_policy" "backend_eni_iam_policy" {
  name = "${local.base}-eni-policy"
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = ["ec2:CreateNetworkInterface", "ec2:AttachNetworkInterface", "ec2:DescribeNetworkInterfaces"], Resource = "*" }]
  })
  tags = var.tags
}

resource "aws_iam_role" "iam_role" {
  name               = "${local.base}-iam-role"
  assume_role_policy = local.trust["ec2"]
  tags               = var.tags
}

resource "aws_iam_policy_attachment" "backend_eni_role_attachment" {
  name       = "${local.base}-policy-attachment"
  policy_arn = aws_iam_policy.backend_eni_iam_policy.arn
  roles      = [aws_iam_role.iam_role.name]
}

resource "aws_iam_instance_profile" "instance_profile" {
  name = "${local.base}-instance-profile"
  role = aws_iam_role.iam_role.name
  tags = var.tags
}

resource "aws_iam_role" "lambda_iam_role" {
  name               = "${local.base}-lambda-role"
  assume_role_policy = local.trust["lambda"]
  tags               = var.tags
}

resource "aws_iam_role" "sfn_iam_role" {
  name               = "${local.base}-sfn-role"
  assume_role_policy = local.trust["states"]
  tags               = var.tags
}

resource "aws_iam_role" "event_iam_role" {
  name               = "${local.base}-event-role"
  assume_role_policy = local.trust["events"]
  tags               = var.tags
}

output "instance_iam_profile_arn" {
  value = aws_iam_instance_profile.instance_profile.arn
}

output "lambda_iam_role_arn" {
  value = aws_iam_role.lambda_iam_role.arn
}

output "sfn_iam_role_arn" {
  value = aws_iam_role.sfn_iam_role.arn
}

output "event_iam_role_arn" {
  value = aws_iam_role.event_iam_role.arn
}
