
# ---- NFS interface group setup (run by the last NFS gateway to register) ----
INTERFACE_GROUP_NAME=@@INTERFACE_GROUP_NAME@@
# Container uid and NIC name of every registered gateway, paired by index.
GATEWAY_CONTAINER_UIDS=(@@GATEWAY_CONTAINER_UIDS@@)
GATEWAY_NIC_NAMES=(@@GATEWAY_NIC_NAMES@@)
SECONDARY_IPS=(@@SECONDARY_IPS@@)

load_credentials

_weka_group_status() {
	local groups
	groups="$(rest_call GET interfacegroups)" || return 1
	WEKA_GROUP_UID="$(printf '%s' "$groups" | jq -r --arg name "$INTERFACE_GROUP_NAME" \
		'[.data[]? | select(.name == $name) | .uid][0] // empty')"
	WEKA_GROUP_STATUS="$(printf '%s' "$groups" | jq -r --arg name "$INTERFACE_GROUP_NAME" \
		'[.data[]? | select(.name == $name) | .status][0] // empty')"
}

_weka_group_ok() {
	_weka_group_status && [[ "$WEKA_GROUP_STATUS" == OK ]]
}

# Subnet mask and default gateway of the NIC the group serves on (this host's first gateway NIC).
_weka_prefix_to_mask() {
	local prefix=$1 mask="" i octet
	for ((i = 0; i < 4; i++)); do
		if ((prefix >= 8)); then
			octet=255
			prefix=$((prefix - 8))
		else
			octet=$((256 - (1 << (8 - prefix))))
			if ((prefix == 0)); then octet=0; fi
			prefix=0
		fi
		mask+="${mask:+.}$octet"
	done
	echo "$mask"
}

wait_or_die 30 10 "a REST API login on this gateway" rest_login
cidr="$(ip -o -f inet addr show "${GATEWAY_NIC_NAMES[0]}" | awk '{ print $4; exit }')"
[[ "$cidr" == */* ]] || die "no IPv4 address on NIC ${GATEWAY_NIC_NAMES[0]}"
subnet_mask="$(_weka_prefix_to_mask "${cidr#*/}")"
default_gateway="$(ip route show default | awk '{ print $3; exit }')"

_weka_group_status || die "listing interface groups failed"
if [[ -z "$WEKA_GROUP_UID" ]]; then
	rest_call POST interfacegroups "$(jq -cn --arg name "$INTERFACE_GROUP_NAME" --arg subnet "$subnet_mask" \
		--arg gateway "$default_gateway" '{name: $name, type: "nfs", subnet: $subnet, gateway: $gateway}')" \
		>/dev/null || die "creating interface group $INTERFACE_GROUP_NAME failed"
	_weka_group_status || die "listing interface groups failed"
	[[ -n "$WEKA_GROUP_UID" ]] || die "interface group $INTERFACE_GROUP_NAME missing after creation"
fi

for i in "${!GATEWAY_CONTAINER_UIDS[@]}"; do
	rest_call POST "interfacegroups/$WEKA_GROUP_UID/ports/${GATEWAY_CONTAINER_UIDS[i]}" \
		"$(jq -cn --arg port "${GATEWAY_NIC_NAMES[i]}" '{port: $port}')" >/dev/null ||
		die "adding port ${GATEWAY_NIC_NAMES[i]} of container ${GATEWAY_CONTAINER_UIDS[i]} failed"
done
wait_or_die 60 10 "interface group $INTERFACE_GROUP_NAME to be OK after adding ports" _weka_group_ok

for ip in "${SECONDARY_IPS[@]}"; do
	rest_call POST "interfacegroups/$WEKA_GROUP_UID/ips" "$(jq -cn --arg ip "$ip" '{ips: $ip}')" >/dev/null ||
		die "adding ip $ip to interface group $INTERFACE_GROUP_NAME failed"
done
wait_or_die 60 10 "interface group $INTERFACE_GROUP_NAME to be OK after adding ips" _weka_group_ok

mark_completed weka_nfs_setup_completion_validation
report_progress "NFS interface group $INTERFACE_GROUP_NAME configured"
clusterize_finalization '{"protocol":"nfs"}' >/dev/null || die "clusterize_finalization for nfs failed"
