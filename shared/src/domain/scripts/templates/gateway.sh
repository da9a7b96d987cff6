
# ---- protocol gateway first boot ----
FRONTEND_CORES=@@FRONTEND_CORES@@
ALB_IP=@@ALB_IP@@

setup_weka_volume
install_weka
weka local stop || true
weka local rm default --force || true

wait_for_clusterized
load_credentials
choose_backend_ip

compute_core_order
list_interfaces
take_core_ids "$FRONTEND_CORES" frontend_ids
net_args 1 $((1 + FRONTEND_CORES))
weka local setup container --name frontend0 --base-port 14000 --cores "$FRONTEND_CORES" \
	--frontend-dedicated-cores "$FRONTEND_CORES" --allow-protocols true --core-ids "$frontend_ids" \
	"${WEKA_NET_ARGS[@]}" --dedicate --join-ips "$WEKA_BACKEND_IP" || die "setting up container frontend0 failed"
wait_or_die 18 10 "container frontend0 to be READY" _weka_frontend_ready

weka_login "$WEKA_USERNAME" WEKA_PASSWORD || die "weka user login failed"

# The NIC protocols are served on: the first DPDK NIC, else the management NIC.
if [[ "$INSTALL_DPDK" == true && "${#WEKA_INTERFACES[@]}" -gt 1 ]]; then
	nic_name="${WEKA_INTERFACES[1]}"
else
	nic_name="${WEKA_INTERFACES[0]}"
fi
wait_or_die 30 10 "the uid of container frontend0 from the REST API" _weka_read_container_uid
wait_or_die 60 30 "weka status to be OK" _weka_status_ok
if [[ "$WEKA_PROTOCOL" != nfs ]]; then
	wait_or_die 60 10 "file system .config_fs to exist" _weka_config_fs_exists
fi
report_progress "Protocol gateway container frontend0 is ready"
