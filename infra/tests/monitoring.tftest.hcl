# monitoring.tf planned with a mocked provider: which alarms exist, what they watch (names,
# namespaces, dimensions: the control plane's metric names are cross-checked with the Rust
# constants in shared/tests/infra.rs), the SNS wiring, and the dashboard.
mock_provider "aws" {
  # What the certificate function answers Terraform (alb.tf).
  mock_resource "aws_lambda_invocation" {
    defaults = { result = "{\"outcome\":\"imported\",\"certificate_arn\":\"arn:aws:acm:us-east-1:123456789012:certificate/self-signed\"}" }
  }
  override_during = plan
  mock_resource "aws_lambda_function" {
    defaults = { arn = "arn:aws:lambda:us-east-1:123456789012:function:mocked" }
  }
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:mocked" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/mocked" }
  }
  mock_resource "aws_subnet" {
    defaults = { id = "subnet-0mocked" }
  }
  mock_resource "aws_security_group" {
    defaults = { id = "sg-0mocked" }
  }
  mock_resource "aws_sfn_state_machine" {
    defaults = { arn = "arn:aws:states:us-east-1:123456789012:stateMachine:mocked" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:mocked-alarms" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/mocked", key_id = "mocked" }
  }
  mock_resource "aws_cloudwatch_event_rule" {
    defaults = { arn = "arn:aws:events:us-east-1:123456789012:rule/mocked" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b"] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { id = "us-east-1", name = "us-east-1" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  get_weka_io_token = "test-token"
  weka_version      = "4.4.2"
  cluster_name      = "mon"
}

run "default_alarms_dashboard_and_no_topic" {
  command = plan
  assert {
    condition     = toset(keys(aws_cloudwatch_metric_alarm.sfn)) == toset(["ExecutionsFailed", "ExecutionsTimedOut"])
    error_message = "the state machine has its failed and timed-out alarms"
  }
  assert {
    condition = alltrue([for a in aws_cloudwatch_metric_alarm.sfn :
      a.namespace == "AWS/States" && a.dimensions == tomap({ StateMachineArn = aws_sfn_state_machine.scale_down.arn }) && a.statistic == "Sum"
    ])
    error_message = "the state machine alarms watch AWS/States by StateMachineArn"
  }
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.lambda) == 2 * length(aws_lambda_function.this)
    error_message = "every function has an Errors and a Throttles alarm"
  }
  assert {
    condition = alltrue([for k, a in aws_cloudwatch_metric_alarm.lambda :
      a.namespace == "AWS/Lambda" && contains(["Errors", "Throttles"], a.metric_name) && endswith(k, a.metric_name)
      && a.dimensions == tomap({ FunctionName = aws_lambda_function.this[trimsuffix(k, "-${a.metric_name}")].function_name })
    ])
    error_message = "the Lambda alarms watch AWS/Lambda Errors/Throttles by FunctionName"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.lease_held[0].namespace == "WEKA/ControlPlane"
      && aws_cloudwatch_metric_alarm.lease_held[0].metric_name == "LeaseHeld"
      && aws_cloudwatch_metric_alarm.lease_held[0].statistic == "Minimum"
      && aws_cloudwatch_metric_alarm.lease_held[0].evaluation_periods == 15
    && aws_cloudwatch_metric_alarm.lease_held[0].dimensions == tomap({ Cluster = "mon" }))
    error_message = "the lease alarm: LeaseHeld minimum >= 1 for 15 one-minute periods, by Cluster"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.floor_refusal[0].metric_name == "FloorRefusals"
      && aws_cloudwatch_metric_alarm.floor_refusal[0].evaluation_periods == 60
    && aws_cloudwatch_metric_alarm.floor_refusal[0].dimensions == tomap({ Cluster = "mon" }))
    error_message = "the floor alarm: FloorRefusals for 60 minutes, by Cluster"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.launch_wait[0].metric_name == "OldestLaunchWaitAge"
    && aws_cloudwatch_metric_alarm.launch_wait[0].threshold == 720)
    error_message = "the launch-wait alarm fires at 0.8 of launch_heartbeat_timeout (900 s)"
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && length(aws_cloudwatch_event_rule.sfn_failed) == 0 && length(aws_kms_key.alarms) == 0
    error_message = "no topic, key or rule unless asked for"
  }
  assert {
    condition     = alltrue([for a in aws_cloudwatch_metric_alarm.sfn : length(a.alarm_actions) == 0])
    error_message = "without a topic, alarms have no actions"
  }
  assert {
    condition = alltrue(flatten([for w in jsondecode(aws_cloudwatch_dashboard.control_plane[0].dashboard_body).widgets : [
      for m in w.properties.metrics : contains(["WEKA/ControlPlane", "AWS/States", "AWS/Lambda"], m[0])
    ]]))
    error_message = "the dashboard parses and names only the control plane's, Step Functions' and Lambda's metrics"
  }
  assert {
    condition = alltrue(flatten([for w in jsondecode(aws_cloudwatch_dashboard.control_plane[0].dashboard_body).widgets : [
      for m in w.properties.metrics : contains([
        "LeaseHeld", "BackendsActive", "BackendsDown", "BackendsDeactivating", "DrivesInactive", "FloorRefusals",
        "Deactivations", "Removals", "LaunchWaits", "TerminateWaits", "OldestLaunchWaitAge", "OldestTerminateWaitAge",
        "Terminations", "Detaches", "Registrations", "RegistrationsRefused", "ClusterizationsStarted",
        "ClusterizationTakeovers", "ErrorReports",
      ], m[1]) && m[2] == "Cluster" && m[3] == "mon" if m[0] == "WEKA/ControlPlane"
    ]]))
    error_message = "the dashboard's own metrics are emitted ones (shared/src/domain/metrics.rs), by Cluster"
  }
}

run "created_topic_with_its_key_subscribers_and_failed_execution_rule" {
  command = plan
  variables {
    alarm_sns_topic_create  = true
    alarm_email_subscribers = ["ops@example.com", "oncall@example.com"]
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 1 && aws_sns_topic.alarms[0].kms_master_key_id == aws_kms_key.alarms[0].arn
    error_message = "the topic is encrypted with its own key"
  }
  assert {
    condition = contains(flatten([for s in jsondecode(aws_kms_key.alarms[0].policy).Statement :
    try(s.Principal.Service, [])]), "events.amazonaws.com")
    error_message = "the key lets EventBridge (and CloudWatch) encrypt for the topic"
  }
  assert {
    condition     = length(aws_sns_topic_subscription.alarm_email) == 2 && alltrue([for s in aws_sns_topic_subscription.alarm_email : s.protocol == "email" && s.topic_arn == aws_sns_topic.alarms[0].arn])
    error_message = "one e-mail subscription per subscriber"
  }
  assert {
    condition = alltrue(concat(
      [for a in aws_cloudwatch_metric_alarm.sfn : a.alarm_actions == toset([aws_sns_topic.alarms[0].arn])],
      [for a in aws_cloudwatch_metric_alarm.lambda : a.alarm_actions == toset([aws_sns_topic.alarms[0].arn])],
      [aws_cloudwatch_metric_alarm.lease_held[0].alarm_actions == toset([aws_sns_topic.alarms[0].arn])],
    ))
    error_message = "every alarm notifies the topic"
  }
  assert {
    condition = (jsondecode(aws_cloudwatch_event_rule.sfn_failed[0].event_pattern).detail.status == ["FAILED", "TIMED_OUT", "ABORTED"]
      && jsondecode(aws_cloudwatch_event_rule.sfn_failed[0].event_pattern)["detail-type"] == ["Step Functions Execution Status Change"]
    && jsondecode(aws_cloudwatch_event_rule.sfn_failed[0].event_pattern).detail.stateMachineArn == [aws_sfn_state_machine.scale_down.arn])
    error_message = "the rule matches this state machine's failed, timed-out and aborted executions"
  }
  assert {
    condition     = aws_cloudwatch_event_target.sfn_failed[0].arn == aws_sns_topic.alarms[0].arn
    error_message = "the rule targets the topic"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_sns_topic_policy.alarms[0].policy).Statement :
      s.Principal == { Service = "events.amazonaws.com" } && s.Action == "sns:Publish"
    && try(s.Condition.ArnEquals["aws:SourceArn"], "") == aws_cloudwatch_event_rule.sfn_failed[0].arn])
    error_message = "the topic policy lets the rule (and only it, among EventBridge rules) publish"
  }
}

run "existing_topic_and_key" {
  command = plan
  variables {
    alarm_sns_topic_arn = "arn:aws:sns:us-east-1:123456789012:ops"
  }
  assert {
    condition     = length(aws_sns_topic.alarms) == 0 && length(aws_cloudwatch_event_target.sfn_failed) == 1 && aws_cloudwatch_event_target.sfn_failed[0].arn == "arn:aws:sns:us-east-1:123456789012:ops"
    error_message = "a given topic is used, not created"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.launch_wait[0].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:ops"])
    error_message = "alarms notify the given topic"
  }
}

run "given_key_for_the_created_topic" {
  command = plan
  variables {
    alarm_sns_topic_create = true
    sns_kms_key_id         = "alias/ops-alarms"
  }
  assert {
    condition     = length(aws_kms_key.alarms) == 0 && aws_sns_topic.alarms[0].kms_master_key_id == "alias/ops-alarms"
    error_message = "a given key is used, none created"
  }
}

run "monitoring_disabled" {
  command = plan
  variables {
    monitoring_enabled      = false
    alarm_sns_topic_create  = true
    alarm_email_subscribers = ["ops@example.com"]
  }
  assert {
    condition = (length(aws_cloudwatch_metric_alarm.sfn) + length(aws_cloudwatch_metric_alarm.lambda) + length(aws_cloudwatch_metric_alarm.lease_held)
      + length(aws_cloudwatch_metric_alarm.floor_refusal) + length(aws_cloudwatch_metric_alarm.launch_wait) + length(aws_cloudwatch_dashboard.control_plane)
    + length(aws_sns_topic.alarms) + length(aws_sns_topic_subscription.alarm_email) + length(aws_cloudwatch_event_rule.sfn_failed)) == 0
    error_message = "monitoring_enabled = false creates nothing"
  }
}

run "invalid_thresholds_are_refused" {
  command = plan
  variables {
    alarm_launch_wait_fraction = 1.5
    alarm_aws_period_seconds   = 90
  }
  expect_failures = [var.alarm_launch_wait_fraction, var.alarm_aws_period_seconds]
}
