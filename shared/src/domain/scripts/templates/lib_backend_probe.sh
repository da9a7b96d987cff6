
# ---- live backend discovery (unauthenticated JSON-RPC, as the reference) ----
# Sets WEKA_BACKEND_IP and WEKA_BACKEND_VERSION from the first backend that answers.
_weka_probe_backends() {
	local ip version
	for ip in "$@"; do
		version="$(curl --insecure --silent --max-time 10 --header 'Content-Type: application/json' \
			--data '{"jsonrpc":"2.0","method":"client_query_backend","id":"1"}' \
			"https://$ip:14000/api/v1" | jq -r '.result.software_release // empty' 2>/dev/null || true)"
		if [[ -n "$version" ]]; then
			WEKA_BACKEND_IP="$ip"
			WEKA_BACKEND_VERSION="$version"
			return 0
		fi
	done
	return 1
}

find_live_backend() {
	[[ "$#" -gt 0 ]] || die "no backend IPs to join"
	wait_or_die 30 10 "a live weka backend among $*" _weka_probe_backends "$@"
	echo "using backend $WEKA_BACKEND_IP running weka $WEKA_BACKEND_VERSION"
}
