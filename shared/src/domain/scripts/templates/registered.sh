
# ---- registration acknowledgement ----
REGISTERED_MESSAGE=@@MESSAGE@@
REGISTERED_VM=@@VM@@
# When polls > 0 the instance keeps asking `clusterize` until the set is clusterized, so a
# registered member can take over a clusterization whose clusterizer died (bounded).
WAIT_POLLS=@@WAIT_POLLS@@
WAIT_POLL_SECS=@@WAIT_POLL_SECS@@
# The poll budget outlives this run (each poll execs the next script): root-only state dir.
weka_state_dir
polls_left_file="$WEKA_STATE_DIR/clusterize_polls_left"
if [ ! -f "$polls_left_file" ]; then
	report_progress "$REGISTERED_MESSAGE"
	echo "$REGISTERED_MESSAGE"
	echo "$WAIT_POLLS" >"$polls_left_file"
fi
if [ "$WAIT_POLLS" -le 0 ]; then
	exit 0
fi
polls_left="$(cat "$polls_left_file")"
if [ "$polls_left" -le 0 ]; then
	die "gave up after $WAIT_POLLS polls ($WAIT_POLL_SECS s apart) waiting for the cluster to form"
fi
echo $((polls_left - 1)) >"$polls_left_file"
sleep "$WAIT_POLL_SECS"
next_script="$(mktemp "$WEKA_STATE_DIR/clusterize_next.XXXXXXXX")"
next_request="$(jq -cn --arg name "$REGISTERED_VM" --arg protocol "$WEKA_PROTOCOL" \
	'{name: $name, protocol: $protocol, container_uid: "", nic_name: ""}')"
clusterize "$next_request" >"$next_script" || die "clusterize call for $REGISTERED_VM failed"
# Earlier scripts of the chain (this one included: bash keeps reading its open file) are
# unlinked, never rewritten in place. exec skips the EXIT trap: the run dir is removed here.
find "$WEKA_STATE_DIR" -maxdepth 1 -name 'clusterize_next.*' ! -path "$next_script" -delete
_weka_cleanup
exec bash "$next_script"
