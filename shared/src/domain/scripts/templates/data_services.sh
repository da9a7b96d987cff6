
# ---- data services container ----
ALB_IP=@@ALB_IP@@

setup_weka_volume
install_weka
weka local stop || true
weka local rm default --force || true

wait_for_clusterized
choose_backend_ip
weka local setup container --name dataserv --base-port 14000 --join-ips "$WEKA_BACKEND_IP" \
	--only-dataserv-cores --memory 3.5GB --allow-mix-setting || die "setting up container dataserv failed"
wait_for_containers 1
report_progress "Data services container on $VM is ready"
