###############################################################################
# Variables of the reference module (weka/terraform-aws-weka) that this module did not have.
# Each one either works with the reference's meaning, or is declared only so that a reference
# main.tf that uses it stops at plan with a message naming the variable and what to use
# instead: none is accepted and then ignored (README "Differences from the reference").
###############################################################################

# -----------------------------------------------------------------------------
# Implemented with the reference's meaning
# -----------------------------------------------------------------------------
variable "alb_dns_name" {
  type        = string
  default     = null
  description = "DNS name clients use to reach the ALB (no scheme), e.g. a record in a zone of another account whose name matches alb_cert_arn's certificate. null: the Route 53 alias (alb_alias_name) if created, else the ALB's own DNS name. Also the alb_dns_name output."
  validation {
    condition     = var.alb_dns_name == null || can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$", var.alb_dns_name))
    error_message = "alb_dns_name must be a bare DNS name such as weka.example.com (no https://, port or path)."
  }
}

variable "alb_subnet_id" {
  type        = string
  default     = ""
  description = "First subnet of the ALB; empty = the cluster subnet. The ALB's second subnet (another AZ) is alb_additional_subnet_id."
  validation {
    condition     = var.alb_subnet_id == "" || startswith(var.alb_subnet_id, "subnet-")
    error_message = "alb_subnet_id must be a subnet id (subnet-...) or empty."
  }
}

variable "nfs_protocol_gateway_subnet_id" {
  type        = string
  default     = null
  description = "Subnet of the NFS protocol gateways (their NFS ASG and DPDK NICs); null = the cluster subnet. Must be in the cluster's VPC and reach the backends."
  validation {
    condition     = var.nfs_protocol_gateway_subnet_id == null || startswith(coalesce(var.nfs_protocol_gateway_subnet_id, "-"), "subnet-")
    error_message = "nfs_protocol_gateway_subnet_id must be a subnet id (subnet-...) or null."
  }
}

variable "smb_protocol_gateway_subnet_id" {
  type        = string
  default     = null
  description = "Subnet of the SMB protocol gateways; null = the cluster subnet. Must be in the cluster's VPC and reach the backends."
  validation {
    condition     = var.smb_protocol_gateway_subnet_id == null || startswith(coalesce(var.smb_protocol_gateway_subnet_id, "-"), "subnet-")
    error_message = "smb_protocol_gateway_subnet_id must be a subnet id (subnet-...) or null."
  }
}

variable "s3_protocol_gateway_subnet_id" {
  type        = string
  default     = null
  description = "Subnet of the S3 protocol gateways; null = the cluster subnet. Must be in the cluster's VPC and reach the backends."
  validation {
    condition     = var.s3_protocol_gateway_subnet_id == null || startswith(coalesce(var.s3_protocol_gateway_subnet_id, "-"), "subnet-")
    error_message = "s3_protocol_gateway_subnet_id must be a subnet id (subnet-...) or null."
  }
}

variable "client_placement_group_name" {
  type        = string
  default     = null
  description = "Existing placement group for the clients. null: the backends' placement group (client_use_backends_placement_group), else none. Only with use_placement_group."
  validation {
    condition     = var.client_placement_group_name != ""
    error_message = "client_placement_group_name may not be an empty string (use null)."
  }
}

variable "client_use_backends_placement_group" {
  type        = bool
  default     = true
  description = "Clients join the backends' placement group (when use_placement_group and no client_placement_group_name)."
}

variable "client_arch" {
  type        = string
  default     = null
  description = "Architecture of the default client AMI: arm64 or x86_64; null = from client_instance_type (Graviton families such as c7g, m7g, c6gn: arm64). Ignored with client_instance_ami_id."
  validation {
    condition     = var.client_arch == null || contains(["arm64", "x86_64"], coalesce(var.client_arch, "-"))
    error_message = "client_arch must be arm64, x86_64 or null."
  }
}

variable "clients_custom_data_pre_mount" {
  type        = string
  default     = ""
  description = "Shell commands run on clients before the WEKA agent is installed and the filesystem mounted."
}

variable "clients_weka_cgroups_mode" {
  type        = string
  default     = "force_v2"
  description = "WEKA cgroups mode of the clients (WEKA_CGROUPS_MODE of the agent installer)."
  validation {
    condition     = contains(["auto", "force_v2"], var.clients_weka_cgroups_mode)
    error_message = "clients_weka_cgroups_mode must be auto or force_v2."
  }
}

variable "lambda_iam_role_arn" {
  type        = string
  default     = ""
  description = "Existing IAM role for every function (the reference's one shared role); the module then creates no function role. Needs the union of the per-function policies (README, IAM) and a trust policy for lambda.amazonaws.com. lambda_iam_role_arns overrides it per function."
  validation {
    condition     = var.lambda_iam_role_arn == "" || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.lambda_iam_role_arn))
    error_message = "lambda_iam_role_arn must be an IAM role ARN (arn:aws:iam::<account>:role/<name>) or empty."
  }
}

variable "lambda_iam_role_arns" {
  type        = map(string)
  default     = {}
  description = "Existing IAM role per function, keyed by function name (deploy, clusterize, clusterize-finalization, report, status, fetch, scale-fetch, scale-down, terminate, transient); each needs that function's policy only (README, IAM). Functions not named use lambda_iam_role_arn, else a role the module creates."
  validation {
    condition = alltrue([for name, arn in var.lambda_iam_role_arns :
      contains(["deploy", "clusterize", "clusterize-finalization", "report", "status", "fetch", "scale-fetch", "scale-down", "terminate", "transient"], name) &&
      can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))
    ])
    error_message = "lambda_iam_role_arns keys must be function names (deploy, clusterize, clusterize-finalization, report, status, fetch, scale-fetch, scale-down, terminate, transient) and values IAM role ARNs."
  }
}

# -----------------------------------------------------------------------------
# Not supported: declared so that a value other than the default stops the plan with what to
# do instead. The defaults do nothing here, as in the reference (except data_services_number:
# 2 there, 0 here, because this module creates no data-services instances).
# -----------------------------------------------------------------------------
variable "vpc_endpoint_proxy_create" {
  type        = bool
  default     = false
  description = "Not supported (the reference's endpoint to WEKA's PrivateLink proxy service). Must stay false."
  validation {
    condition     = !var.vpc_endpoint_proxy_create
    error_message = "vpc_endpoint_proxy_create = true is not supported by this module (no endpoint to WEKA's managed proxy service is created). Remove it and give the instances a way out instead: proxy_url (your own HTTP proxy), a NAT gateway (subnet_autocreate_as_private = true with create_nat_gateway = true, or your subnet's own), or install_weka_url on S3 with vpc_endpoint_s3_gateway_create = true."
  }
}

variable "clients_use_autoscaling_group" {
  type        = bool
  default     = false
  description = "Not supported: clients are plain instances (clients_number). Must stay false."
  validation {
    condition     = !var.clients_use_autoscaling_group
    error_message = "clients_use_autoscaling_group = true is not supported: this module creates clients_number plain client instances, no client Auto Scaling group. Remove clients_use_autoscaling_group, or put the client user data in an Auto Scaling group of your own."
  }
}

variable "data_services_number" {
  type        = number
  default     = 0
  description = "Not supported: this module creates no data-services instances. Must be 0 (the reference's default is 2)."
  validation {
    condition     = var.data_services_number == 0
    error_message = "data_services_number must be 0: this module creates no data-services instances (the reference's data_services_* feature). Remove data_services_number and every other data_services_* variable."
  }
}

variable "data_services_instance_type" {
  type        = string
  default     = "m6i.xlarge"
  description = "Not supported (no data-services instances). Must keep the default."
  validation {
    condition     = var.data_services_instance_type == "m6i.xlarge"
    error_message = "data_services_instance_type is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}

variable "data_services_instance_ami_id" {
  type        = string
  default     = null
  description = "Not supported (no data-services instances). Must stay null."
  validation {
    condition     = var.data_services_instance_ami_id == null
    error_message = "data_services_instance_ami_id is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}

variable "data_services_instance_iam_profile_arn" {
  type        = string
  default     = ""
  description = "Not supported (no data-services instances). Must stay empty."
  validation {
    condition     = var.data_services_instance_iam_profile_arn == ""
    error_message = "data_services_instance_iam_profile_arn is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}

variable "data_services_subnet_id" {
  type        = string
  default     = null
  description = "Not supported (no data-services instances). Must stay null."
  validation {
    condition     = var.data_services_subnet_id == null
    error_message = "data_services_subnet_id is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}

variable "data_services_root_volume_size" {
  type        = number
  default     = null
  description = "Not supported (no data-services instances). Must stay null."
  validation {
    condition     = var.data_services_root_volume_size == null
    error_message = "data_services_root_volume_size is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}

variable "data_services_weka_volume_size" {
  type        = number
  default     = 48
  description = "Not supported (no data-services instances). Must keep the default."
  validation {
    condition     = var.data_services_weka_volume_size == 48
    error_message = "data_services_weka_volume_size is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}

variable "data_services_capacity_reservation_id" {
  type        = string
  default     = null
  description = "Not supported (no data-services instances). Must stay null."
  validation {
    condition     = var.data_services_capacity_reservation_id == null
    error_message = "data_services_capacity_reservation_id is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}

variable "data_services_weka_cgroups_mode" {
  type        = string
  default     = "force_v2"
  description = "Not supported (no data-services instances). Must keep the default."
  validation {
    condition     = var.data_services_weka_cgroups_mode == "force_v2"
    error_message = "data_services_weka_cgroups_mode is not supported: this module creates no data-services instances. Remove every data_services_* variable."
  }
}
