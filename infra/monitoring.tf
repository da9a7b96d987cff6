###############################################################################
# Metrics, alarms and notifications (README "Metrics and alarms"). The control plane's own
# metrics are EMF lines the functions write (namespace WEKA/ControlPlane, dimension Cluster);
# their names here are checked against the Rust constants (shared/tests/infra.rs).
###############################################################################

locals {
  monitoring = var.monitoring_enabled
  # Alarms and the failed-execution rule notify this topic: the one created here, the one given,
  # or none (alarms then only change state in the console).
  alarm_topic_create = local.monitoring && var.alarm_sns_topic_create
  alarm_topic_arn    = local.alarm_topic_create ? aws_sns_topic.alarms[0].arn : (local.monitoring && var.alarm_sns_topic_arn != "" ? var.alarm_sns_topic_arn : null)
  alarm_topic_used   = local.alarm_topic_create || (local.monitoring && var.alarm_sns_topic_arn != "")
  alarm_actions      = local.alarm_topic_used ? [local.alarm_topic_arn] : []
  # CloudWatch alarms and EventBridge cannot use the AWS-managed alias/aws/sns key (its policy
  # is fixed and does not let them encrypt): a created topic gets a key of its own by default.
  alarm_topic_key_create = local.alarm_topic_create && var.sns_kms_key_id == null

  metrics_namespace = "WEKA/ControlPlane"
  metrics_dimension = { Cluster = var.cluster_name }
  # The control plane's metrics the alarms and the dashboard read (names of
  # shared/src/domain/metrics.rs).
  metric = {
    lease_held              = "LeaseHeld"
    backends_active         = "BackendsActive"
    backends_down           = "BackendsDown"
    backends_deactivating   = "BackendsDeactivating"
    drives_inactive         = "DrivesInactive"
    floor_refusals          = "FloorRefusals"
    deactivations           = "Deactivations"
    removals                = "Removals"
    launch_waits            = "LaunchWaits"
    terminate_waits         = "TerminateWaits"
    oldest_launch_wait      = "OldestLaunchWaitAge"
    oldest_terminate_wait   = "OldestTerminateWaitAge"
    terminations            = "Terminations"
    detaches                = "Detaches"
    registrations           = "Registrations"
    registrations_refused   = "RegistrationsRefused"
    clusterization_started  = "ClusterizationsStarted"
    clusterization_takeover = "ClusterizationTakeovers"
    error_reports           = "ErrorReports"
  }
  alarm_name = "${local.p.cloudwatch}-${var.cluster_name}"
}

resource "aws_kms_key" "alarms" {
  count                   = local.alarm_topic_key_create ? 1 : 0
  description             = "WEKA ${var.cluster_name} alarm notifications (SNS)"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AlarmsAndEventsPublish"
        Effect    = "Allow"
        Principal = { Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com"] }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
    ]
  })
  tags = local.common_tags
}

resource "aws_kms_alias" "alarms" {
  count         = length(aws_kms_key.alarms)
  name          = "alias/${local.p.kms}-${var.cluster_name}-alarms"
  target_key_id = aws_kms_key.alarms[0].key_id
}

resource "aws_sns_topic" "alarms" {
  count             = local.alarm_topic_create ? 1 : 0
  name              = "${local.alarm_name}-control-plane-alarms"
  kms_master_key_id = local.alarm_topic_key_create ? aws_kms_key.alarms[0].arn : var.sns_kms_key_id
  tags              = local.common_tags
}

resource "aws_sns_topic_policy" "alarms" {
  count = local.alarm_topic_create ? 1 : 0
  arn   = aws_sns_topic.alarms[0].arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountPublishAndManage"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:ListSubscriptionsByTopic"]
        Resource  = aws_sns_topic.alarms[0].arn
      },
      {
        Sid       = "CloudWatchAlarms"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarms[0].arn
        Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
      },
      {
        Sid       = "FailedExecutionsRule"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sns:Publish"
        Resource  = aws_sns_topic.alarms[0].arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.sfn_failed[0].arn } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "alarm_email" {
  for_each  = local.alarm_topic_used ? toset(var.alarm_email_subscribers) : toset([])
  topic_arn = local.alarm_topic_arn
  protocol  = "email"
  endpoint  = each.value
}

# Executions that end badly, as they end (the alarms below count them per period).
resource "aws_cloudwatch_event_rule" "sfn_failed" {
  count       = local.alarm_topic_used ? 1 : 0
  name        = "${local.alarm_name}-scale-execution-failed-rule"
  description = "WEKA ${var.cluster_name}: a scale state machine execution FAILED, TIMED_OUT or was ABORTED"
  event_pattern = jsonencode({
    source        = ["aws.states"]
    "detail-type" = ["Step Functions Execution Status Change"]
    detail = {
      status          = ["FAILED", "TIMED_OUT", "ABORTED"]
      stateMachineArn = [aws_sfn_state_machine.scale_down.arn]
    }
  })
  tags = local.common_tags
}

resource "aws_cloudwatch_event_target" "sfn_failed" {
  count = length(aws_cloudwatch_event_rule.sfn_failed)
  rule  = aws_cloudwatch_event_rule.sfn_failed[0].name
  arn   = local.alarm_topic_arn
}

# --- Step Functions -----------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "sfn" {
  for_each            = local.monitoring ? toset(["ExecutionsFailed", "ExecutionsTimedOut"]) : toset([])
  alarm_name          = "${local.alarm_name}-scale-${each.key}"
  alarm_description   = "WEKA ${var.cluster_name}: scale state machine ${each.key} >= ${var.alarm_sfn_failures_threshold} in ${var.alarm_aws_period_seconds}s (README, Metrics and alarms)."
  namespace           = "AWS/States"
  metric_name         = each.key
  dimensions          = { StateMachineArn = aws_sfn_state_machine.scale_down.arn }
  statistic           = "Sum"
  period              = var.alarm_aws_period_seconds
  evaluation_periods  = 1
  threshold           = var.alarm_sfn_failures_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

# --- Lambda -------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "lambda" {
  for_each = local.monitoring ? {
    for pair in setproduct(local.function_names, ["Errors", "Throttles"]) : "${pair[0]}-${pair[1]}" => { function = pair[0], metric = pair[1] }
  } : {}
  alarm_name          = "${local.alarm_name}-${each.key}"
  alarm_description   = "WEKA ${var.cluster_name}: Lambda ${local.lambda_names[each.value.function]} ${each.value.metric} >= ${var.alarm_lambda_threshold} in ${var.alarm_aws_period_seconds}s (README, Metrics and alarms)."
  namespace           = "AWS/Lambda"
  metric_name         = each.value.metric
  dimensions          = { FunctionName = aws_lambda_function.this[each.value.function].function_name }
  statistic           = "Sum"
  period              = var.alarm_aws_period_seconds
  evaluation_periods  = 1
  threshold           = var.alarm_lambda_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

# --- The control plane's metrics ----------------------------------------------------------
# Minimum over each minute: breaching only when no step of any execution got the lease that
# minute, for alarm_lease_held_minutes minutes in a row.
resource "aws_cloudwatch_metric_alarm" "lease_held" {
  count               = local.monitoring ? 1 : 0
  alarm_name          = "${local.alarm_name}-scale-lease-stuck"
  alarm_description   = "WEKA ${var.cluster_name}: no scale run got the scale lease for ${var.alarm_lease_held_minutes} minutes (README, Metrics and alarms)."
  namespace           = local.metrics_namespace
  metric_name         = local.metric.lease_held
  dimensions          = local.metrics_dimension
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.alarm_lease_held_minutes
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "floor_refusal" {
  count               = local.monitoring ? 1 : 0
  alarm_name          = "${local.alarm_name}-scale-floor-refusal"
  alarm_description   = "WEKA ${var.cluster_name}: the safety floor refused every scale-down run for ${var.alarm_floor_refusal_minutes} minutes (README, Metrics and alarms)."
  namespace           = local.metrics_namespace
  metric_name         = local.metric.floor_refusals
  dimensions          = local.metrics_dimension
  statistic           = "Minimum"
  period              = 60
  evaluation_periods  = var.alarm_floor_refusal_minutes
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

resource "aws_cloudwatch_metric_alarm" "launch_wait" {
  count               = local.monitoring ? 1 : 0
  alarm_name          = "${local.alarm_name}-launch-wait-near-timeout"
  alarm_description   = "WEKA ${var.cluster_name}: a waiting launch has gone ${floor(var.alarm_launch_wait_fraction * var.launch_heartbeat_timeout)}s (of launch_heartbeat_timeout = ${var.launch_heartbeat_timeout}s) without progress (README, Metrics and alarms)."
  namespace           = local.metrics_namespace
  metric_name         = local.metric.oldest_launch_wait
  dimensions          = local.metrics_dimension
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  threshold           = floor(var.alarm_launch_wait_fraction * var.launch_heartbeat_timeout)
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = local.common_tags
}

# --- Dashboard ----------------------------------------------------------------------------
locals {
  # One panel: [title, [metric keys], stat].
  dashboard_own_panels = [
    ["Backends per state", ["backends_active", "backends_deactivating", "backends_down", "drives_inactive"], "Maximum"],
    ["Scale decisions", ["deactivations", "removals", "terminations", "detaches"], "Sum"],
    ["Safety floor refusals and lease held", ["floor_refusals", "lease_held"], "Maximum"],
    ["Lifecycle waits", ["launch_waits", "terminate_waits"], "Maximum"],
    ["Oldest lifecycle wait (s)", ["oldest_launch_wait", "oldest_terminate_wait"], "Maximum"],
    ["Bootstrap", ["registrations", "registrations_refused", "clusterization_started", "clusterization_takeover", "error_reports"], "Sum"],
  ]
  dashboard_widgets = concat(
    [for i, panel in local.dashboard_own_panels : {
      type   = "metric"
      x      = (i % 2) * 12
      y      = floor(i / 2) * 6
      width  = 12
      height = 6
      properties = {
        title   = panel[0]
        region  = local.region
        stat    = panel[2]
        period  = 60
        view    = "timeSeries"
        metrics = [for key in panel[1] : [local.metrics_namespace, local.metric[key], "Cluster", var.cluster_name]]
      }
    }],
    [
      {
        type   = "metric"
        x      = 0
        y      = 18
        width  = 12
        height = 6
        properties = {
          title  = "Scale state machine"
          region = local.region
          stat   = "Sum"
          period = 300
          view   = "timeSeries"
          metrics = [for m in ["ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut"] :
          ["AWS/States", m, "StateMachineArn", aws_sfn_state_machine.scale_down.arn]]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 18
        width  = 12
        height = 6
        properties = {
          title  = "Lambda errors and throttles"
          region = local.region
          stat   = "Sum"
          period = 300
          view   = "timeSeries"
          metrics = concat(
            [for f in local.function_names : ["AWS/Lambda", "Errors", "FunctionName", local.lambda_names[f]]],
            [for f in local.function_names : ["AWS/Lambda", "Throttles", "FunctionName", local.lambda_names[f]]],
          )
        }
      },
    ],
  )
}

resource "aws_cloudwatch_dashboard" "control_plane" {
  count          = local.monitoring ? 1 : 0
  dashboard_name = substr("${local.alarm_name}-control-plane", 0, 255)
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
