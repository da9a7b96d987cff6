resource "aws_kms_key" "secrets" {
  count                   = var.secretmanager_enable_encryption && var.secretmanager_kms_key_id == null ? 1 : 0
  description             = "WEKA ${var.cluster_name} secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministration"
      Effect    = "Allow"
      Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
  tags = local.common_tags
}

resource "aws_kms_alias" "secrets" {
  count         = length(aws_kms_key.secrets)
  name          = "alias/${local.p.kms}-${var.cluster_name}-secrets"
  target_key_id = aws_kms_key.secrets[0].key_id
}

# The get.weka.io token. Its value lives in Terraform state: protect the state.
resource "aws_secretsmanager_secret" "token" {
  # checkov:skip=CKV2_AWS_57:WEKA credentials are generated and set inside the cluster by the clusterize lambda; Secrets Manager rotation cannot change them in WEKA.
  count                   = var.get_weka_io_token_secret_id == "" ? 1 : 0
  name_prefix             = "${local.secrets_path}get_weka_io_token-"
  kms_key_id              = local.secrets_kms_key_arn
  recovery_window_in_days = var.secretmanager_recovery_window_in_days
  tags                    = local.common_tags

  # A secret carried over from WEKA's module keeps its name (migration.tf).
  lifecycle {
    ignore_changes = [name, name_prefix]
  }
}

resource "aws_secretsmanager_secret_version" "token" {
  count         = length(aws_secretsmanager_secret.token)
  secret_id     = aws_secretsmanager_secret.token[0].id
  secret_string = var.get_weka_io_token

  lifecycle {
    precondition {
      condition     = var.get_weka_io_token != ""
      error_message = "Set get_weka_io_token or get_weka_io_token_secret_id."
    }
  }
}

resource "aws_secretsmanager_secret" "username" {
  # checkov:skip=CKV2_AWS_57:WEKA credentials are generated and set inside the cluster by the clusterize lambda; Secrets Manager rotation cannot change them in WEKA.
  name_prefix             = "${local.secrets_path}weka-username-"
  kms_key_id              = local.secrets_kms_key_arn
  recovery_window_in_days = var.secretmanager_recovery_window_in_days
  tags                    = local.common_tags

  # A secret carried over from WEKA's module keeps its name (migration.tf).
  lifecycle {
    ignore_changes = [name, name_prefix]
  }
}

resource "aws_secretsmanager_secret_version" "username" {
  secret_id     = aws_secretsmanager_secret.username.id
  secret_string = "weka-deployment"
}

# Written by the clusterize lambda: no initial version.
resource "aws_secretsmanager_secret" "admin_password" {
  # checkov:skip=CKV2_AWS_57:WEKA credentials are generated and set inside the cluster by the clusterize lambda; Secrets Manager rotation cannot change them in WEKA.
  name_prefix             = "${local.secrets_path}weka-password-"
  kms_key_id              = local.secrets_kms_key_arn
  recovery_window_in_days = var.secretmanager_recovery_window_in_days
  tags                    = local.common_tags

  # A secret carried over from WEKA's module keeps its name (migration.tf).
  lifecycle {
    ignore_changes = [name, name_prefix]
  }
}

resource "aws_secretsmanager_secret" "deployment_password" {
  # checkov:skip=CKV2_AWS_57:WEKA credentials are generated and set inside the cluster by the clusterize lambda; Secrets Manager rotation cannot change them in WEKA.
  name_prefix             = "${local.secrets_path}weka-deployment-password-"
  kms_key_id              = local.secrets_kms_key_arn
  recovery_window_in_days = var.secretmanager_recovery_window_in_days
  tags                    = local.common_tags

  # A secret carried over from WEKA's module keeps its name (migration.tf).
  lifecycle {
    ignore_changes = [name, name_prefix]
  }
}
