
# ---- join (backend launched after clusterization) ----
BACKEND_IPS=(@@BACKEND_IPS@@)

failure_domain
setup_weka_volume
report_progress "Joining new instance $VM started"

find_live_backend "${BACKEND_IPS[@]}"
_weka_has_ipv4() {
	[[ -n "$(_weka_first_ip)" ]]
}
wait_or_die 60 2 "an IPv4 address on the first interface" _weka_has_ipv4
management_ip="$(_weka_first_ip)"

mkdir -p "$WEKA_SCRIPT_ROOT/tmp/weka-install"
wait_or_die 30 10 "the weka installer from backend $WEKA_BACKEND_IP" \
	curl --insecure --fail --silent --show-error --max-time 60 \
	--output "$WEKA_SCRIPT_ROOT/tmp/weka-install/install.sh" "https://$WEKA_BACKEND_IP:14000/dist/v1/install"
(cd "$WEKA_SCRIPT_ROOT/tmp/weka-install" && PROXY="$PROXY_URL" WEKA_CGROUPS_MODE="$CGROUPS_MODE" bash ./install.sh) ||
	die "weka installation from backend $WEKA_BACKEND_IP failed"
weka version get --from "$WEKA_BACKEND_IP:14000" "$WEKA_BACKEND_VERSION" --set-current ||
	die "fetching weka version $WEKA_BACKEND_VERSION from $WEKA_BACKEND_IP failed"
weka version prepare "$WEKA_BACKEND_VERSION" || die "preparing weka version $WEKA_BACKEND_VERSION failed"
weka local stop || true
weka local rm --all -f || true

join_ips="$(IFS=,; echo "${BACKEND_IPS[*]}")"
setup_backend_containers --join-ips "$join_ips" --management-ips "$management_ip"

load_credentials

_weka_operational() {
	weka debug manhole -s 0 operational_status 2>/dev/null | grep -q '"is_ready": true'
}
wait_or_die 300 2 "this host to become operational in the cluster" _weka_operational

discover_nvme_devices
host_id="$(weka local run --container compute0 manhole getServerInfo | grep hostIdValue: | awk '{ print $2 }')"
[[ -n "$host_id" ]] || die "could not read this host's id from getServerInfo"
sign_nvme_devices

deactivate_and_exit() {
	local container_id
	report_error "$1" || true
	weka cluster container | grep -F -- "$HOSTNAME" | awk '{ print $1 }' | while read -r container_id; do
		weka cluster container deactivate "$container_id" || true
	done
	exit 1
}
if ! wait_until 60 1 "weka cluster drive scan of host $host_id" weka cluster drive scan "$host_id"; then
	deactivate_and_exit "drive scan of host $host_id failed; deactivating this host's containers"
fi

weka events trigger-event "Scale up operation completed on host $HOSTNAME, data redistribution may still be running" || true
mkdir -p "$WEKA_SCRIPT_ROOT/tmp"
touch "$WEKA_SCRIPT_ROOT/tmp/weka_join_completion_validation"
report_progress "Join completed successfully"
