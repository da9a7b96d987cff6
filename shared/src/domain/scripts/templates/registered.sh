
# ---- registration acknowledgement ----
REGISTERED_MESSAGE=@@MESSAGE@@
report_progress "$REGISTERED_MESSAGE"
echo "$REGISTERED_MESSAGE"
