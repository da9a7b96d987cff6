
# ---- gateway library: cluster readiness, backend choice, local REST API ----
_weka_cluster_is_clusterized() {
	local state
	state="$(status '{"type":"status","protocol":""}')" || return 1
	[[ "$(printf '%s' "$state" | jq -r '.clusterized // false')" == true ]]
}

wait_for_clusterized() {
	wait_or_die 360 10 "the backend cluster to be clusterized" _weka_cluster_is_clusterized
}

# Sets WEKA_BACKEND_IP: the ALB address when there is one, else a probed live backend.
choose_backend_ip() {
	local info
	local -a ips=()
	if [[ -n "$ALB_IP" ]]; then
		WEKA_BACKEND_IP="$ALB_IP"
		return 0
	fi
	info="$(fetch '{"fetch_weka_credentials":false,"show_admin_password":false}')" ||
		die "fetching backend ips failed"
	mapfile -t ips < <(printf '%s' "$info" | jq -r '.backend_ips[]?')
	find_live_backend "${ips[@]}"
}

# rest_login: bearer token for the local container's REST API; the credentials reach jq and curl
# on stdin (printf is a builtin), never in argv or an environment.
WEKA_REST_URL="https://127.0.0.1:14000/api/v2"
rest_login() {
	secret_begin
	WEKA_REST_TOKEN="$(printf '%s\n%s\n' "$WEKA_USERNAME" "$WEKA_PASSWORD" |
		jq -cR '{username: ., password: input}' |
		curl --insecure --silent --fail --max-time 30 --header 'Content-Type: application/json' \
			--data @- "$WEKA_REST_URL/login" | jq -r '.data.access_token // empty')" || WEKA_REST_TOKEN=""
	secret_end
	[[ -n "$WEKA_REST_TOKEN" ]]
}

# rest_call <method> <path> [json-body]: authenticated call; token passed via a curl config on stdin.
rest_call() {
	local method=$1 path=$2 body=${3:-} rc=0
	local -a data=()
	if [[ -n "$body" ]]; then
		data=(--header 'Content-Type: application/json' --data "$body")
	fi
	secret_begin
	printf 'header = "Authorization: Bearer %s"\n' "$WEKA_REST_TOKEN" |
		curl --config - --insecure --silent --fail --max-time 30 --request "$method" "${data[@]}" \
			"$WEKA_REST_URL/$path" || rc=$?
	secret_end
	return "$rc"
}

_weka_frontend_ready() {
	weka local status -J 2>/dev/null |
		jq -e '.frontend0.internalStatus.state == "READY" and .frontend0.internalStatus.display_status == "READY"' \
			>/dev/null
}

_weka_status_ok() {
	[[ "$(weka status -J 2>/dev/null | jq -r '.status // empty')" == OK ]]
}

_weka_config_fs_exists() {
	weka fs -J 2>/dev/null | jq -e 'any(.[]?; .name == ".config_fs")' >/dev/null
}

_weka_read_container_uid() {
	local containers
	rest_login || return 1
	containers="$(rest_call GET containers)" || return 1
	WEKA_CONTAINER_UID="$(printf '%s' "$containers" | jq -r --arg host "$HOSTNAME" \
		'[.data[]? | select(.hostname == $host and .container_name == "frontend0") | .uid][0] // empty')"
	[[ -n "$WEKA_CONTAINER_UID" ]]
}
