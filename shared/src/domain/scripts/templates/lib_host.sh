
# ---- host library: /opt/weka volume, installation, cores, NICs, containers, NVMe ----

# Resolves the /opt/weka EBS volume: /dev/xvdp on Xen, else the NVMe whose serial is the volume
# id without its dash (Nitro).
_weka_volume_device() {
	local serial="${WEKA_VOLUME_ID//-/}"
	if [[ -e "$WEKA_SCRIPT_ROOT/dev/xvdp" ]]; then
		WEKA_VOLUME_DEVICE=/dev/xvdp
		return 0
	fi
	WEKA_VOLUME_DEVICE="$(lsblk --output NAME,SERIAL --path --list --noheadings |
		awk -v serial="$serial" '$2 == serial { print $1; exit }')"
	[[ -n "$WEKA_VOLUME_DEVICE" ]]
}

setup_weka_volume() {
	wait_or_die 30 5 "EBS volume $WEKA_VOLUME_ID to be attached" _weka_volume_device
	mkfs.ext4 -F -L wekaiosw "$WEKA_VOLUME_DEVICE" || die "mkfs.ext4 on $WEKA_VOLUME_DEVICE failed"
	mkdir -p "$WEKA_SCRIPT_ROOT/opt/weka"
	mount "$WEKA_VOLUME_DEVICE" "$WEKA_SCRIPT_ROOT/opt/weka" || die "mounting $WEKA_VOLUME_DEVICE on /opt/weka failed"
	if ! grep -q '^LABEL=wekaiosw ' "$WEKA_SCRIPT_ROOT/etc/fstab" 2>/dev/null; then
		mkdir -p "$WEKA_SCRIPT_ROOT/etc"
		echo 'LABEL=wekaiosw /opt/weka ext4 defaults 0 2' >>"$WEKA_SCRIPT_ROOT/etc/fstab" ||
			die "adding /opt/weka to fstab failed"
	fi
}

_weka_proxy_args=()
if [[ -n "$PROXY_URL" ]]; then
	_weka_proxy_args=(--proxy "$PROXY_URL")
fi

# Reads the get.weka.io token from Secrets Manager at run time; it never appears in the script,
# in argv, or in a trace.
_weka_read_token() {
	secret_begin
	if ! WEKA_TOKEN="$(aws secretsmanager get-secret-value --region "$WEKA_REGION" \
		--secret-id "$TOKEN_SECRET_ID" --query SecretString --output text)"; then
		secret_end
		die "reading the get.weka.io token from secret $TOKEN_SECRET_ID failed"
	fi
	secret_end
	[[ -n "$WEKA_TOKEN" ]] || die "secret $TOKEN_SECRET_ID holds an empty get.weka.io token"
}

_weka_download_installer() {
	local dest=$1
	if [[ "$INSTALL_MODE" == weka-version ]]; then
		# The token goes to curl through a config on stdin, so it is not in argv (ps).
		secret_begin
		printf 'user = "%s:"\n' "$WEKA_TOKEN" |
			curl --config - --fail --silent --show-error --location --max-time 10 \
				"${_weka_proxy_args[@]}" --output "$dest" \
				"https://get.weka.io/dist/v1/install/$WEKA_VERSION/$WEKA_VERSION?provider=aws&region=$WEKA_REGION"
		local rc=$?
		secret_end
		return "$rc"
	fi
	curl --fail --silent --show-error --location --max-time 10 "${_weka_proxy_args[@]}" \
		--output "$dest" "$INSTALL_URL"
}

install_weka() {
	local workdir="$WEKA_RUN_DIR/weka-install" package_dir
	mkdir -p "$workdir"
	report_progress "Downloading weka install script"
	if [[ "$INSTALL_MODE" == tar ]]; then
		if [[ "$INSTALL_URL" == s3://* ]]; then
			aws s3 cp --region "$WEKA_REGION" "$INSTALL_URL" "$workdir/weka.tar" ||
				die "downloading $INSTALL_URL failed"
		else
			wait_or_die 300 2 "download of $INSTALL_URL" \
				curl --fail --silent --show-error --location --max-time 600 "${_weka_proxy_args[@]}" \
				--output "$workdir/weka.tar" "$INSTALL_URL"
		fi
		tar -xf "$workdir/weka.tar" -C "$workdir" || die "extracting $INSTALL_URL failed"
		package_dir="$(tar -tf "$workdir/weka.tar" | head -n 1 | cut -d/ -f1)"
		[[ -n "$package_dir" ]] || die "$INSTALL_URL contains no package directory"
		workdir="$workdir/$package_dir"
	else
		if [[ "$INSTALL_MODE" == weka-version ]]; then
			_weka_read_token
		fi
		wait_or_die 300 2 "download of the weka install script" \
			_weka_download_installer "$workdir/install.sh"
		WEKA_TOKEN=""
	fi
	# Without IMDSv2 the installer's AWS-endpoint proxy bypass lines break the install.
	if ! curl --silent --noproxy '*' --max-time 5 --request PUT \
		--header 'X-aws-ec2-metadata-token-ttl-seconds: 21600' \
		--output /dev/null http://169.254.169.254/latest/api/token; then
		sed -i -e '/--noproxy ".amazonaws.com"/d' -e '/no_proxy/d' "$workdir/install.sh"
	fi
	(cd "$workdir" && PROXY="$PROXY_URL" WEKA_CGROUPS_MODE="$CGROUPS_MODE" bash ./install.sh) ||
		die "weka installation failed"
	report_progress "Weka software installation completed"
}

# One hyperthread sibling per physical core, core 0 excluded, interleaving NUMA nodes.
WEKA_CORE_ORDER=()
WEKA_CORE_NEXT=0
compute_core_order() {
	mapfile -t WEKA_CORE_ORDER < <(lscpu -p=CPU,CORE,NODE | awk -F, '
		/^#/ { next }
		{
			cpu = $1; core = $2; node = ($3 == "" ? 0 : $3)
			if (core in seen) next
			seen[core] = 1
			if (core == 0) next
			if (!(node in count)) { order[++nodes] = node; count[node] = 0 }
			list[node, ++count[node]] = cpu
		}
		END {
			for (i = 1; ; i++) {
				any = 0
				for (k = 1; k <= nodes; k++) {
					n = order[k]
					if (i <= count[n]) { print list[n, i]; any = 1 }
				}
				if (!any) break
			}
		}')
	[[ "${#WEKA_CORE_ORDER[@]}" -gt 0 ]] || die "lscpu reported no usable cores"
}

# take_core_ids <count> <variable>: next <count> core ids, comma separated.
take_core_ids() {
	local count=$1 ids="" i
	if ((WEKA_CORE_NEXT + count > ${#WEKA_CORE_ORDER[@]})); then
		die "need $count more cores but only $((${#WEKA_CORE_ORDER[@]} - WEKA_CORE_NEXT)) of ${#WEKA_CORE_ORDER[@]} remain"
	fi
	for ((i = 0; i < count; i++)); do
		ids+="${ids:+,}${WEKA_CORE_ORDER[WEKA_CORE_NEXT + i]}"
	done
	WEKA_CORE_NEXT=$((WEKA_CORE_NEXT + count))
	printf -v "$2" '%s' "$ids"
}

# Interfaces in natural order of their names, without virtual ones; index 0 is the management
# NIC. Natural (sort -V), not byte order: Amazon Linux 2023 names them by PCI slot (ens5 is the
# primary, then ens6 .. ens12 for eight NICs), where byte order would put ens10 first.
WEKA_INTERFACES=()
list_interfaces() {
	mapfile -t WEKA_INTERFACES < <(find "$WEKA_SCRIPT_ROOT/sys/class/net/" -mindepth 1 -maxdepth 1 -printf '%f\n' |
		grep -Ev '^(docker|veth|lo$|enP|dtap)' | sort -V)
	[[ "${#WEKA_INTERFACES[@]}" -gt 0 ]] || die "no network interfaces found"
}

# net_args <first-index> <end-index-exclusive>: sets WEKA_NET_ARGS to one --net per NIC (DPDK)
# or --net udp. A global rather than a nameref because Amazon Linux 2 ships bash 4.2.
WEKA_NET_ARGS=()
net_args() {
	local first=$1 end=$2 i
	WEKA_NET_ARGS=()
	if [[ "$INSTALL_DPDK" != true ]]; then
		WEKA_NET_ARGS=(--net udp)
		return 0
	fi
	if ((end > ${#WEKA_INTERFACES[@]})); then
		die "DPDK needs NICs $first..$((end - 1)) but only ${#WEKA_INTERFACES[@]} interfaces exist"
	fi
	for ((i = first; i < end; i++)); do
		WEKA_NET_ARGS+=(--net "${WEKA_INTERFACES[i]}")
	done
}

# setup_backend_containers [extra args for every container...]
# shellcheck disable=SC2120 # extra args are optional: only the join script passes --join-ips.
setup_backend_containers() {
	local drive_ids compute_ids frontend_ids
	compute_core_order
	list_interfaces
	take_core_ids "$DRIVE_CORES" drive_ids
	take_core_ids "$COMPUTE_CORES" compute_ids
	net_args 1 $((1 + DRIVE_CORES))
	weka local setup container --name drives0 --base-port 14000 --cores "$DRIVE_CORES" --no-frontends \
		--drives-dedicated-cores "$DRIVE_CORES" --failure-domain "$FAILURE_DOMAIN" \
		--core-ids "$drive_ids" --dedicate "${WEKA_NET_ARGS[@]}" "$@" || die "setting up container drives0 failed"
	net_args $((1 + DRIVE_CORES)) $((1 + DRIVE_CORES + COMPUTE_CORES))
	weka local setup container --name compute0 --base-port 15000 --cores "$COMPUTE_CORES" --no-frontends \
		--compute-dedicated-cores "$COMPUTE_CORES" --memory "$COMPUTE_MEMORY" \
		--failure-domain "$FAILURE_DOMAIN" --core-ids "$compute_ids" --dedicate "${WEKA_NET_ARGS[@]}" "$@" ||
		die "setting up container compute0 failed"
	WEKA_EXPECTED_CONTAINERS=2
	if ((FRONTEND_CORES > 0)); then
		take_core_ids "$FRONTEND_CORES" frontend_ids
		net_args $((1 + DRIVE_CORES + COMPUTE_CORES)) "$NICS_NUM"
		weka local setup container --name frontend0 --base-port 16000 --cores "$FRONTEND_CORES" \
			--frontend-dedicated-cores "$FRONTEND_CORES" --allow-protocols true \
			--failure-domain "$FAILURE_DOMAIN" --core-ids "$frontend_ids" --dedicate "${WEKA_NET_ARGS[@]}" "$@" ||
			die "setting up container frontend0 failed"
		WEKA_EXPECTED_CONTAINERS=3
	fi
	wait_for_containers "$WEKA_EXPECTED_CONTAINERS"
}

_weka_containers_running() {
	local running
	running="$(weka local ps | grep -ci 'running' || true)"
	echo "running containers: $running/$1"
	[[ "$running" -ge "$1" ]]
}

wait_for_containers() {
	wait_or_die 60 10 "$1 weka containers to be running" _weka_containers_running "$1"
}

# Instance-store NVMe devices as WEKA sees them (non-rotational, unmounted, EC2 instance storage).
WEKA_NVME_DEVICES=()
_weka_discover_nvme() {
	local found
	found="$(weka local run --container compute0 wapi machine-query-info --info-types=DISKS -J |
		jq -r '.disks[] | select((.isRotational | not) and .type == "DISK" and (.isMounted | not)
			and .model == "Amazon EC2 NVMe Instance Storage") | .devPath')" || return 1
	mapfile -t WEKA_NVME_DEVICES < <(printf '%s\n' "$found" | grep -v '^$' || true)
	[[ "${#WEKA_NVME_DEVICES[@]}" -gt 0 ]]
}

_weka_block_device_present() {
	lsblk "$1" >/dev/null 2>&1
}

_weka_has_partition() {
	lsblk --noheadings --list --output TYPE "$1" 2>/dev/null | grep -qx part
}

# Discovers the instance-store NVMes and waits for every one of them to be visible.
discover_nvme_devices() {
	local dev
	wait_or_die 30 10 "instance-store NVMe devices to be discovered by wapi" _weka_discover_nvme
	for dev in "${WEKA_NVME_DEVICES[@]}"; do
		wait_or_die 60 5 "NVMe device $dev to appear in lsblk" _weka_block_device_present "$dev"
	done
	report_progress "Found ${#WEKA_NVME_DEVICES[@]} NVMe devices: ${WEKA_NVME_DEVICES[*]}"
}

# Signs every discovered NVMe for WEKA from this host's drives0 container, then waits for the
# signature partition; the cluster later adds them with `weka cluster drive scan`.
sign_nvme_devices() {
	local dev
	for dev in "${WEKA_NVME_DEVICES[@]}"; do
		weka local exec --container drives0 /weka/tools/weka_sign_drive "$dev" ||
			die "signing NVMe device $dev failed"
	done
	for dev in "${WEKA_NVME_DEVICES[@]}"; do
		wait_or_die 60 2 "signed NVMe device $dev to show a partition" _weka_has_partition "$dev"
	done
}

_weka_first_ip() {
	hostname -I | awk '{ print $1 }'
}

# First 16 hex digits of sha256(first private IP): stable per host, distinct across hosts.
failure_domain() {
	local ip
	ip="$(_weka_first_ip)"
	[[ -n "$ip" ]] || die "no IPv4 address to derive the failure domain from"
	FAILURE_DOMAIN="$(printf '%s' "$ip" | sha256sum | cut -c1-16)"
}
