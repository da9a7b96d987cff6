
# ---- NFS gateway join: add this gateway's port to the existing interface group ----
INTERFACE_GROUP_NAME=@@INTERFACE_GROUP_NAME@@

_weka_group_uid() {
	local groups
	rest_login || return 1
	groups="$(rest_call GET interfacegroups)" || return 1
	WEKA_GROUP_UID="$(printf '%s' "$groups" | jq -r --arg name "$INTERFACE_GROUP_NAME" \
		'[.data[]? | select(.name == $name) | .uid][0] // empty')"
	[[ -n "$WEKA_GROUP_UID" ]]
}

_weka_group_ok() {
	local groups
	groups="$(rest_call GET interfacegroups)" || return 1
	[[ "$(printf '%s' "$groups" | jq -r --arg name "$INTERFACE_GROUP_NAME" \
		'[.data[]? | select(.name == $name) | .status][0] // empty')" == OK ]]
}

wait_or_die 30 10 "interface group $INTERFACE_GROUP_NAME to exist" _weka_group_uid
rest_call POST "interfacegroups/$WEKA_GROUP_UID/ports/$WEKA_CONTAINER_UID" \
	"$(jq -cn --arg port "$nic_name" '{port: $port}')" >/dev/null ||
	die "adding port $nic_name of container $WEKA_CONTAINER_UID to interface group $INTERFACE_GROUP_NAME failed"
wait_or_die 12 10 "interface group $INTERFACE_GROUP_NAME to be OK" _weka_group_ok
join_nfs_finalization "$(jq -cn --arg name "$VM" '{name: $name, protocol: "nfs"}')" >/dev/null ||
	die "join_nfs_finalization for $VM failed"
mark_completed weka_nfs_join_completion_validation
report_progress "NFS gateway joined interface group $INTERFACE_GROUP_NAME"
