###############################################################################
# OBS tiering bucket. The reference's clusterize Lambda created it at run time (and got the
# region constraint wrong outside us-east-1); here Terraform owns it, so no function needs
# s3:CreateBucket and the bucket is destroyed with the stack.
###############################################################################
resource "aws_s3_bucket" "obs" {
  #checkov:skip=CKV_AWS_18:access logging needs a separate log bucket; left to the operator
  #checkov:skip=CKV_AWS_144:cross-region replication of a tiering bucket doubles cost; the data is tiered from WEKA, not primary
  #checkov:skip=CKV_AWS_145:SSE-S3 is applied below; a CMK is optional and configured by the operator
  #checkov:skip=CKV2_AWS_62:no consumers of bucket events
  #checkov:skip=CKV2_AWS_61:WEKA manages object lifetimes; a lifecycle rule could delete tiered data
  #checkov:skip=CKV_AWS_21:versioning would keep every overwritten WEKA object forever
  count         = local.create_obs_bucket ? 1 : 0
  bucket        = local.obs_name
  force_destroy = false
  tags          = merge(var.tags_map, { weka_cluster_name = var.cluster_name })
}

resource "aws_s3_bucket_public_access_block" "obs" {
  count                   = local.create_obs_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.obs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "obs" {
  count  = local.create_obs_bucket ? 1 : 0
  bucket = aws_s3_bucket.obs[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}
