#!/usr/bin/env bash
# Cron wrapper: one btcbot cycle per invocation, every output line stamped (UTC) into a rotating log under the
# state dir, which it creates (0700) if needed, so the line below works on a fresh checkout as pasted:
#   * * * * * /opt/btcbot/scripts/btcbot-cron.sh                          # btcbot run (stage 3)
#   * * * * * /opt/btcbot/scripts/btcbot-cron.sh stage7-run --with-stage4  # or another cycle command
# Arguments: a cycle command (run, stage4-run, stage7-run; default run) and its options.
# Exit 75 (the previous cycle still holds the lock) is normal: logged, exit 0. Exit 0 and 3 (aborted safely;
# persistent trouble is for the metrics alerts) print nothing; any other exit prints one line on stderr, which
# cron mails.
# Environment (all optional):
#   BTCBOT                     the btcbot executable (default: .venv/bin/btcbot of this checkout)
#   BTCBOT_STATE_DIR           the state dir (default: ./state of this checkout); the log is <state dir>/logs/cron.log
#   BTCBOT_CRON_LOG_MAX_BYTES  rotate cron.log once it is this big (default 5000000); 5 old logs are kept
#   BTCBOT_CRON_METRICS_COPY   after each run, publish <state dir>/metrics.prom there (mode 0644, atomically) for
#                              node_exporter's textfile collector, e.g. /var/lib/node_exporter/textfile/btcbot.prom
set -u
umask 077
cd "$(dirname "$0")/.." || exit 1
BTCBOT="${BTCBOT:-.venv/bin/btcbot}"
state_dir="${BTCBOT_STATE_DIR:-state}"
log="$state_dir/logs/cron.log"
max_bytes="${BTCBOT_CRON_LOG_MAX_BYTES:-5000000}"
keep=5

case "${1:-}" in
  run|stage4-run|stage7-run) command="$1"; shift ;;
  *) command=run ;;
esac

mkdir -p "$state_dir/logs" && chmod 700 "$state_dir/logs" || exit 1

stamp() {  # prefix every line with the time it was written (UTC)
  local line
  while IFS= read -r line || [ -n "$line" ]; do
    printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line"
  done
}

rotate() {  # cron.log -> cron.log.1 -> ... -> cron.log.$keep (dropped)
  local size i
  [ -f "$log" ] || return 0
  size=$(wc -c < "$log")
  [ "$size" -ge "$max_bytes" ] || return 0
  for ((i = keep - 1; i >= 1; i--)); do
    [ -f "$log.$i" ] && mv -f "$log.$i" "$log.$((i + 1))"
  done
  mv -f "$log" "$log.1"
}

rotate
echo "btcbot $command${*:+ $*}" | stamp >> "$log"
"$BTCBOT" "$command" "$@" 2>&1 | stamp >> "$log"
code=${PIPESTATUS[0]}
case "$code" in
  0) note="" ;;
  75) note="previous run still active: skipped (exit 75)" ;;
  3) note="cycle aborted safely (exit 3): exchange, keys, data or circuit breaker; see above" ;;
  *) note="exit $code"; echo "btcbot $command: exit $code, see $PWD/$log" >&2 ;;
esac
[ -n "$note" ] && echo "$note" | stamp >> "$log"

if [ -n "${BTCBOT_CRON_METRICS_COPY:-}" ] && [ -f "$state_dir/metrics.prom" ]; then
  tmp="$BTCBOT_CRON_METRICS_COPY.$$.tmp"
  install -m 0644 "$state_dir/metrics.prom" "$tmp" && mv -f "$tmp" "$BTCBOT_CRON_METRICS_COPY" \
    || echo "could not publish metrics to $BTCBOT_CRON_METRICS_COPY" | stamp >> "$log"
fi

[ "$code" = 75 ] && exit 0
exit "$code"
