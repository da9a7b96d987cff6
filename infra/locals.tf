data "aws_region" "current" {}
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # `id` is the region's name on provider 5 and 6. `name` is deprecated from 6.0 and `region`
  # does not exist on 5; 6.47 deprecates `id` too (a warning only): no attribute of
  # data.aws_region is free of warnings on both majors (infra/tests/provider6_check.py).
  region     = data.aws_region.current.id
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  p = {
    for k in ["lb", "db", "kms", "cloudwatch", "sfn", "lambda", "secrets", "ec2", "iam", "obs"] :
    k => lookup(var.custom_prefix, k, var.prefix)
  }

  common_tags = merge(var.tags_map, { weka_cluster_name = var.cluster_name })

  # ---------------------------------------------------------------------------
  # Names
  # ---------------------------------------------------------------------------
  table_name          = var.dynamodb_table_name != "" ? var.dynamodb_table_name : "${local.p.db}-${var.cluster_name}-weka-state"
  state_key           = "${var.prefix}-${var.cluster_name}-state"
  nfs_state_key       = "${var.prefix}-${var.cluster_name}-nfs-state"
  asg_name            = "${local.p.ec2}-${var.cluster_name}-autoscaling-group"
  nfs_asg_name        = "${local.p.ec2}-${var.cluster_name}-nfs-protocol-gateway"
  state_machine_name  = "${local.p.sfn}-${var.cluster_name}-scale-down-state-machine"
  launch_hook_name    = "weka-launch"
  terminate_hook_name = "weka-terminate"
  secrets_path        = "weka/${local.p.secrets}-${var.cluster_name}/"
  obs_name            = var.tiering_obs_name != "" ? var.tiering_obs_name : lower("${local.p.obs}-${var.cluster_name}-obs")
  create_obs_bucket   = var.tiering_enable_obs_integration && var.tiering_obs_name == ""
  iam_base            = "${local.p.iam}-${var.cluster_name}"
  backend_name        = "${local.p.ec2}-${var.cluster_name}-instance-backend"
  placement_group     = var.use_placement_group ? coalesce(var.placement_group_name, try(aws_placement_group.this[0].name, null)) : null
  lambdas_dir         = var.lambdas_dir != null ? var.lambdas_dir : "${path.module}/../target/lambda"
  lambda_log_group    = { for f in local.function_names : f => "/aws/lambda/${local.lambda_names[f]}" }
  sfn_log_group       = "/aws/vendedlogs/states/${local.p.cloudwatch}-${var.cluster_name}-scale-down-sfn"
  instance_profile    = var.instance_iam_profile_arn != "" ? var.instance_iam_profile_arn : aws_iam_instance_profile.backend[0].arn
  stripe_width        = module.geometry.stripe_width
  token_secret_arn    = var.get_weka_io_token_secret_id != "" ? var.get_weka_io_token_secret_id : aws_secretsmanager_secret.token[0].arn
  secrets_kms_key_arn = var.secretmanager_enable_encryption ? coalesce(var.secretmanager_kms_key_id, try(aws_kms_key.secrets[0].arn, null)) : null

  # Where WEKA's own module keeps its state (read by adopt only): its table's default name, or
  # the one given; its item keys are this module's.
  reference_table_name = coalesce(var.reference_state_table_name, "${local.p.db}-${var.cluster_name}-weka-deployment")

  containers   = var.containers_config_map[var.instance_type]
  nics_num     = var.install_cluster_dpdk ? local.containers.nics : 1
  install_url  = var.install_weka_url != "" ? var.install_weka_url : "https://$TOKEN@get.weka.io/dist/v1/install/${var.weka_version}/${var.weka_version}?provider=aws&region=${local.region}"
  compute_mem  = var.set_dedicated_fe_container ? local.containers.memory[1] : local.containers.memory[0]
  compute_cnum = var.set_dedicated_fe_container ? local.containers.compute : local.containers.compute + 1
  fe_cnum      = var.set_dedicated_fe_container ? local.containers.frontend : 0

  # ---------------------------------------------------------------------------
  # Functions. Directory names under functions/ = binary names = keys here.
  # bootstrap = invoked by instance scripts (instance role may invoke it).
  # aws = the AWS services the function calls: a VPC-attached function reaches each through a
  # VPC endpoint or a NAT gateway (network.tf), as Lambda network interfaces get no public IP.
  # ---------------------------------------------------------------------------
  function_table = {
    "deploy"                  = { timeout = 30, vpc = false, bootstrap = true, aws = ["dynamodb", "ec2", "autoscaling"] }
    "clusterize"              = { timeout = 30, vpc = false, bootstrap = true, aws = ["dynamodb", "ec2", "autoscaling", "secretsmanager"] }
    "clusterize-finalization" = { timeout = 30, vpc = false, bootstrap = true, aws = ["dynamodb", "ec2", "autoscaling"] }
    "report"                  = { timeout = 30, vpc = false, bootstrap = true, aws = ["dynamodb", "ec2", "autoscaling"] }
    "status"                  = { timeout = 30, vpc = true, bootstrap = true, aws = ["dynamodb", "ec2", "autoscaling", "secretsmanager"] }
    "fetch"                   = { timeout = 30, vpc = false, bootstrap = true, aws = ["dynamodb", "ec2", "autoscaling", "secretsmanager"] }
    "scale-fetch"             = { timeout = 30, vpc = false, bootstrap = false, aws = ["dynamodb", "ec2", "autoscaling"] }
    "scale-down"              = { timeout = 120, vpc = true, bootstrap = false, aws = ["dynamodb", "secretsmanager"] }
    "terminate"               = { timeout = 60, vpc = false, bootstrap = false, aws = ["dynamodb", "ec2", "autoscaling"] }
    "transient"               = { timeout = 60, vpc = false, bootstrap = false, aws = [] }
    # Operators only (no instance or state machine may call it): adopting a running cluster.
    "adopt" = { timeout = 60, vpc = true, bootstrap = false, aws = ["dynamodb", "ec2", "secretsmanager"] }
    # Terraform (create, update, destroy) and ACM's expiry event only: the ALB's self-signed
    # certificate, deployed only when the module makes one (alb.tf).
    "certificate" = { timeout = 60, vpc = false, bootstrap = false, aws = ["acm"] }
  }
  functions           = { for f, c in local.function_table : f => c if f != "certificate" || local.self_signed_certificate }
  function_names      = keys(local.functions)
  bootstrap_functions = [for f, c in local.functions : f if c.bootstrap]
  lambda_names        = { for f in local.function_names : f => substr("${local.p.lambda}-${var.cluster_name}-${f}-lambda", 0, 64) }
  lambda_arns         = { for f in local.function_names : f => "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.lambda_names[f]}" }
  lambda_in_vpc       = { for f, c in local.functions : f => c.vpc || var.enable_lambda_vpc_config }

  # The environment names each function gets: one table (infra/function-env.json) that this
  # module, the Rust code (shared/tests/infra.rs) and the test harness are checked against.
  function_env_table = jsondecode(file("${path.module}/function-env.json"))

  # ---------------------------------------------------------------------------
  # Environment contract with the Rust functions (ONE place to adjust names).
  # Values must be strings.
  # ---------------------------------------------------------------------------
  env_common = {
    CLUSTER_NAME  = var.cluster_name
    STATE_TABLE   = local.table_name
    STATE_KEY     = local.state_key
    NFS_STATE_KEY = local.nfs_state_key
  }
  env_credentials = {
    USERNAME_ID            = aws_secretsmanager_secret.username.arn
    DEPLOYMENT_PASSWORD_ID = aws_secretsmanager_secret.deployment_password.arn
    ADMIN_PASSWORD_ID      = aws_secretsmanager_secret.admin_password.arn
  }
  # Lifecycle hooks of the backend ASG: an empty name means no hook.
  env_lifecycle = {
    ASG_NAME                      = local.asg_name
    LAUNCH_LIFECYCLE_HOOK_NAME    = var.launch_lifecycle_hook_enabled ? local.launch_hook_name : ""
    LAUNCH_HEARTBEAT_TIMEOUT      = "${var.launch_heartbeat_timeout}s"
    TERMINATE_LIFECYCLE_HOOK_NAME = var.terminate_lifecycle_hook_enabled ? local.terminate_hook_name : ""
    TERMINATE_HEARTBEAT_TIMEOUT   = "${var.terminate_heartbeat_timeout}s"
    LIFECYCLE_HEARTBEAT_INTERVAL  = "${var.lifecycle_heartbeat_interval}s"
    LIFECYCLE_DEADLINE_MARGIN     = "${var.lifecycle_deadline_margin}s"
  }
  # Who may call the instance-facing functions: the cluster's groups, and the certificate the
  # callers' identity documents must verify against (bare base64: Lambda's environment is 4 KB).
  # The identity certificate's base64 body only: the PEM armour and line breaks would spend
  # Lambda's 4 KB environment for nothing.
  identity_certificate = var.instance_identity_certificate == null ? "" : replace(
    replace(var.instance_identity_certificate, "/-----(BEGIN|END) CERTIFICATE-----/", ""), "/\\s/", ""
  )
  env_callers = {
    ASG_NAME                      = local.asg_name
    NFS_ASG_NAME                  = local.nfs_asg_name
    REGION                        = local.region
    INSTANCE_IDENTITY_CERTIFICATE = local.identity_certificate
  }
  env_protection = {
    STRIPE_WIDTH     = tostring(local.stripe_width)
    PROTECTION_LEVEL = tostring(var.protection_level)
    HOTSPARE         = tostring(var.hotspare)
  }

  function_env = {
    "deploy" = merge(local.env_common, {
      REGION                              = local.region
      TOKEN_ID                            = local.token_secret_arn
      COMPUTE_MEMORY                      = local.compute_mem
      COMPUTE_CONTAINER_CORES_NUM         = tostring(local.compute_cnum)
      FRONTEND_CONTAINER_CORES_NUM        = tostring(local.fe_cnum)
      DRIVE_CONTAINER_CORES_NUM           = tostring(local.containers.drive)
      NVMES_NUM                           = tostring(local.containers.nvme)
      INSTALL_URL                         = local.install_url
      INSTALL_DPDK                        = tostring(var.install_cluster_dpdk)
      NICS_NUM                            = tostring(local.nics_num)
      PROXY_URL                           = var.proxy_url
      NFS_INTERFACE_GROUP_NAME            = var.nfs_interface_group_name
      NFS_SECONDARY_IPS_NUM               = tostring(var.nfs_protocol_gateway_secondary_ips_per_nic)
      NFS_PROTOCOL_GATEWAY_FE_CORES_NUM   = tostring(var.nfs_protocol_gateway_fe_cores_num)
      SMB_PROTOCOL_GATEWAY_FE_CORES_NUM   = tostring(var.smb_protocol_gateway_fe_cores_num)
      S3_PROTOCOL_GATEWAY_FE_CORES_NUM    = tostring(var.s3_protocol_gateway_fe_cores_num)
      ALB_ARN_SUFFIX                      = try(aws_lb.this[0].arn_suffix, "")
      CGROUPS_MODE                        = var.weka_cgroups_mode
      NFS_PROTOCOL_GATEWAY_CGROUPS_MODE   = var.nfs_protocol_gateway_weka_cgroups_mode
      SMB_PROTOCOL_GATEWAY_CGROUPS_MODE   = var.smb_protocol_gateway_weka_cgroups_mode
      S3_PROTOCOL_GATEWAY_CGROUPS_MODE    = var.s3_protocol_gateway_weka_cgroups_mode
      CLUSTERIZE_LAMBDA_NAME              = local.lambda_names["clusterize"]
      REPORT_LAMBDA_NAME                  = local.lambda_names["report"]
      FETCH_LAMBDA_NAME                   = local.lambda_names["fetch"]
      STATUS_LAMBDA_NAME                  = local.lambda_names["status"]
      CLUSTERIZE_FINALIZATION_LAMBDA_NAME = local.lambda_names["clusterize-finalization"]
      # clusterize-finalization also plays the reference's join-nfs-finalization.
      JOIN_NFS_FINALIZATION_LAMBDA_NAME = local.lambda_names["clusterize-finalization"]
    })
    "clusterize" = merge(local.env_common, local.env_protection, local.env_callers, {
      HOSTS_NUM                           = tostring(var.cluster_size)
      PREFIX                              = local.p.obs
      ADMIN_PASSWORD_ID                   = aws_secretsmanager_secret.admin_password.arn
      DEPLOYMENT_PASSWORD_ID              = aws_secretsmanager_secret.deployment_password.arn
      SET_OBS                             = tostring(var.tiering_enable_obs_integration)
      OBS_NAME                            = var.tiering_enable_obs_integration ? local.obs_name : ""
      OBS_TIERING_SSD_PERCENT             = tostring(var.tiering_enable_ssd_percent)
      TIERING_TARGET_SSD_RETENTION        = tostring(var.tiering_obs_target_ssd_retention)
      TIERING_START_DEMOTE                = tostring(var.tiering_obs_start_demote)
      SET_DEFAULT_FS                      = tostring(var.set_default_fs)
      POST_CLUSTER_SETUP_SCRIPT           = var.post_cluster_setup_script
      FRONTEND_CONTAINER_CORES_NUM        = tostring(local.fe_cnum)
      PROXY_URL                           = var.proxy_url
      WEKA_HOME_URL                       = var.weka_home_url
      INSTALL_DPDK                        = tostring(var.install_cluster_dpdk)
      NFS_INTERFACE_GROUP_NAME            = var.nfs_interface_group_name
      NFS_PROTOCOL_GATEWAYS_NUM           = tostring(var.nfs_protocol_gateways_number)
      NFS_SETUP_PROTOCOL                  = tostring(var.nfs_setup_protocol)
      SMB_PROTOCOL_GATEWAYS_NUM           = tostring(var.smb_protocol_gateways_number)
      SMB_SETUP_PROTOCOL                  = tostring(var.smb_setup_protocol)
      SMB_CLUSTER_NAME                    = var.smb_cluster_name
      SMB_DOMAIN_NAME                     = var.smb_domain_name
      S3_PROTOCOL_GATEWAYS_NUM            = tostring(var.s3_protocol_gateways_number)
      S3_SETUP_PROTOCOL                   = tostring(var.s3_setup_protocol)
      ALB_ARN_SUFFIX                      = try(aws_lb.this[0].arn_suffix, "")
      CLUSTERIZE_TIMEOUT_MINUTES          = tostring(var.clusterize_timeout_minutes)
      CLUSTERIZE_FINALIZATION_LAMBDA_NAME = local.lambda_names["clusterize-finalization"]
      REPORT_LAMBDA_NAME                  = local.lambda_names["report"]
      FETCH_LAMBDA_NAME                   = local.lambda_names["fetch"]
      # Registered members poll clusterize until the cluster forms (takeover of a stale claim).
      CLUSTERIZE_LAMBDA_NAME            = local.lambda_names["clusterize"]
      STATUS_LAMBDA_NAME                = local.lambda_names["status"]
      JOIN_NFS_FINALIZATION_LAMBDA_NAME = local.lambda_names["clusterize-finalization"]
    })
    "clusterize-finalization" = merge(local.env_common, local.env_lifecycle, local.env_callers)
    "report" = merge(local.env_common, local.env_lifecycle, local.env_callers, {
      REPORTS_PER_HOST      = tostring(var.reports_per_host)
      REPORT_RETENTION_DAYS = tostring(var.report_retention_days)
    })
    # The inventory, floor and hooks as scale-fetch and scale-down have them: `{"type":"plan"}`
    # plans as scale-down does.
    "status" = merge(local.env_common, local.env_credentials, local.env_protection, local.env_lifecycle, {
      WEKA_API_URL_TEMPLATE         = var.weka_api_url_template
      WEKA_API_TIMEOUT              = var.weka_api_timeout
      ASG_NAME                      = local.asg_name
      NFS_ASG_NAME                  = local.nfs_asg_name
      ROLE                          = "backend"
      DOWN_BACKENDS_REMOVAL_TIMEOUT = var.debug_down_backends_removal_timeout
      MIN_CLUSTER_SIZE              = tostring(var.min_cluster_size)
      BOOTSTRAP_GRACE_MINUTES       = tostring(var.bootstrap_grace_minutes)
      MAX_TERMINATIONS_PER_RUN      = tostring(var.max_terminations_per_run)
    })
    "certificate" = {
      CLUSTER_NAME = var.cluster_name
    }
    "adopt" = merge(local.env_common, local.env_credentials, {
      WEKA_API_URL_TEMPLATE    = var.weka_api_url_template
      WEKA_API_TIMEOUT         = var.weka_api_timeout
      REFERENCE_STATE_TABLE    = local.reference_table_name
      REFERENCE_STATE_HASH_KEY = var.dynamodb_hash_key_name
      REFERENCE_STATE_KEY      = local.state_key
      REFERENCE_NFS_STATE_KEY  = local.nfs_state_key
    })
    # The callers' certificate: the admin password goes to the clusterization's claimant only.
    "fetch" = merge(local.env_common, local.env_credentials, local.env_callers, {
      ROLE                          = "backend"
      DOWN_BACKENDS_REMOVAL_TIMEOUT = var.debug_down_backends_removal_timeout
    })
    "scale-fetch" = merge(local.env_common, local.env_lifecycle, {
      ASG_NAME                      = local.asg_name
      NFS_ASG_NAME                  = local.nfs_asg_name
      ROLE                          = "backend"
      DOWN_BACKENDS_REMOVAL_TIMEOUT = var.debug_down_backends_removal_timeout
      SCALE_LEASE_TTL               = var.scale_lease_ttl
    })
    "scale-down" = merge(local.env_common, local.env_credentials, local.env_protection, local.env_lifecycle, {
      WEKA_API_URL_TEMPLATE  = var.weka_api_url_template
      WEKA_API_TIMEOUT       = var.weka_api_timeout
      MIN_CLUSTER_SIZE       = tostring(var.min_cluster_size)
      SCALE_LEASE_TTL        = var.scale_lease_ttl
      SCALE_DOWN_PARALLELISM = tostring(var.scale_down_parallelism)
    })
    "terminate" = merge(local.env_common, local.env_lifecycle, {
      ASG_NAME                 = local.asg_name
      NFS_ASG_NAME             = local.nfs_asg_name
      BOOTSTRAP_GRACE_MINUTES  = tostring(var.bootstrap_grace_minutes)
      MAX_TERMINATIONS_PER_RUN = tostring(var.max_terminations_per_run)
      SCALE_LEASE_TTL          = var.scale_lease_ttl
    })
    "transient" = {}
  }
}
