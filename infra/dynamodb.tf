resource "aws_dynamodb_table" "state" {
  name                        = local.table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.dynamodb_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.dynamodb_kms_key_arn
  }

  tags = local.common_tags
}

locals {
  initial_state_items = {
    backend = { key = local.state_key, size = var.cluster_size }
    nfs     = { key = local.nfs_state_key, size = var.nfs_protocol_gateways_number }
  }
}

# Written once; afterwards the lambdas own the items.
resource "aws_dynamodb_table_item" "initial_state" {
  for_each   = local.initial_state_items
  table_name = aws_dynamodb_table.state.name
  hash_key   = aws_dynamodb_table.state.hash_key
  range_key  = aws_dynamodb_table.state.range_key

  item = jsonencode({
    pk                    = { S = each.value.key }
    sk                    = { S = "state" }
    version               = { N = "0" }
    initial_size          = { N = tostring(each.value.size) }
    desired_size          = { N = tostring(each.value.size) }
    clusterization_target = { N = tostring(each.value.size) }
    clusterized           = { BOOL = false }
    registered            = { N = "0" }
  })

  lifecycle {
    ignore_changes = all
  }
}
