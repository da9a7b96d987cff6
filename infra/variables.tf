###############################################################################
# Naming
###############################################################################
variable "prefix" {
  type        = string
  default     = "weka"
  description = "Prefix of every resource name."
}

variable "custom_prefix" {
  type        = map(string)
  default     = {}
  description = "Per-kind prefix overrides. Keys: lb, db, kms, cloudwatch, sfn, lambda, secrets, ec2, iam, obs."
  validation {
    condition     = alltrue([for k in keys(var.custom_prefix) : contains(["lb", "db", "kms", "cloudwatch", "sfn", "lambda", "secrets", "ec2", "iam", "obs"], k)])
    error_message = "custom_prefix keys must be among: lb, db, kms, cloudwatch, sfn, lambda, secrets, ec2, iam, obs."
  }
}

variable "cluster_name" {
  type        = string
  default     = "poc"
  description = "WEKA cluster name; part of every resource name and of the weka_cluster_name tag."
  validation {
    condition     = can(regex("^[A-Za-z0-9][A-Za-z0-9-]*$", var.cluster_name))
    error_message = "cluster_name may contain letters, digits and dashes only."
  }
}

variable "tags_map" {
  type        = map(string)
  default     = {}
  description = "Tags applied to every taggable resource."
}

###############################################################################
# Networking
###############################################################################
variable "availability_zones" {
  type        = list(string)
  default     = []
  description = "AZs for the subnets the module creates (only used when subnet_ids is empty). Empty = first AZs of the region."
  validation {
    condition     = length(var.availability_zones) <= 1
    error_message = "Only one availability zone is supported for the cluster subnet."
  }
}

variable "subnet_ids" {
  type        = list(string)
  default     = []
  description = "Existing subnet ids; the first one hosts the backends. Empty = the module creates a VPC and subnet."
  validation {
    condition     = length(var.subnet_ids) <= 2
    error_message = "At most two subnets (cluster subnet, optional additional subnet) are supported."
  }
}

variable "vpc_cidr" {
  type        = string
  default     = "10.0.0.0/16"
  description = "CIDR of the VPC created when subnet_ids is empty."
}

variable "subnets_cidrs" {
  type        = list(string)
  default     = ["10.0.1.0/24"]
  description = "CIDR of the cluster subnet created when subnet_ids is empty."
  validation {
    condition     = length(var.subnets_cidrs) == 1
    error_message = "Exactly one subnet CIDR is supported."
  }
}

variable "subnet_autocreate_as_private" {
  type        = bool
  default     = false
  description = "Create the cluster subnet as private (route through a NAT gateway when create_nat_gateway is true)."
}

variable "create_nat_gateway" {
  type        = bool
  default     = false
  description = "Create a NAT gateway (in a public subnet nat_public_subnet_cidr) for a private cluster subnet."
}

variable "nat_public_subnet_cidr" {
  type        = string
  default     = "10.0.2.0/24"
  description = "CIDR of the public subnet that hosts the NAT gateway."
}

variable "assign_public_ip" {
  type        = string
  default     = "auto"
  description = "Public IPs on instances: true, false or auto (= public unless subnet_autocreate_as_private or given subnets)."
  validation {
    condition     = contains(["true", "false", "auto"], var.assign_public_ip)
    error_message = "assign_public_ip must be one of: true, false, auto."
  }
}

variable "sg_ids" {
  type        = list(string)
  default     = []
  description = "Existing security groups for instances (and VPC lambdas unless lambda_sg_ids). Empty = the module creates one."
}

variable "lambda_sg_ids" {
  type        = list(string)
  default     = []
  description = "Security groups for VPC-attached lambdas. Empty = module-created lambda SG, or sg_ids when given."
}

variable "allow_ssh_cidrs" {
  type        = list(string)
  default     = []
  description = "CIDRs allowed to reach port 22 on instances (module-created SG only)."
}

variable "allow_weka_api_cidrs" {
  type        = list(string)
  default     = []
  description = "CIDRs allowed to reach port 14000 on backends/ALB (module-created SGs only). The VPC CIDR is always allowed."
}

variable "alb_allow_https_cidrs" {
  type        = list(string)
  default     = []
  description = "CIDRs allowed to reach port 443 on the ALB."
}

variable "sg_custom_ingress_rules" {
  type = list(object({
    from_port  = number
    to_port    = number
    protocol   = string
    cidr_block = string
  }))
  default     = []
  description = "Extra ingress rules for the module-created instance security group."
}

variable "enable_lambda_vpc_config" {
  type        = bool
  default     = false
  description = "Attach all lambdas to the VPC. status and scale-down are always attached (they call WEKA on TCP 14000)."
}

variable "secretmanager_use_vpc_endpoint" {
  type        = bool
  default     = true
  description = "Secrets are read through a Secrets Manager VPC endpoint (VPC lambdas have no other path without NAT)."
}

variable "secretmanager_create_vpc_endpoint" {
  type        = bool
  default     = true
  description = "Create the Secrets Manager interface endpoint (when secretmanager_use_vpc_endpoint)."
}

variable "secretmanager_sg_ids" {
  type        = list(string)
  default     = []
  description = "Security groups of the Secrets Manager endpoint. Empty = module-created endpoint SG."
}

variable "vpc_endpoint_ec2_create" {
  type        = bool
  default     = null
  description = "Create an EC2 interface endpoint. null (default): when a VPC-attached function (status) or an instance without a public IP calls EC2 and the module created no NAT gateway."
}

variable "vpc_endpoint_lambda_create" {
  type        = bool
  default     = null
  description = "Create a Lambda interface endpoint. null (default): when instances get no public IP and the module created no NAT gateway (their scripts invoke the functions)."
}

variable "vpc_endpoint_autoscaling_create" {
  type        = bool
  default     = null
  description = "Create an Auto Scaling interface endpoint. null (default): when a VPC-attached function (status) calls Auto Scaling and the module created no NAT gateway."
}

variable "vpc_endpoint_s3_gateway_create" {
  type        = bool
  default     = false
  description = "Create an S3 gateway endpoint."
}

variable "vpc_endpoint_dynamodb_gateway_create" {
  type        = bool
  default     = null
  description = "Create a DynamoDB gateway endpoint (free). null (default): when a VPC-attached function (status, scale-down) needs it and the module created no NAT gateway."
}

###############################################################################
# Backends
###############################################################################
variable "instance_type" {
  type        = string
  default     = "i3en.2xlarge"
  description = "Backend instance type: a key of containers_config_map (i3en.*, or the Graviton i8ge.*, which boot the arm64 AMI)."
  validation {
    condition     = contains(keys(var.containers_config_map), var.instance_type)
    error_message = "instance_type must be a key of containers_config_map (by default i3en.2xlarge .. i3en.24xlarge and i8ge.2xlarge .. i8ge.48xlarge); for another type add its entry to containers_config_map."
  }
}

variable "ami_id" {
  type        = string
  default     = null
  description = "Backend AMI. Null = latest Amazon Linux 2023 matching ami_name_filter, arm64 for Graviton types (i8ge.*), x86_64 otherwise."
}

variable "ami_name_filter" {
  type        = string
  default     = "al2023-ami-2023*-kernel-6.1-*"
  description = "Name filter of the default Amazon-owned AMI when ami_id (or a gateway/client AMI id) is null; the architecture (arm64 for Graviton instance types, else x86_64) is filtered separately."
}

variable "root_device_name" {
  type        = string
  default     = "/dev/xvda"
  description = "Root device name of the AMIs (Amazon Linux: /dev/xvda); used only when a root volume size is set."
}

variable "containers_config_map" {
  type = map(object({
    compute  = number
    drive    = number
    frontend = number
    nvme     = number
    nics     = number
    memory   = list(string)
  }))
  description = "Per instance type: WEKA container cores, NVMe count, NICs, compute memory [without FE, with dedicated FE]."
  default = {
    "i3en.2xlarge"  = { compute = 1, drive = 1, frontend = 1, nvme = 2, nics = 4, memory = ["32.9GB", "32.64GB"] }
    "i3en.3xlarge"  = { compute = 1, drive = 1, frontend = 1, nvme = 1, nics = 4, memory = ["62GB", "61.7GB"] }
    "i3en.6xlarge"  = { compute = 4, drive = 2, frontend = 1, nvme = 2, nics = 8, memory = ["136.5GB", "136.2GB"] }
    "i3en.12xlarge" = { compute = 4, drive = 2, frontend = 1, nvme = 4, nics = 8, memory = ["310.7GB", "310.4GB"] }
    "i3en.24xlarge" = { compute = 9, drive = 4, frontend = 1, nvme = 8, nics = 15, memory = ["384GB", "384GB"] }
    "i8ge.2xlarge"  = { compute = 1, drive = 1, frontend = 1, nvme = 2, nics = 4, memory = ["32.9GB", "32.64GB"] }
    "i8ge.3xlarge"  = { compute = 3, drive = 1, frontend = 1, nvme = 1, nics = 6, memory = ["62GB", "61.7GB"] }
    "i8ge.6xlarge"  = { compute = 6, drive = 2, frontend = 1, nvme = 2, nics = 10, memory = ["136.5GB", "136.2GB"] }
    "i8ge.12xlarge" = { compute = 6, drive = 4, frontend = 1, nvme = 4, nics = 12, memory = ["310.7GB", "310.4GB"] }
    "i8ge.18xlarge" = { compute = 11, drive = 3, frontend = 1, nvme = 6, nics = 16, memory = ["347GB", "347GB"] }
    "i8ge.24xlarge" = { compute = 10, drive = 4, frontend = 1, nvme = 8, nics = 16, memory = ["384GB", "384GB"] }
    "i8ge.48xlarge" = { compute = 14, drive = 8, frontend = 1, nvme = 16, nics = 24, memory = ["384GB", "384GB"] }
  }
  validation {
    condition     = alltrue([for m in flatten([for i in values(var.containers_config_map) : i.memory]) : can(tonumber(trimsuffix(m, "GB"))) && tonumber(trimsuffix(m, "GB")) <= 384])
    error_message = "Compute memory must look like \"32.9GB\" and be at most 384GB."
  }
}

variable "cluster_size" {
  type        = number
  default     = 6
  description = "Number of backends (initial ASG desired = min capacity; max = 7x)."
  validation {
    condition     = var.cluster_size >= 6 && floor(var.cluster_size) == var.cluster_size
    error_message = "cluster_size must be an integer >= 6."
  }
}

variable "weka_version" {
  type        = string
  default     = ""
  description = "WEKA version to install (used in the default install URL)."
  validation {
    # The reference required one of the two too; without either no backend can install.
    condition     = var.weka_version != "" || var.install_weka_url != ""
    error_message = "Set weka_version (e.g. 4.4.2) or install_weka_url."
  }
}

variable "get_weka_io_token" {
  type        = string
  default     = ""
  sensitive   = true
  description = "get.weka.io token; stored in Secrets Manager (and therefore in Terraform state). Not needed when get_weka_io_token_secret_id is set."
}

variable "get_weka_io_token_secret_id" {
  type        = string
  default     = ""
  description = "ARN of an existing secret holding the get.weka.io token; when set no token secret is created."
  validation {
    condition     = var.get_weka_io_token_secret_id == "" || can(regex("^arn:aws[a-z-]*:secretsmanager:", var.get_weka_io_token_secret_id))
    error_message = "get_weka_io_token_secret_id must be a full secret ARN (the instance role is scoped to it)."
  }
}

variable "install_weka_url" {
  type        = string
  default     = ""
  description = "WEKA install URL; empty = get.weka.io URL for weka_version (the literal $TOKEN is expanded on the instance)."
}

variable "ssh_public_key" {
  type        = string
  default     = null
  description = "Public key for a key pair the module creates."
}

variable "key_pair_name" {
  type        = string
  default     = null
  description = "Existing EC2 key pair name."
}

variable "enable_key_pair" {
  type        = bool
  default     = true
  description = "Use a key pair: key_pair_name, or one made from ssh_public_key, or (neither given) one EC2 generates at apply with the AWS CLI of the machine applying, its private key written 0600 to ssh_private_key_path. false: no key (SSM Session Manager)."
}

variable "ssh_private_key_path" {
  type        = string
  default     = null
  description = "Where the generated key pair's private key is written (mode 0600). null: /tmp/<prefix>-<cluster_name>-private-key.pem, as the seed shows."
}

variable "use_placement_group" {
  type        = bool
  default     = true
  description = "Put backends into a cluster placement group."
}

variable "placement_group_name" {
  type        = string
  default     = null
  description = "Existing placement group; null = create one when use_placement_group."
  validation {
    condition     = var.placement_group_name != ""
    error_message = "placement_group_name may not be an empty string (use null)."
  }
}

variable "set_dedicated_fe_container" {
  type        = bool
  default     = false
  description = "Create a dedicated frontend container on each backend."
}

variable "protection_level" {
  type        = number
  default     = 2
  description = "WEKA data protection level (2 or 4; with the other data-protection variables checked at plan by infra/modules/geometry, the rules clusterize applies)."
}

variable "stripe_width" {
  type        = number
  default     = -1
  description = "WEKA stripe width; -1 = min(cluster_size - protection_level - 1, 16)."
}

variable "hotspare" {
  type        = number
  default     = 1
  description = "WEKA hot spares."
}

variable "min_cluster_size" {
  type        = number
  default     = 0
  description = "Scale-down never shrinks the cluster below this; 0 = derive from stripe width, protection and hot spares."
  validation {
    condition     = var.min_cluster_size == 0 || var.min_cluster_size >= 6
    error_message = "min_cluster_size must be 0 (derive) or >= 6."
  }
}

variable "instance_iam_profile_arn" {
  type        = string
  default     = ""
  description = "Existing instance profile for backends (and gateways unless theirs are given); empty = created."
}

variable "additional_instance_iam_policy_statement" {
  type = list(object({
    Effect   = string
    Action   = list(string)
    Resource = list(string)
  }))
  default     = null
  description = "Extra statements for the backend instance role."
}

variable "proxy_url" {
  type        = string
  default     = ""
  description = "HTTP(S) proxy for instances and WEKA."
}

variable "weka_home_url" {
  type        = string
  default     = ""
  description = "Local WEKA Home URL."
}

variable "backends_weka_volume_size" {
  type        = number
  default     = 48
  description = "Size (GB) of the /opt/weka gp3 volume at /dev/sdp."
}

variable "backends_root_volume_size" {
  type        = number
  default     = null
  description = "Root volume size (GB); null = AMI default."
}

variable "metadata_http_tokens" {
  type        = string
  default     = "required"
  description = "IMDS token mode for all instances (IMDSv2 = required)."
  validation {
    condition     = contains(["required", "optional"], var.metadata_http_tokens)
    error_message = "metadata_http_tokens must be required or optional."
  }
}

variable "install_cluster_dpdk" {
  type        = bool
  default     = true
  description = "Run WEKA with DPDK (one extra NIC per core)."
}

variable "custom_data" {
  type        = string
  default     = ""
  description = "Shell commands run by the backend user data before WEKA deployment."
}

variable "ebs_encrypted" {
  type        = bool
  default     = true
  description = "Encrypt EBS volumes."
}

variable "ebs_kms_key_id" {
  type        = string
  default     = null
  description = "KMS key for EBS volumes; null = AWS managed key."
}

variable "capacity_reservation_id" {
  type        = string
  default     = null
  description = "Capacity reservation for backends."
}

variable "weka_cgroups_mode" {
  type        = string
  default     = "force_v2"
  description = "WEKA cgroups mode on backends."
  validation {
    condition     = contains(["auto", "force_v2", "force"], var.weka_cgroups_mode)
    error_message = "weka_cgroups_mode must be auto, force or force_v2."
  }
}

variable "debug_down_backends_removal_timeout" {
  type        = string
  default     = "3h"
  description = "How long a backend may be DOWN before scale-down removes it (duration, e.g. 3h, 30m)."
  validation {
    condition     = can(regex("^([0-9]+(h|m|s))+$", var.debug_down_backends_removal_timeout))
    error_message = "debug_down_backends_removal_timeout must be a duration such as 3h, 90m or 1h30m."
  }
}

###############################################################################
# Clusterization options
###############################################################################
variable "set_default_fs" {
  type        = bool
  default     = true
  description = "Create the default filesystem at clusterization."
}

variable "post_cluster_setup_script" {
  type        = string
  default     = ""
  description = "Script run after clusterization."
}

variable "clusterize_timeout_minutes" {
  type        = number
  default     = 60
  description = "How long clusterization may take before it is considered failed."
}

variable "tiering_enable_obs_integration" {
  type        = bool
  default     = false
  description = "Attach an S3 bucket for tiering."
}

variable "tiering_obs_name" {
  type        = string
  default     = ""
  description = "Existing S3 bucket for tiering; empty = clusterize creates <obs prefix>-<cluster>-obs."
}

variable "tiering_enable_ssd_percent" {
  type        = number
  default     = 20
  description = "Share of filesystem capacity on SSD when tiering."
}

variable "tiering_obs_target_ssd_retention" {
  type        = number
  default     = 86400
  description = "Seconds before data is tiered to OBS."
}

variable "tiering_obs_start_demote" {
  type        = number
  default     = 10
  description = "Seconds before data starts to be demoted to OBS."
}

variable "tiering_obs_iam_bucket_prefix" {
  type        = string
  default     = ""
  description = "Bucket name prefix the instance role may access for tiering; empty = the OBS bucket name."
}

###############################################################################
# DynamoDB, secrets, lambdas, state machine
###############################################################################
variable "dynamodb_table_name" {
  type        = string
  default     = ""
  description = "Name of the state table the module creates; empty = <db prefix>-<cluster>-weka-state (not the reference table's name, which a migrated deployment keeps beside it)."
}

variable "reference_state_table_name" {
  type        = string
  default     = null
  description = "Migrating from WEKA's module: the state table it created (read by the adopt function only, never written); null = its default name, <db prefix>-<cluster>-weka-deployment."
}

variable "dynamodb_hash_key_name" {
  type        = string
  default     = ""
  description = "The hash key of WEKA's module's state table, as there (\"\" = Key): read by the adopt function when taking over a cluster it formed. This module's own table is keyed pk/sk."
}

variable "dynamodb_kms_key_arn" {
  type        = string
  default     = null
  description = "CMK for the state table; null = AWS owned key."
}

variable "dynamodb_deletion_protection" {
  type        = bool
  default     = false
  description = "Enable deletion protection on the state table."
}

variable "secretmanager_enable_encryption" {
  type        = bool
  default     = false
  description = "Encrypt secrets with a CMK (secretmanager_kms_key_id or one the module creates)."
}

variable "secretmanager_kms_key_id" {
  type        = string
  default     = null
  description = "Existing CMK ARN for the secrets (with secretmanager_enable_encryption)."
}

variable "secretmanager_recovery_window_in_days" {
  type        = number
  default     = 7
  description = "Recovery window of deleted secrets (0 = delete at once)."
  validation {
    condition     = var.secretmanager_recovery_window_in_days == 0 || (var.secretmanager_recovery_window_in_days >= 7 && var.secretmanager_recovery_window_in_days <= 30)
    error_message = "secretmanager_recovery_window_in_days must be 0 or 7..30."
  }
}

variable "lambdas_dir" {
  type        = string
  default     = null
  description = "Directory with <function>/bootstrap.zip (cargo lambda build --release --arm64 -o zip); null = <repo>/target/lambda."
}

variable "lambdas_upload_s3_bucket" {
  type        = string
  default     = null
  description = "Existing S3 bucket in the deployment's region to stage the zips of lambdas_dir in (<lambda name>/bootstrap.zip); the functions then take their code from there, which lets the AWS provider create them in parallel (it uploads local zips one function at a time). null = direct upload of the local zips."
}

variable "lambdas_custom_s3_bucket" {
  type        = string
  default     = null
  description = "Bucket holding a release of the functions (make package: <function>.zip, SHA256SUMS, manifest.json), read in place: nothing is compiled or uploaded. Its key prefix is lambdas_custom_s3_key (or lambdas_version). null = the zips of lambdas_dir."
  validation {
    condition     = var.lambdas_custom_s3_bucket == null || var.lambdas_upload_s3_bucket == null
    error_message = "lambdas_custom_s3_bucket (a published release) and lambdas_upload_s3_bucket (staging local zips) exclude each other: set one."
  }
  validation {
    condition     = var.lambdas_custom_s3_bucket == null || var.lambdas_custom_s3_key != null || var.lambdas_version != null
    error_message = "lambdas_custom_s3_bucket needs the release's key prefix: lambdas_custom_s3_key (e.g. \"weka-aws-lambdas/0.3.0\") or lambdas_version (the prefix is then the version)."
  }
}

variable "lambdas_custom_s3_key" {
  type        = string
  default     = null
  description = "Key prefix of the release in lambdas_custom_s3_bucket (the directory holding manifest.json). WEKA's module took one zip's key here; this module's release is one zip per function plus a manifest."
}

variable "lambdas_version" {
  type        = string
  default     = null
  description = "Release of the functions to deploy: checked against the release's manifest; with lambdas_custom_s3_bucket and no lambdas_custom_s3_key, also its key prefix. null = whatever the release found is."
}

variable "lambdas_dist" {
  type        = string
  default     = "release"
  description = "release: only a published release (a version without a pre-release suffix, e.g. 0.3.0) is deployed from a manifest; dev: development builds (0.0.0-<commit>) too. WEKA's module used it to pick its own buckets."
  validation {
    condition     = contains(["release", "dev"], var.lambdas_dist)
    error_message = "lambdas_dist must be release or dev."
  }
}

variable "lambda_log_level" {
  type        = string
  default     = "INFO"
  description = "Application log level of the lambdas (JSON logging)."
  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.lambda_log_level)
    error_message = "lambda_log_level must be TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
  }
}

variable "lambda_memory_size" {
  type        = number
  default     = 128
  description = "Memory (MB) of every lambda."
  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240
    error_message = "lambda_memory_size must be between 128 and 10240 MB."
  }
}

variable "lambda_memory_sizes" {
  type        = map(number)
  default     = {}
  description = "Per-function memory overrides (MB), keyed by function name; scale-down of a large cluster needs more than the others (see README, Sizing)."
  validation {
    condition     = alltrue([for name, mb in var.lambda_memory_sizes : contains(["deploy", "clusterize", "clusterize-finalization", "report", "status", "fetch", "scale-fetch", "scale-down", "terminate", "transient"], name) && mb >= 128 && mb <= 10240])
    error_message = "lambda_memory_sizes keys must be function names (deploy, clusterize, clusterize-finalization, report, status, fetch, scale-down, terminate, transient) and values between 128 and 10240 MB."
  }
}

variable "lambda_tracing_mode" {
  type        = string
  default     = "PassThrough"
  description = "X-Ray tracing mode of the lambdas (Active or PassThrough)."
  validation {
    condition     = contains(["Active", "PassThrough"], var.lambda_tracing_mode)
    error_message = "lambda_tracing_mode must be Active or PassThrough."
  }
}

variable "lambda_timeouts" {
  type        = map(number)
  default     = {}
  description = "Per-function timeout overrides (seconds), keyed by function name."
}

variable "lambda_architecture" {
  type        = string
  default     = "arm64"
  description = "Lambda architecture matching the zips (cargo lambda build --arm64)."
  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "log_retention_days" {
  type        = number
  default     = 30
  description = "Retention of the lambda and state machine log groups."
}

variable "cloudwatch_kms_key_id" {
  type        = string
  default     = null
  description = "CMK ARN for the log groups; null = CloudWatch default encryption."
}

variable "reports_per_host" {
  type        = number
  default     = 200
  description = "report lambda: entries kept per host."
}

variable "report_retention_days" {
  type        = number
  default     = 30
  description = "report lambda: days a report item lives (DynamoDB TTL)."
}

variable "weka_api_url_template" {
  type        = string
  default     = "http://{ip}:14000/api/v1"
  description = "URL of the WEKA API on a backend; {ip} is replaced with its private IP."
}

variable "bootstrap_grace_minutes" {
  type        = number
  default     = 30
  description = "terminate lambda: minutes a new backend may take to join before it is replaced."
}

variable "max_terminations_per_run" {
  type        = number
  default     = 50
  description = "terminate lambda: upper bound of instances terminated per state machine run."
}

variable "sfn_iam_role_arn" {
  type        = string
  default     = ""
  description = "Existing role for the state machine; empty = created."
}

variable "event_iam_role_arn" {
  type        = string
  default     = ""
  description = "Existing role for the EventBridge rule; empty = created."
}

variable "sfn_log_level" {
  type        = string
  default     = "ALL"
  description = "State machine log level."
  validation {
    condition     = contains(["ALL", "ERROR", "FATAL", "OFF"], var.sfn_log_level)
    error_message = "sfn_log_level must be ALL, ERROR, FATAL or OFF."
  }
}

variable "scale_down_schedule_enabled" {
  type        = bool
  default     = true
  description = "Enable the one-minute EventBridge rule that starts the scale-down state machine."
}

variable "asg_events_enabled" {
  type        = bool
  default     = true
  description = "Enable the EventBridge rule that starts the scale state machine at once on the cluster ASGs' launch, termination and lifecycle-action events (the one-minute schedule still runs)."
}

###############################################################################
# ASG lifecycle hooks (backend group)
###############################################################################
variable "launch_lifecycle_hook_enabled" {
  type        = bool
  default     = true
  description = "Hold each new backend in Pending:Wait until it has joined the cluster (the first cluster_size: until the cluster formed); a failure report, or no progress for launch_heartbeat_timeout seconds, abandons it and the ASG replaces it. The initial instances get the hook through the ASG's initial_lifecycle_hook; changing this on an existing deployment adds or removes the hook for later launches only."
}

variable "launch_heartbeat_timeout" {
  type        = number
  default     = 900
  description = "Seconds a new backend may go without progress before its launch is abandoned. Progress reports restart it (at most every lifecycle_heartbeat_interval). 900 covers the longest quiet stretches of an install: the package download and the 10-minute wait to become operational in the cluster."
  validation {
    condition     = var.launch_heartbeat_timeout >= 120 && var.launch_heartbeat_timeout <= 7200
    error_message = "launch_heartbeat_timeout must be between 120 and 7200 seconds (the AWS maximum)."
  }
}

variable "terminate_lifecycle_hook_enabled" {
  type        = bool
  default     = true
  description = "Hold a backend the ASG terminates on its own (manual TerminateInstanceInAutoScalingGroup, AZ rebalancing) in Terminating:Wait while WEKA deactivates it; terminations the control plane chose itself continue at once."
}

variable "terminate_heartbeat_timeout" {
  type        = number
  default     = 900
  description = "Seconds a terminating backend may go without a heartbeat. While WEKA is still deactivating it the control plane heartbeats the hook, up to the hook's global timeout (100 times this, at most 48 h); it is let go lifecycle_deadline_margin seconds before that even when the deactivation has not finished (the default result is CONTINUE)."
  validation {
    condition     = var.terminate_heartbeat_timeout >= 120 && var.terminate_heartbeat_timeout <= 7200
    error_message = "terminate_heartbeat_timeout must be between 120 and 7200 seconds (the AWS maximum)."
  }
}

variable "lifecycle_heartbeat_interval" {
  type        = number
  default     = 30
  description = "Seconds between two lifecycle heartbeats of one instance (throttle, tracked in the state table)."
  validation {
    condition     = var.lifecycle_heartbeat_interval >= 5 && var.lifecycle_heartbeat_interval < var.launch_heartbeat_timeout
    error_message = "lifecycle_heartbeat_interval must be at least 5 seconds and shorter than launch_heartbeat_timeout."
  }
}

variable "lifecycle_deadline_margin" {
  type        = number
  default     = 120
  description = "Seconds before the terminate hook's deadline at which the control plane lets the instance go (two scale ticks)."
  validation {
    condition     = var.lifecycle_deadline_margin >= 60 && var.lifecycle_deadline_margin < var.terminate_heartbeat_timeout
    error_message = "lifecycle_deadline_margin must be at least 60 seconds and shorter than terminate_heartbeat_timeout."
  }
}

###############################################################################
# ALB
###############################################################################
variable "create_alb" {
  type        = bool
  default     = true
  description = "Create an internal ALB in front of the backends: HTTPS listeners on 14000 and 443 with alb_cert_arn's certificate, else a self-signed one the module makes (README, ALB); the targets are reached over HTTPS on 14000."
}

variable "alb_additional_subnet_id" {
  type        = string
  default     = ""
  description = "Second subnet (other AZ) for the ALB when subnet_ids are given."
}

variable "alb_additional_subnet_cidr_block" {
  type        = string
  default     = "10.0.3.0/24"
  description = "CIDR of the second ALB subnet the module creates."
}

variable "alb_additional_subnet_zone" {
  type        = string
  default     = ""
  description = "AZ of the second ALB subnet; empty = the next AZ of the region."
}

variable "alb_cert_arn" {
  type        = string
  default     = null
  description = "ACM certificate of the ALB's HTTPS listeners (14000 and 443). null: the module makes a self-signed one for the ALB's names (its certificate function imports it into ACM; the key never passes through Terraform; renewed in place before it expires), as the reference; clients verify against it."
}

variable "alb_sg_ids" {
  type        = list(string)
  default     = []
  description = "Security groups of the ALB; empty = module-created."
}

variable "alb_route53_zone_id" {
  type        = string
  default     = ""
  description = "Route 53 zone for an alias record to the ALB."
}

variable "alb_alias_name" {
  type        = string
  default     = ""
  description = "Alias record name in alb_route53_zone_id."
}

###############################################################################
# Protocol gateways and clients
###############################################################################
variable "nfs_protocol_gateways_number" {
  type        = number
  default     = 0
  description = "NFS protocol gateways (ASG)."
  validation {
    condition     = var.nfs_protocol_gateways_number == 0 || (var.nfs_protocol_gateways_number >= 2 && var.nfs_protocol_gateways_number <= 32)
    error_message = "nfs_protocol_gateways_number must be 0 or 2..32."
  }
}

variable "nfs_protocol_gateway_instance_type" {
  type        = string
  default     = "c5n.2xlarge"
  description = "NFS gateway instance type."
}

variable "nfs_protocol_gateway_instance_ami_id" {
  type        = string
  default     = null
  description = "NFS gateway AMI; null = default AMI."
}

variable "nfs_protocol_gateway_instance_iam_profile_arn" {
  type        = string
  default     = ""
  description = "NFS gateway instance profile; empty = backend profile."
}

variable "nfs_protocol_gateway_secondary_ips_per_nic" {
  type        = number
  default     = 3
  description = "Secondary IPs per NFS gateway NIC."
}

variable "nfs_protocol_gateway_fe_cores_num" {
  type        = number
  default     = 1
  description = "Frontend cores per NFS gateway."
}

variable "nfs_protocol_gateway_weka_volume_size" {
  type        = number
  default     = 48
  description = "NFS gateway /opt/weka volume size (GB)."
}

variable "nfs_protocol_gateway_root_volume_size" {
  type        = number
  default     = null
  description = "NFS gateway root volume size (GB)."
}

variable "nfs_setup_protocol" {
  type        = bool
  default     = true
  description = "Configure NFS on the gateways."
}

variable "nfs_interface_group_name" {
  type        = string
  default     = "weka-ig"
  description = "NFS interface group name."
  validation {
    condition     = length(var.nfs_interface_group_name) <= 11
    error_message = "nfs_interface_group_name must be at most 11 characters."
  }
}

variable "nfs_capacity_reservation_id" {
  type        = string
  default     = null
  description = "Capacity reservation for NFS gateways."
}

variable "nfs_protocol_gateway_weka_cgroups_mode" {
  type        = string
  default     = "force_v2"
  description = "cgroups mode on NFS gateways."
  validation {
    condition     = contains(["auto", "force_v2", "force"], var.nfs_protocol_gateway_weka_cgroups_mode)
    error_message = "Must be auto, force or force_v2."
  }
}

variable "smb_protocol_gateways_number" {
  type        = number
  default     = 0
  description = "SMB protocol gateways (plain instances)."
  validation {
    condition     = var.smb_protocol_gateways_number == 0 || (var.smb_protocol_gateways_number >= 3 && var.smb_protocol_gateways_number <= 8)
    error_message = "smb_protocol_gateways_number must be 0 or 3..8."
  }
}

variable "smb_protocol_gateway_instance_type" {
  type        = string
  default     = "c5n.2xlarge"
  description = "SMB gateway instance type."
}

variable "smb_protocol_gateway_instance_ami_id" {
  type        = string
  default     = null
  description = "SMB gateway AMI; null = default AMI."
}

variable "smb_protocol_gateway_instance_iam_profile_arn" {
  type        = string
  default     = ""
  description = "SMB gateway instance profile; empty = backend profile."
}

variable "smb_protocol_gateway_secondary_ips_per_nic" {
  type        = number
  default     = 0
  description = "Secondary IPs per SMB gateway NIC."
}

variable "smb_protocol_gateway_fe_cores_num" {
  type        = number
  default     = 1
  description = "Frontend cores per SMB gateway."
}

variable "smb_protocol_gateway_weka_volume_size" {
  type        = number
  default     = 48
  description = "SMB gateway /opt/weka volume size (GB)."
}

variable "smb_protocol_gateway_root_volume_size" {
  type        = number
  default     = null
  description = "SMB gateway root volume size (GB)."
}

variable "smb_setup_protocol" {
  type        = bool
  default     = true
  description = "Configure SMB on the gateways."
}

variable "smbw_enabled" {
  type        = bool
  default     = true
  description = "Use SMB-W."
}

variable "smb_cluster_name" {
  type        = string
  default     = "Weka-SMB"
  description = "SMB cluster name."
  validation {
    condition     = length(var.smb_cluster_name) > 0 && length(var.smb_cluster_name) <= 15
    error_message = "smb_cluster_name must be 1..15 characters."
  }
}

variable "smb_domain_name" {
  type        = string
  default     = ""
  description = "SMB AD domain."
}

variable "smb_capacity_reservation_id" {
  type        = string
  default     = null
  description = "Capacity reservation for SMB gateways."
}

variable "smb_protocol_gateway_weka_cgroups_mode" {
  type        = string
  default     = "force_v2"
  description = "cgroups mode on SMB gateways."
  validation {
    condition     = contains(["auto", "force_v2", "force"], var.smb_protocol_gateway_weka_cgroups_mode)
    error_message = "Must be auto, force or force_v2."
  }
}

variable "s3_protocol_gateways_number" {
  type        = number
  default     = 0
  description = "S3 protocol gateways (plain instances)."
  validation {
    condition     = var.s3_protocol_gateways_number >= 0 && var.s3_protocol_gateways_number <= 16
    error_message = "s3_protocol_gateways_number must be 0..16."
  }
}

variable "s3_protocol_gateway_instance_type" {
  type        = string
  default     = "c5n.2xlarge"
  description = "S3 gateway instance type."
}

variable "s3_protocol_gateway_instance_ami_id" {
  type        = string
  default     = null
  description = "S3 gateway AMI; null = default AMI."
}

variable "s3_protocol_gateway_instance_iam_profile_arn" {
  type        = string
  default     = ""
  description = "S3 gateway instance profile; empty = backend profile."
}

variable "s3_protocol_gateway_fe_cores_num" {
  type        = number
  default     = 1
  description = "Frontend cores per S3 gateway."
}

variable "s3_protocol_gateway_weka_volume_size" {
  type        = number
  default     = 48
  description = "S3 gateway /opt/weka volume size (GB)."
}

variable "s3_protocol_gateway_root_volume_size" {
  type        = number
  default     = null
  description = "S3 gateway root volume size (GB)."
}

variable "s3_setup_protocol" {
  type        = bool
  default     = true
  description = "Configure S3 on the gateways."
}

variable "s3_capacity_reservation_id" {
  type        = string
  default     = null
  description = "Capacity reservation for S3 gateways."
}

variable "s3_protocol_gateway_weka_cgroups_mode" {
  type        = string
  default     = "force_v2"
  description = "cgroups mode on S3 gateways."
  validation {
    condition     = contains(["auto", "force_v2", "force"], var.s3_protocol_gateway_weka_cgroups_mode)
    error_message = "Must be auto, force or force_v2."
  }
}

variable "clients_number" {
  type        = number
  default     = 0
  description = "WEKA client instances that mount the cluster."
  validation {
    condition     = var.clients_number >= 0 && var.clients_number <= 1000
    error_message = "clients_number must be 0..1000."
  }
}

variable "client_instance_type" {
  type        = string
  default     = "c5.2xlarge"
  description = "Client instance type."
}

variable "client_instance_ami_id" {
  type        = string
  default     = null
  description = "Client AMI; null = the default Amazon Linux 2023 AMI of client_arch."
}

variable "client_instance_iam_profile_arn" {
  type        = string
  default     = ""
  description = "Client instance profile; empty = a created client profile (describe ASG/instances only)."
}

variable "client_frontend_cores" {
  type        = number
  default     = 1
  description = "Frontend cores per client (one extra NIC each with DPDK)."
}

variable "clients_use_dpdk" {
  type        = bool
  default     = true
  description = "Mount clients in DPDK mode."
}

variable "clients_root_volume_size" {
  type        = number
  default     = 48
  description = "Client root volume size (GB)."
}

variable "clients_custom_data" {
  type        = string
  default     = ""
  description = "Shell commands run on clients last, after clients_custom_data_post_mount (the reference's order; it calls this one deprecated in favour of clients_custom_data_post_mount)."
}

variable "client_capacity_reservation_id" {
  type        = string
  default     = null
  description = "Capacity reservation for clients."
}

variable "clients_custom_data_post_mount" {
  type        = string
  default     = ""
  description = "Shell commands run on clients after mounting."
}

variable "attach_ssm_policy" {
  type        = bool
  default     = true
  description = "Attach AmazonSSMManagedInstanceCore to the created instance roles (SSM Session Manager access)."
}

variable "weka_api_timeout" {
  type        = string
  description = "Per-request timeout of the WEKA JSON-RPC calls made by the status and scale-down functions (Go-style duration)."
  default     = "5s"
}

variable "scale_lease_ttl" {
  type        = string
  description = "Lifetime of the lease that keeps two scale executions from acting at once; longer than any step, shorter than the state machine timeout (both checked at plan)."
  default     = "3m"
  validation {
    condition     = can(regex("^([0-9]+[hms])+$", var.scale_lease_ttl))
    error_message = "scale_lease_ttl is a duration like 3m, 180s or 1m30s."
  }
}

variable "scale_down_parallelism" {
  type        = number
  description = "How many machines scale-down acts on concurrently through the WEKA API."
  default     = 16
  validation {
    condition     = var.scale_down_parallelism >= 1 && var.scale_down_parallelism <= 64
    error_message = "scale_down_parallelism must be between 1 and 64."
  }
}

variable "instance_identity_certificate" {
  type        = string
  default     = null
  description = <<-EOT
    AWS's RSA public certificate for the deployment's region, as listed under "AWS public
    certificates for instance identity document signatures" in the EC2 user guide (the "RSA"
    one, for the base64-encoded signature), PEM. When set, `clusterize`,
    `clusterize-finalization` and `report` accept a state-changing request only from the
    instance it concerns, proven by its signed identity document. When null, requests are bound
    to instances of the cluster's groups, but not to the calling instance (README, Trust model).
  EOT
  validation {
    condition = var.instance_identity_certificate == null || can(regex(
      "^-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\\s]+-----END CERTIFICATE-----\\s*$",
      var.instance_identity_certificate
    ))
    error_message = "instance_identity_certificate must be one PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)."
  }
}

variable "instance_function_reserved_concurrency" {
  type        = number
  default     = 10
  nullable    = true
  description = "Reserved concurrency of each function instances call (deploy, clusterize, clusterize-finalization, report, status, fetch): caps what the hosts can take from the account's Lambda concurrency (scripts retry a throttled call). null leaves them unreserved (accounts whose concurrency quota is too small to reserve from)."
  validation {
    condition     = var.instance_function_reserved_concurrency == null || try(var.instance_function_reserved_concurrency >= 1, false)
    error_message = "instance_function_reserved_concurrency must be at least 1, or null."
  }
}

###############################################################################
# Metrics, alarms and notifications (monitoring.tf; README "Metrics and alarms").
###############################################################################
variable "monitoring_enabled" {
  type        = bool
  default     = true
  description = "Create the CloudWatch alarms (state machine, every Lambda, the control plane's own metrics), the dashboard, and the notification wiring below. false creates none of them (the functions still write their metric lines)."
}

variable "alarm_sns_topic_create" {
  type        = bool
  default     = false
  description = "Create an SNS topic the alarms and the failed-execution EventBridge rule notify (with monitoring_enabled). Set alarm_sns_topic_arn instead to use a topic of your own."
}

variable "alarm_sns_topic_arn" {
  type        = string
  default     = ""
  description = "An existing SNS topic the alarms and the failed-execution rule notify, when alarm_sns_topic_create is false. Its policy must let cloudwatch.amazonaws.com and events.amazonaws.com publish, and its KMS key (if any) must be a customer-managed key they may use. \"\" with alarm_sns_topic_create = false: alarms without actions, no rule."
  validation {
    condition     = var.alarm_sns_topic_arn == "" || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$", var.alarm_sns_topic_arn))
    error_message = "alarm_sns_topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>) or \"\"."
  }
}

variable "alarm_email_subscribers" {
  type        = list(string)
  default     = []
  description = "E-mail addresses subscribed to the alarm topic (each must confirm the subscription AWS mails them)."
  validation {
    condition     = alltrue([for e in var.alarm_email_subscribers : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "alarm_email_subscribers must be e-mail addresses."
  }
}

variable "sns_kms_key_id" {
  type        = string
  default     = null
  description = "KMS key (id, ARN or alias) of the created alarm topic. null creates a customer-managed key whose policy lets CloudWatch alarms and EventBridge publish: with the AWS-managed alias/aws/sns key they cannot, and notifications are silently lost."
}

variable "alarm_aws_period_seconds" {
  type        = number
  default     = 300
  description = "Period of the state machine and Lambda alarms (seconds, a multiple of 60)."
  validation {
    condition     = var.alarm_aws_period_seconds >= 60 && var.alarm_aws_period_seconds % 60 == 0
    error_message = "alarm_aws_period_seconds must be a multiple of 60, at least 60."
  }
}

variable "alarm_sfn_failures_threshold" {
  type        = number
  default     = 1
  description = "Failed (or timed-out) scale executions in one alarm_aws_period_seconds that raise the state machine alarms."
  validation {
    condition     = var.alarm_sfn_failures_threshold >= 1
    error_message = "alarm_sfn_failures_threshold must be at least 1."
  }
}

variable "alarm_lambda_threshold" {
  type        = number
  default     = 1
  description = "Errors (or throttles) of one function in one alarm_aws_period_seconds that raise its alarm."
  validation {
    condition     = var.alarm_lambda_threshold >= 1
    error_message = "alarm_lambda_threshold must be at least 1."
  }
}

variable "alarm_lease_held_minutes" {
  type        = number
  default     = 15
  description = "Minutes in a row in which every scale step found the scale lease held by another execution before the lease-stuck alarm fires."
  validation {
    condition     = var.alarm_lease_held_minutes >= 1 && var.alarm_lease_held_minutes <= 1440
    error_message = "alarm_lease_held_minutes must be between 1 and 1440."
  }
}

variable "alarm_floor_refusal_minutes" {
  type        = number
  default     = 60
  description = "Minutes in a row in which the safety floor refused part of every scale-down run before the floor-refusal alarm fires."
  validation {
    condition     = var.alarm_floor_refusal_minutes >= 1 && var.alarm_floor_refusal_minutes <= 1440
    error_message = "alarm_floor_refusal_minutes must be between 1 and 1440."
  }
}

variable "alarm_launch_wait_fraction" {
  type        = number
  default     = 0.8
  description = "The launch-wait alarm fires when a waiting launch has gone this fraction of launch_heartbeat_timeout without progress (its hook would abandon it at 1)."
  validation {
    condition     = var.alarm_launch_wait_fraction > 0 && var.alarm_launch_wait_fraction < 1
    error_message = "alarm_launch_wait_fraction must be between 0 and 1 (exclusive)."
  }
}
