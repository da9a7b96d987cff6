###############################################################################
# Scale-down state machine (Fetch -> ScaleDown -> Terminate -> Transient)
# started every minute by EventBridge.
###############################################################################
resource "aws_cloudwatch_log_group" "sfn" {
  # checkov:skip=CKV_AWS_338:Retention is a cost decision exposed as log_retention_days (default 30); the state machine logs every minute.
  name              = local.sfn_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = var.cloudwatch_kms_key_id
  tags              = local.common_tags

  # A group carried over from WEKA's module keeps its name and history (migration.tf).
  lifecycle {
    ignore_changes = [name]
  }
}

data "aws_iam_policy_document" "sfn_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "sfn" {
  count              = var.sfn_iam_role_arn == "" ? 1 : 0
  name               = substr("${local.iam_base}-sfn-role", 0, 64)
  assume_role_policy = data.aws_iam_policy_document.sfn_assume.json
  tags               = local.common_tags
}

locals {
  # The state machine's steps; fetch is the instances' (it refuses the step's envelope).
  sfn_lambdas = ["scale-fetch", "scale-down", "terminate", "transient"]
}

resource "aws_iam_role_policy" "sfn" {
  # checkov:skip=CKV_AWS_290:CloudWatch Logs delivery actions (CreateLogDelivery etc.) do not support resource-level permissions; AWS documents Resource "*".
  # checkov:skip=CKV_AWS_355:Same as CKV_AWS_290 (log delivery API only).
  count = length(aws_iam_role.sfn)
  name  = "invoke-scale-down-lambdas"
  role  = aws_iam_role.sfn[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeScaleDownLambdas"
        Effect   = "Allow"
        Action   = ["lambda:InvokeFunction"]
        Resource = [for f in local.sfn_lambdas : aws_lambda_function.this[f].arn]
      },
      {
        Sid    = "LogDelivery"
        Effect = "Allow"
        Action = [
          "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
          "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
        ]
        Resource = ["*"]
      },
      {
        Sid      = "XRay"
        Effect   = "Allow"
        Action   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
        Resource = ["*"]
      },
    ]
  })
}

locals {
  # Timing the scale path relies on, checked at plan time (the state machine's preconditions).
  scale_asl       = jsondecode(file("${path.module}/../state-machine/scale.asl.json"))
  scale_lease_ttl = sum([for part in regexall("([0-9]+)([hms])", var.scale_lease_ttl) : tonumber(part[0]) * lookup({ h = 3600, m = 60, s = 1 }, part[1])])
  # The steps that hold the scale lease.
  scale_steps   = { "scale-fetch" = "Fetch", "scale-down" = "ScaleDown", "terminate" = "Terminate" }
  step_timeouts = { for f, c in local.functions : f => lookup(var.lambda_timeouts, f, c.timeout) if contains(keys(local.scale_steps), f) }
}

resource "aws_sfn_state_machine" "scale_down" {
  name     = local.state_machine_name
  role_arn = var.sfn_iam_role_arn != "" ? var.sfn_iam_role_arn : aws_iam_role.sfn[0].arn
  definition = templatefile("${path.module}/../state-machine/scale.asl.json", {
    fetch_lambda_arn      = aws_lambda_function.this["scale-fetch"].arn
    scale_down_lambda_arn = aws_lambda_function.this["scale-down"].arn
    terminate_lambda_arn  = aws_lambda_function.this["terminate"].arn
    transient_lambda_arn  = aws_lambda_function.this["transient"].arn
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.sfn.arn}:*"
    include_execution_data = true
    level                  = var.sfn_log_level
  }

  tracing_configuration {
    enabled = true
  }

  tags = local.common_tags

  lifecycle {
    precondition {
      condition     = alltrue([for f, state in local.scale_steps : local.step_timeouts[f] < local.scale_asl.States[state].TimeoutSeconds])
      error_message = "Every scale step's Lambda timeout must be below its task timeout in state-machine/scale.asl.json, so a Step Functions retry never runs beside an attempt still running (timeouts: ${jsonencode(local.step_timeouts)})."
    }
    precondition {
      condition     = local.scale_lease_ttl > max(values(local.step_timeouts)...)
      error_message = "scale_lease_ttl (${local.scale_lease_ttl}s) must exceed every scale step's Lambda timeout, so the lease outlives any one step."
    }
    precondition {
      condition     = local.scale_lease_ttl < local.scale_asl.TimeoutSeconds
      error_message = "scale_lease_ttl (${local.scale_lease_ttl}s) must stay below the state machine's timeout (${local.scale_asl.TimeoutSeconds}s), so a dead execution's lease lapses."
    }
  }

  depends_on = [aws_iam_role_policy.sfn]
}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "events" {
  count              = var.event_iam_role_arn == "" ? 1 : 0
  name               = substr("${local.iam_base}-scale-down-events-role", 0, 64)
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = local.common_tags
}

resource "aws_iam_role_policy" "events" {
  count = length(aws_iam_role.events)
  name  = "start-scale-down"
  role  = aws_iam_role.events[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["states:StartExecution"]
      Resource = [aws_sfn_state_machine.scale_down.arn]
    }]
  })
}

resource "aws_cloudwatch_event_rule" "scale_down" {
  name                = "${local.p.cloudwatch}-${var.cluster_name}-scale-down-trigger-rule"
  description         = "Start the WEKA ${var.cluster_name} scale-down state machine every minute"
  schedule_expression = "rate(1 minute)"
  state               = var.scale_down_schedule_enabled ? "ENABLED" : "DISABLED"
  tags                = local.common_tags
}

resource "aws_cloudwatch_event_target" "scale_down" {
  rule     = aws_cloudwatch_event_rule.scale_down.name
  arn      = aws_sfn_state_machine.scale_down.arn
  role_arn = var.event_iam_role_arn != "" ? var.event_iam_role_arn : aws_iam_role.events[0].arn
}

# The cluster's ASG events start a run at once, with the event as the execution input (fetch
# records lifecycle actions from it). The scale lease keeps a run that overlaps another from
# acting twice; the one-minute schedule above keeps running.
resource "aws_cloudwatch_event_rule" "asg_events" {
  name        = "${local.p.cloudwatch}-${var.cluster_name}-asg-events-rule"
  description = "Start the WEKA ${var.cluster_name} scale state machine on the cluster ASGs' launch, termination and lifecycle-action events"
  event_pattern = jsonencode({
    source = ["aws.autoscaling"]
    "detail-type" = [
      "EC2 Instance Launch Successful",
      "EC2 Instance Launch Unsuccessful",
      "EC2 Instance Terminate Successful",
      "EC2 Instance-launch Lifecycle Action",
      "EC2 Instance-terminate Lifecycle Action",
    ]
    detail = {
      AutoScalingGroupName = var.nfs_protocol_gateways_number > 0 ? [local.asg_name, local.nfs_asg_name] : [local.asg_name]
    }
  })
  state = var.asg_events_enabled ? "ENABLED" : "DISABLED"
  tags  = local.common_tags
}

resource "aws_cloudwatch_event_target" "asg_events" {
  rule     = aws_cloudwatch_event_rule.asg_events.name
  arn      = aws_sfn_state_machine.scale_down.arn
  role_arn = var.event_iam_role_arn != "" ? var.event_iam_role_arn : aws_iam_role.events[0].arn
}
