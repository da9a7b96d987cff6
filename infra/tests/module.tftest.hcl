mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b"] }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
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
}

run "memory_override_per_function" {
  command = plan
  variables {
    lambda_memory_sizes = { "scale-down" = 2048 }
  }
  assert {
    condition     = aws_lambda_function.this["scale-down"].memory_size == 2048
    error_message = "scale-down takes its override"
  }
  assert {
    condition     = aws_lambda_function.this["fetch"].memory_size == 128
    error_message = "the others keep lambda_memory_size"
  }
}

run "memory_override_of_unknown_function_is_refused" {
  command = plan
  variables {
    lambda_memory_sizes = { "scale_down" = 2048 }
  }
  expect_failures = [var.lambda_memory_sizes]
}

run "weka_version_or_install_url_is_required" {
  command = plan
  variables {
    weka_version = ""
  }
  expect_failures = [var.weka_version]
}

run "default_memory_is_the_reference_default" {
  command = plan
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.memory_size == 128])
    error_message = "every function defaults to lambda_memory_size"
  }
}

run "zips_staged_in_s3_when_a_bucket_is_given" {
  command = plan
  variables {
    lambdas_upload_s3_bucket = "code-bucket"
  }
  assert {
    condition     = alltrue([for f in aws_lambda_function.this : f.s3_bucket == "code-bucket" && f.filename == null])
    error_message = "every function takes its code from the bucket"
  }
  assert {
    condition     = length(aws_s3_object.lambda_code) == length(aws_lambda_function.this)
    error_message = "one staged zip per function"
  }
}

run "zips_uploaded_directly_by_default" {
  command = plan
  assert {
    condition     = length(aws_s3_object.lambda_code) == 0 && alltrue([for f in aws_lambda_function.this : f.s3_bucket == null])
    error_message = "no staging without a bucket"
  }
}

run "every_function_has_a_resource_policy_and_steps_are_the_state_machines_only" {
  command = plan
  assert {
    condition = length(setsubtract(
      keys(aws_lambda_function.this),
      setunion(keys(aws_lambda_permission.state_machine), keys(aws_lambda_permission.instances)),
    )) == 0
    error_message = "every function names its callers in a resource policy"
  }
  assert {
    condition     = length(setintersection(keys(aws_lambda_permission.state_machine), keys(aws_lambda_permission.instances))) == 0
    error_message = "no function is both a state machine step and an instance's"
  }
  assert {
    condition = alltrue([for f in ["scale-fetch", "scale-down", "terminate", "transient"] :
    !contains(keys(aws_lambda_permission.instances), f) && aws_lambda_permission.state_machine[f].principal == "states.amazonaws.com"])
    error_message = "the state machine's steps are invoked by the state machine only"
  }
  assert {
    condition     = contains(keys(aws_lambda_permission.instances), "fetch") && !contains(keys(aws_lambda_permission.state_machine), "fetch")
    error_message = "fetch serves the instances, not the state machine"
  }
}
