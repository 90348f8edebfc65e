#!/usr/bin/env bash
# Cron wrapper: one btcbot cycle per invocation. Exit 75 (another run holds the lock) is not an error here.
#   */1 * * * * /opt/btcbot/scripts/btcbot-cron.sh >> /opt/btcbot/state/logs/cron.log 2>&1
set -u
cd "$(dirname "$0")/.." || exit 1
BTCBOT="${BTCBOT:-.venv/bin/btcbot}"
"$BTCBOT" run "$@"
code=$?
case "$code" in
  0) ;;
  75) echo "$(date -u +%FT%TZ) btcbot: previous run still active, skipped" ;;
  3) echo "$(date -u +%FT%TZ) btcbot: cycle aborted safely (exchange, auth or data problem), see state/logs" ;;
  *) echo "$(date -u +%FT%TZ) btcbot: exit $code" ;;
esac
[ "$code" = 75 ] && exit 0
exit "$code"
