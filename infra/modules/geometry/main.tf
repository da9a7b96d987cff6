# The data-protection rules clusterize applies (shared/src/domain/geometry.rs `validate`), so
# that a geometry clusterize would refuse fails `terraform plan` instead of every backend's
# launch. The same inputs, the same rules in the same order: shared/tests/infra.rs runs this
# module and the Rust rules over a grid of inputs and requires the same verdicts.

variable "cluster_size" {
  type = number
}

variable "protection_level" {
  type = number
}

# -1: the default, min(cluster_size - protection_level - 1, 16).
variable "stripe_width" {
  type = number
}

variable "hotspare" {
  type = number
}

variable "set_default_fs" {
  type = bool
}

variable "obs_tiering" {
  type = bool
}

locals {
  min_cluster_size  = 6
  protection_levels = [2, 4]
  min_stripe_width  = 3
  max_stripe_width  = 16
  min_hot_spare     = 1

  default_stripe_width = min(var.cluster_size - var.protection_level - 1, local.max_stripe_width)
  stripe_width         = var.stripe_width == -1 ? local.default_stripe_width : var.stripe_width
  required             = local.stripe_width + var.protection_level + var.hotspare

  # In clusterize's order; the first broken one is the error clusterize would answer.
  rules = [
    {
      rule    = "cluster_too_small"
      broken  = var.cluster_size < local.min_cluster_size
      message = "cluster_size ${var.cluster_size} is below WEKA's minimum of ${local.min_cluster_size} backends"
    },
    {
      rule    = "invalid_protection_level"
      broken  = !contains(local.protection_levels, var.protection_level)
      message = "protection_level ${var.protection_level} must be 2 or 4"
    },
    {
      rule    = "stripe_width_out_of_range"
      broken  = var.stripe_width != -1 && (var.stripe_width < local.min_stripe_width || var.stripe_width > local.max_stripe_width)
      message = "stripe_width ${var.stripe_width} must be -1 (default) or between ${local.min_stripe_width} and ${local.max_stripe_width}"
    },
    {
      rule    = "default_stripe_too_narrow"
      broken  = var.stripe_width == -1 && local.default_stripe_width < local.min_stripe_width
      message = "the default stripe width for cluster_size ${var.cluster_size} and protection_level ${var.protection_level} is ${local.default_stripe_width}, below ${local.min_stripe_width}: grow the cluster or lower the protection"
    },
    {
      rule    = "hot_spare_too_small"
      broken  = var.hotspare < local.min_hot_spare
      message = "hotspare ${var.hotspare} must be at least ${local.min_hot_spare}"
    },
    {
      rule    = "does_not_fit"
      broken  = local.required > var.cluster_size
      message = "stripe_width ${local.stripe_width} + protection_level ${var.protection_level} + hotspare ${var.hotspare} = ${local.required} exceeds cluster_size ${var.cluster_size}"
    },
    {
      rule    = "obs_tiering_without_default_fs"
      broken  = var.obs_tiering && !var.set_default_fs
      message = "tiering_enable_obs_integration needs set_default_fs = true (tiering attaches to the default filesystem)"
    },
  ]
  broken = [for r in local.rules : r if r.broken]
}

output "stripe_width" {
  description = "The stripe width clusterize uses (the default resolved)."
  value       = local.stripe_width
}

output "violations" {
  description = "The broken rules' names, in clusterize's order (empty: valid)."
  value       = [for r in local.broken : r.rule]
}

output "messages" {
  description = "What each broken rule says, naming the values."
  value       = [for r in local.broken : r.message]
}
