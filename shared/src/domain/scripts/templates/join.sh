
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

# The installer comes from the deployment's own source, exactly as the backend deploy gets it
# (install_weka: get.weka.io over verified TLS with the token, or the configured tar / S3 URL),
# never from whatever answers on a backend IP: the reference fetched it from a backend with
# `curl --insecure` and ran it as root (review M8), so anyone who could answer on that address
# ran code on every new backend. Chosen over a checksum handed out by a Lambda, which the
# control plane cannot know for a backend's own installer; the verified source needs nothing
# new. The version the cluster runs is then taken from the backend by WEKA itself
# (`weka version get --from`).
install_weka
weka version get --from "$WEKA_BACKEND_IP:14000" "$WEKA_BACKEND_VERSION" --set-current ||
	die "fetching weka version $WEKA_BACKEND_VERSION from $WEKA_BACKEND_IP failed"
weka version prepare "$WEKA_BACKEND_VERSION" || die "preparing weka version $WEKA_BACKEND_VERSION failed"
weka local stop || true
weka local rm --all -f || true

join_ips="$(IFS=,; echo "${BACKEND_IPS[*]}")"
setup_backend_containers --join-ips "$join_ips" --management-ips "$management_ip"

load_credentials

_weka_operational() {
	local status
	# Read whole first: under pipefail `grep -q` closing the pipe early fails the CLI (SIGPIPE).
	status="$(weka debug manhole -s 0 operational_status 2>/dev/null)" || return 1
	grep -q '"is_ready": true' <<<"$status"
}
wait_or_die 300 2 "this host to become operational in the cluster" _weka_operational
wait_or_die 30 2 "a weka CLI login as $WEKA_USERNAME" weka_login "$WEKA_USERNAME" WEKA_PASSWORD

discover_nvme_devices
host_id="$(weka local run --container compute0 manhole getServerInfo | grep hostIdValue: | awk '{ print $2 }')"
[[ -n "$host_id" ]] || die "could not read this host's id from getServerInfo"
sign_nvme_devices

# This host's own container ids, as its containers report them (getServerInfo of every local
# container): a failed join deactivates exactly these, never another host's containers whose
# hostname merely contains this one (ip-10-0-0-1 is inside ip-10-0-0-12; review M8).
_weka_own_container_ids() {
	local name id
	while read -r name; do
		id="$(weka local run --container "$name" manhole getServerInfo 2>/dev/null |
			awk '$1 == "hostIdValue:" { print $2; exit }')" || continue
		if [[ "$id" =~ ^[0-9]+$ ]]; then
			echo "$id"
		fi
	done < <(weka local status -J | jq -r 'keys[]')
}

deactivate_and_exit() {
	local container_id
	local -a own=()
	report_error "$1" || true
	mapfile -t own < <(_weka_own_container_ids || true)
	for container_id in "${own[@]}"; do
		weka cluster container deactivate "$container_id" || true
	done
	exit 1
}
if ! wait_until 60 1 "weka cluster drive scan of host $host_id" weka cluster drive scan "$host_id"; then
	deactivate_and_exit "drive scan of host $host_id failed; deactivating this host's containers"
fi

weka events trigger-event "Scale up operation completed on host $HOSTNAME, data redistribution may still be running" || true
mark_completed weka_join_completion_validation
# The join is done once WEKA runs this host; the report only tells the control plane sooner. A
# report lost after its retries must not become an error report (which abandons the launch of a
# joined member): the control plane continues the launch from WEKA's own view instead.
if ! report_progress "Join completed successfully"; then
	echo "the join completion report was lost; the control plane continues this launch once it sees the host joined in WEKA" >&2
fi
