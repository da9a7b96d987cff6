# Data-protection geometry, checked at plan with clusterize's rules (modules/geometry): a
# geometry clusterize would refuse otherwise passes plan and abandons every backend's launch.
module "geometry" {
  source           = "./modules/geometry"
  cluster_size     = var.cluster_size
  protection_level = var.protection_level
  stripe_width     = var.stripe_width
  hotspare         = var.hotspare
  set_default_fs   = var.set_default_fs
  obs_tiering      = var.tiering_enable_obs_integration
}

resource "terraform_data" "geometry" {
  input = module.geometry.stripe_width

  lifecycle {
    precondition {
      condition     = length(module.geometry.violations) == 0
      error_message = "Invalid data-protection settings (clusterize would refuse them and every backend would be abandoned after installing): ${join("; ", module.geometry.messages)}."
    }
  }
}
