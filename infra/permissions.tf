# Who may invoke each function, written on the function itself (resource policies): the state
# machine its four steps, the instances the bootstrap functions. IAM still decides: the state
# machine's role may invoke only its steps, the instance role only the bootstrap functions, so no
# instance reaches scale-fetch (the lease, lifecycle records), scale-down or terminate.

resource "aws_lambda_permission" "state_machine" {
  for_each      = toset(local.sfn_lambdas)
  statement_id  = "state-machine"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "states.amazonaws.com"
  source_arn    = aws_sfn_state_machine.scale_down.arn
}

resource "aws_lambda_permission" "instances" {
  for_each      = toset(local.bootstrap_functions)
  statement_id  = "instances"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  # The module's instance role; with an instance profile of the caller's own, the account (its
  # role's IAM policy then decides).
  principal = length(aws_iam_role.backend) > 0 ? aws_iam_role.backend[0].arn : local.account_id
}
