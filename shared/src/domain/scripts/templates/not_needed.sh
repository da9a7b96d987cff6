
# ---- refusal: this instance is not part of the cluster ----
REFUSAL_MESSAGE=@@MESSAGE@@
report_error "$REFUSAL_MESSAGE" || true
echo "$REFUSAL_MESSAGE" >&2
exit 1
