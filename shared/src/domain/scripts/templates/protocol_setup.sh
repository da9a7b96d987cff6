
# ---- SMB / S3 protocol cluster setup (every gateway of the protocol runs it) ----
# The gateways of this protocol, as Auto Scaling-less EC2 instances tagged for it, by private IP;
# the first (lowest instance id) creates the cluster, the others wait to be in it. A gateway
# finding the cluster without its own container (a replacement, or a second run) adds it. Every
# step looks before it acts, so a rerun or a rebooted gateway changes nothing twice.
PROTOCOL_KIND=@@PROTOCOL_KIND@@
SMB_CLUSTER_NAME=@@SMB_CLUSTER_NAME@@
SMB_DOMAIN_NAME=@@SMB_DOMAIN_NAME@@
S3_DEFAULT_FS=@@S3_DEFAULT_FS@@
S3_PORT=@@S3_PORT@@
CONFIG_FS=.config_fs
GATEWAY_IPS=(@@GATEWAY_IPS@@)
CREATOR_IP=@@CREATOR_IP@@
OWN_IP=@@OWN_IP@@
VM=@@VM@@
if [[ "$PROTOCOL_KIND" == smb ]]; then
	PROTOCOL_LABEL=SMB
else
	PROTOCOL_LABEL=S3
fi

load_credentials
weka_login "$WEKA_USERNAME" WEKA_PASSWORD || die "weka user login failed"

# Sets GATEWAY_CONTAINER_IDS (in GATEWAY_IPS order) and OWN_CONTAINER_ID; succeeds once every
# gateway's frontend0 container is ACTIVE and UP in WEKA.
_weka_gateway_containers_up() {
	local containers ip id
	containers="$(weka cluster container -J 2>/dev/null)" || return 1
	GATEWAY_CONTAINER_IDS=()
	for ip in "${GATEWAY_IPS[@]}"; do
		id="$(printf '%s' "$containers" | jq -r --arg ip "$ip" \
			'[.[]? | select(.host_ip == $ip and .container_name == "frontend0"
				and .state == "ACTIVE" and .status == "UP") | .host_id][0] // empty')"
		id="${id#HostId<}"
		id="${id%>}"
		[[ "$id" =~ ^[0-9]+$ ]] || return 1
		GATEWAY_CONTAINER_IDS+=("$id")
		if [[ "$ip" == "$OWN_IP" ]]; then
			OWN_CONTAINER_ID="$id"
		fi
	done
	[[ -n "${OWN_CONTAINER_ID:-}" ]]
}

# Sets PROTOCOL_MEMBERS to the protocol cluster's container ids; fails while there is none.
_weka_protocol_members() {
	local members
	members="$(weka "$PROTOCOL_KIND" cluster status -J 2>/dev/null)" || return 1
	mapfile -t PROTOCOL_MEMBERS < <(printf '%s' "$members" | jq -r '.[]?.container_id')
	((${#PROTOCOL_MEMBERS[@]} > 0))
}

_weka_is_member() {
	local id
	for id in "${PROTOCOL_MEMBERS[@]}"; do
		[[ "$id" == "$OWN_CONTAINER_ID" ]] && return 0
	done
	return 1
}

_weka_member_or_added() {
	_weka_protocol_members || return 1
	_weka_is_member && return 0
	_weka_add_self
}

_weka_add_self() {
	if [[ "$PROTOCOL_KIND" == smb ]]; then
		weka smb cluster containers add --container-ids "$OWN_CONTAINER_ID" ||
			die "adding container $OWN_CONTAINER_ID to the SMB cluster failed"
	else
		weka s3 cluster containers add "$OWN_CONTAINER_ID" ||
			die "adding container $OWN_CONTAINER_ID to the S3 cluster failed"
	fi
	report_progress "container $OWN_CONTAINER_ID added to the $PROTOCOL_LABEL cluster"
}

_weka_create_protocol_cluster() {
	local ids
	ids="$(
		IFS=,
		echo "${GATEWAY_CONTAINER_IDS[*]}"
	)"
	report_progress "creating the $PROTOCOL_LABEL cluster on containers $ids"
	if [[ "$PROTOCOL_KIND" == smb ]]; then
		weka smb cluster create "$SMB_CLUSTER_NAME" "$SMB_DOMAIN_NAME" "$CONFIG_FS" --container-ids "$ids" ||
			die "weka smb cluster create $SMB_CLUSTER_NAME $SMB_DOMAIN_NAME on containers $ids failed"
	else
		weka s3 cluster create "$S3_DEFAULT_FS" "$CONFIG_FS" --container "$ids" --port "$S3_PORT" ||
			die "weka s3 cluster create on containers $ids failed"
	fi
}

wait_or_die 60 10 "the frontend0 containers of ${#GATEWAY_IPS[@]} $PROTOCOL_LABEL gateways to be up" \
	_weka_gateway_containers_up
if _weka_protocol_members; then
	_weka_is_member || _weka_add_self
elif [[ "$OWN_IP" == "$CREATOR_IP" ]]; then
	_weka_create_protocol_cluster
else
	wait_or_die 60 10 "gateway $CREATOR_IP to create the $PROTOCOL_LABEL cluster" _weka_member_or_added
fi
wait_or_die 30 10 "the $PROTOCOL_LABEL cluster to list container $OWN_CONTAINER_ID" _weka_member_or_added
mark_completed "weka_${PROTOCOL_KIND}_setup_completion_validation"
report_progress "$PROTOCOL_LABEL protocol gw: $VM is in the $PROTOCOL_LABEL cluster (container $OWN_CONTAINER_ID)"
