
clusterize_script="$WEKA_RUN_DIR/clusterize.sh"
clusterize_request="$(jq -cn --arg name "$VM" --arg protocol "$WEKA_PROTOCOL" \
	--arg uid "$WEKA_CONTAINER_UID" --arg nic "$nic_name" \
	'{name: $name, protocol: $protocol, container_uid: $uid, nic_name: $nic}')"
clusterize "$clusterize_request" >"$clusterize_script" || die "clusterize call for $VM failed"
chmod 700 "$clusterize_script"
# Its output also goes to /var/log (only root can write there), not to a fixed name in /tmp.
mkdir -p "$WEKA_SCRIPT_ROOT/var/log"
if ! bash "$clusterize_script" 2>&1 | tee -a "$WEKA_SCRIPT_ROOT/var/log/weka_clusterization.log"; then
	echo "clusterize script failed; it reported its own error" >&2
	exit 1
fi
