#!/usr/bin/env bash
# Turnout beside LiteLLM proxy in one run of ../shared/bench (see its README), with the full
# production path on (benchmarks/peer-policy.yaml): keys, limits, classifier, routing, breakers,
# exact-cache lookup in the real Redis, metrics, the decision log.
#
#   benchmarks/peer_bench.sh              # both proxies, about 10 minutes
#   QUICK=1 benchmarks/peer_bench.sh      # 3-second cells
#   LITELLM=0 benchmarks/peer_bench.sh    # Turnout only
# Extra arguments go to bench.py (e.g. --concurrency 1,16,64).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
[ -x "$BENCH/run_peer_bench.sh" ] || { echo "no peer bench at $BENCH (it lives in ../shared/bench)"; exit 2; }
[ -x .venv/bin/turnout ] || make venv
export TURNOUT_REDIS_URL="${TURNOUT_REDIS_URL:-redis://127.0.0.1:6379/0}"
export PROXY_KEY="${PROXY_KEY:-sk-bench-0123456789abcdef0123456789abcdef}"
PORT="${TURNOUT_PORT:-4100}"
WORKERS="${TURNOUT_WORKERS:-1}"
exec "$BENCH/run_peer_bench.sh" --proxy "turnout=http://127.0.0.1:$PORT" \
  --start "turnout=exec $PWD/.venv/bin/turnout serve --policy $PWD/benchmarks/peer-policy.yaml --port $PORT --workers $WORKERS" \
  "$@"
