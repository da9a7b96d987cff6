
# ---- clusterization (run by the instance that completed the registration set) ----
CLUSTER_NAME=@@CLUSTER_NAME@@
# Instance ids and private IPs, paired by instance id by the generator (same index = same host).
HOST_IDS=(@@HOST_IDS@@)
HOST_IPS=(@@HOST_IPS@@)
STRIPE_WIDTH=@@STRIPE_WIDTH@@
PROTECTION_LEVEL=@@PROTECTION_LEVEL@@
HOT_SPARE=@@HOT_SPARE@@
# 0 keeps WEKA's default raft council size.
RAFT_SIZE=@@RAFT_SIZE@@
ADD_FRONTEND=@@ADD_FRONTEND@@
INSTALL_DPDK=@@INSTALL_DPDK@@
PROXY_URL=@@PROXY_URL@@
WEKA_HOME_URL=@@WEKA_HOME_URL@@
SET_DEFAULT_FS=@@SET_DEFAULT_FS@@
TIERING_TARGET_SSD_RETENTION=@@TIERING_TARGET_SSD_RETENTION@@
TIERING_START_DEMOTE=@@TIERING_START_DEMOTE@@
SET_OBS=@@SET_OBS@@
OBS_BUCKET=@@OBS_BUCKET@@
OBS_SSD_PERCENT=@@OBS_SSD_PERCENT@@
POST_CLUSTER_SCRIPT=@@POST_CLUSTER_SCRIPT@@

report_progress "Clusterization of ${#HOST_IDS[@]} instances started"
load_credentials admin

container_names=()
host_ips=()
containers=(drives0:14000 compute0:15000)
if [[ "$ADD_FRONTEND" == true ]]; then
	containers+=(frontend0:16000)
fi
for i in "${!HOST_IDS[@]}"; do
	for c in "${containers[@]}"; do
		container_names+=("${HOST_IDS[i]}-${c%%:*}")
		host_ips+=("${HOST_IPS[i]}:${c##*:}")
	done
done
host_ips_csv="$(IFS=,; echo "${host_ips[*]}")"

# A member taking over a stale claim may find the members formed into a cluster already (the
# clusterizer before it got past `start-io`, then its finalization was lost). `cluster create`
# would fail on hosts already in a cluster: the formed cluster is finalized as it stands instead.
# Before any cluster exists the login fails (no user database) and the cluster is created.
_weka_io_started() {
	local io
	io="$(weka status -J 2>/dev/null | jq -r '.io_status // empty' 2>/dev/null)" || return 1
	[[ "$io" == STARTED ]]
}
# The deployment user the Lambdas log in as (review M2). Without it the deployment secret names
# a user WEKA does not know and the control plane never logs in again (no scale-down, healing or
# live status): the clusterization fails here, before `clusterize-finalization`, so the group is
# never marked clusterized without it. Three tries 10 s apart. Idempotent: a user that already
# exists (a retried or taken-over clusterization) is success. The password goes on stdin.
_weka_user_exists() {
	weka user -J 2>/dev/null | jq -e --arg u "$1" 'any(.[]?; .username == $u)' >/dev/null 2>&1
}
ensure_deployment_user() {
	local attempt
	for attempt in 1 2 3; do
		if weka_secret_stdin WEKA_PASSWORD user add "$WEKA_USERNAME" clusteradmin; then
			return 0
		fi
		if _weka_user_exists "$WEKA_USERNAME"; then
			echo "the deployment user $WEKA_USERNAME already exists" >&2
			return 0
		fi
		if ((attempt < 3)); then
			sleep 10
		fi
	done
	die "adding the deployment user $WEKA_USERNAME failed after 3 attempts: the control plane could not log in to heal, scale down or read status, so the cluster is not finalized"
}

# shellcheck disable=SC2034 # read through weka_login's variable name
WEKA_DEFAULT_ADMIN_PASSWORD='admin'
# What a previous clusterizer left (a member taking over a stale claim): WEKA's own view decides,
# never a second `cluster create` on hosts already in a cluster.
#   io started            -> the cluster formed, its finalization was lost: finalize it as is;
#   generated admin login -> created, password set, io not started yet: resume after the create;
#   default admin login   -> created, died before the password change: resume at the change;
#   neither               -> no cluster yet (no user database): create it.
# A login alone proves nothing: the cluster must also list drives containers.
_weka_has_drives_containers() {
	local rows
	# Read whole first: `grep -q` closing the pipe early would fail the CLI with SIGPIPE.
	rows="$(weka cluster container 2>/dev/null)" || return 1
	grep -q drives0 <<<"$rows"
}
cluster_found=none
if weka_login admin WEKA_ADMIN_PASSWORD >/dev/null 2>&1; then
	if _weka_io_started; then
		report_progress "The members already form a cluster with io started: finalizing it, not creating it again"
		ensure_deployment_user
		mark_completed weka_clusterization_completion_validation
		clusterize_finalization '{}' || die "clusterize_finalization failed"
		exit 0
	fi
	if _weka_has_drives_containers; then
		cluster_found=password_set
	fi
fi
if [[ "$cluster_found" == none ]] && weka_login admin WEKA_DEFAULT_ADMIN_PASSWORD >/dev/null 2>&1 &&
	_weka_has_drives_containers; then
	cluster_found=created
fi

# No password on any command line (review M7): the cluster is created with WEKA's default admin
# password, which is then changed at once to the generated one; every password goes to the CLI's
# password prompt on stdin (weka_secret_stdin). The default password is no secret and is good
# only for the moment between `cluster create` and `user passwd`, before any backend joined.
if [[ "$cluster_found" == none ]]; then
	if ! weka cluster create "${container_names[@]}" --host-ips "$host_ips_csv"; then
		die "weka cluster create failed"
	fi
	weka_login admin WEKA_DEFAULT_ADMIN_PASSWORD || die "weka user login as admin with the default password failed"
else
	report_progress "Resuming a clusterization a previous clusterizer began (cluster created, $cluster_found): not creating it again"
fi
if [[ "$cluster_found" != password_set ]]; then
	weka_secret_stdin WEKA_ADMIN_PASSWORD user passwd --username admin || die "setting the admin password failed"
fi
weka_login admin WEKA_ADMIN_PASSWORD || die "weka user login as admin failed"
ensure_deployment_user
report_progress "Weka cluster created"

# Cluster processes need time to settle before drives can be added.
sleep 30

# Drives: every backend signed its own instance-store NVMes before registering (device paths
# differ between Nitro hosts), so each drives container adds exactly the drives of its host.
# One host whose scan keeps failing does not sink the others (the reference reports and goes
# on): each failure is reported with the host's row, and the cluster forms without those
# drives while the hosts with drives still hold a stripe with its hot spares (the geometry's
# own rule); otherwise the clusterization fails naming them, before finalization.
mapfile -t drive_rows < <(weka cluster container | grep drives0)
if [[ "${#drive_rows[@]}" -ne "${#HOST_IDS[@]}" ]]; then
	die "expected ${#HOST_IDS[@]} drives containers but weka lists ${#drive_rows[@]}"
fi
failed_scans=()
for row in "${drive_rows[@]}"; do
	container_id="$(awk '{ print $1 }' <<<"$row")"
	if ! wait_until 10 10 "weka cluster drive scan of drives container $container_id" \
		weka cluster drive scan "$container_id"; then
		failed_scans+=("$row")
	fi
done
with_drives=$((${#drive_rows[@]} - ${#failed_scans[@]}))
if ((${#failed_scans[@]} > 0)); then
	failed_list="$(printf '%s; ' "${failed_scans[@]}")"
	failed_list="${failed_list%; }"
	if ((with_drives < STRIPE_WIDTH + PROTECTION_LEVEL + HOT_SPARE)); then
		die "drive scan failed on ${#failed_scans[@]} host(s) [$failed_list]: the $with_drives hosts with drives cannot hold a stripe of $STRIPE_WIDTH+$PROTECTION_LEVEL with $HOT_SPARE hot spare(s)"
	fi
	report_error "drive scan failed on ${#failed_scans[@]} host(s) [$failed_list]: the cluster forms with the drives of the other $with_drives hosts" || true
fi
report_progress "Drives of $with_drives drives containers added"

weka cluster update --cluster-name="$CLUSTER_NAME" || die "setting the cluster name to $CLUSTER_NAME failed"
if [[ -n "$PROXY_URL" ]]; then
	weka cloud proxy --set "$PROXY_URL" || report_error "setting the weka cloud proxy failed" || true
fi
if [[ -n "$WEKA_HOME_URL" ]]; then
	weka cloud enable --cloud-url "$WEKA_HOME_URL" || echo "weka cloud enable failed (ignored)" >&2
else
	weka cloud enable || echo "weka cloud enable failed (ignored)" >&2
fi

weka cluster update --data-drives "$STRIPE_WIDTH" --parity-drives "$PROTECTION_LEVEL" ||
	die "setting data drives $STRIPE_WIDTH / parity drives $PROTECTION_LEVEL failed"
if ((RAFT_SIZE > 0)); then
	weka cluster update --bucket-raft-size "$RAFT_SIZE" || die "setting the raft size to $RAFT_SIZE failed"
fi
weka cluster hot-spare "$HOT_SPARE" || die "setting hot spare $HOT_SPARE failed"

weka cluster start-io || die "weka cluster start-io failed"
sleep 15
weka cluster process || true
weka cluster drive || true
weka cluster container || true

weka fs group create default --target-ssd-retention="$TIERING_TARGET_SSD_RETENTION" \
	--start-demote="$TIERING_START_DEMOTE" || report_error "creating the default fs group failed" || true
weka fs create .config_fs default 22GB || report_error "creating .config_fs failed" || true
weka nfs global-config set --config-fs .config_fs || true
weka dataservice global-config set --config-fs .config_fs || true

_weka_unprovisioned_bytes() {
	weka status -J | jq -r '.capacity.unprovisioned_bytes // 0'
}

unprovisioned=0
if [[ "$SET_DEFAULT_FS" == true ]]; then
	# Exponential back-off 10 s -> 120 s within a 600 s budget (counted, not wall-clock).
	waited=0
	delay=10
	while :; do
		unprovisioned="$(_weka_unprovisioned_bytes || echo 0)"
		if [[ "$unprovisioned" =~ ^[0-9]+$ ]] && ((unprovisioned > 0)); then
			break
		fi
		if ((waited >= 600)); then
			die "timed out after ${waited}s waiting for unprovisioned capacity to create the default fs"
		fi
		sleep "$delay"
		waited=$((waited + delay))
		delay=$((delay * 2 > 120 ? 120 : delay * 2))
	done
	weka fs create default default "${unprovisioned}B" || die "creating the default fs failed"
fi

if [[ "$INSTALL_DPDK" == true ]]; then
	weka alerts mute NodeRDMANotActive 365d || true
else
	weka alerts mute JumboConnectivity 365d || true
	weka alerts mute UdpModePerformanceWarning 365d || true
fi

if [[ "$SET_OBS" == true ]]; then
	weka fs tier s3 add aws-bucket --hostname "s3.$WEKA_REGION.amazonaws.com" --port 443 \
		--bucket "$OBS_BUCKET" --protocol https --auth-method AWSSignature4 --region "$WEKA_REGION" \
		--site local || die "adding s3 bucket $OBS_BUCKET as object store failed"
	weka fs tier s3 attach default aws-bucket || die "attaching s3 bucket $OBS_BUCKET to the default fs failed"
	total_capacity=$((unprovisioned * 100 / OBS_SSD_PERCENT))
	weka fs update default --total-capacity "${total_capacity}B" ||
		die "setting the default fs total capacity to ${total_capacity}B failed"
	report_progress "Object store tiering to $OBS_BUCKET configured"
fi

if [[ -n "$POST_CLUSTER_SCRIPT" ]]; then
	# Runs logged in as admin (the CLI's token); the passwords are not in its environment.
	post_script="$WEKA_RUN_DIR/post_cluster_setup_script.sh"
	printf '%s\n' "$POST_CLUSTER_SCRIPT" >"$post_script"
	chmod 700 "$post_script"
	if bash "$post_script"; then
		report_progress "Post cluster setup script completed"
	else
		# Not fatal: the cluster itself is healthy and must still be finalized.
		report_error "post cluster setup script failed" || true
	fi
fi

mark_completed weka_clusterization_completion_validation
report_progress "Clusterization completed successfully"
clusterize_finalization '{}' || die "clusterize_finalization failed"
