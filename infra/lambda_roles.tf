###############################################################################
# Which role each function runs as. By default a role of its own that the module creates with
# exactly that function's policy (lambda.tf). lambda_iam_role_arns names an existing role per
# function; lambda_iam_role_arn (the reference's variable) one existing role for every function
# not named there. The module creates no role, and attaches no policy, for a function given a
# role: the caller's role must carry the function's policy (README, IAM) and trust
# lambda.amazonaws.com. One role shared by all functions holds the union of their permissions:
# every function (including the ones every cluster instance may invoke) could then do what any
# of them may, e.g. terminate cluster instances or read the admin password.
###############################################################################
locals {
  lambda_given_role = { for f in local.function_names : f => lookup(var.lambda_iam_role_arns, f, var.lambda_iam_role_arn) }
  lambda_own_role   = { for f, c in local.functions : f => c if local.lambda_given_role[f] == "" }
  lambda_role_arns = { for f in local.function_names : f =>
    local.lambda_given_role[f] != "" ? local.lambda_given_role[f] : aws_iam_role.lambda[f].arn
  }
}
