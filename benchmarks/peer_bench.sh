#!/usr/bin/env bash
# Turnout beside LiteLLM proxy in one run of ../shared/bench (see its README), with the full
# production path on (benchmarks/peer-policy.yaml): keys, limits, classifier, routing, breakers,
# exact-cache lookup in the real Redis, metrics, the decision log.
#
#   benchmarks/peer_bench.sh              # both proxies, about 10 minutes
#   QUICK=1 benchmarks/peer_bench.sh      # 3-second cells
#   LITELLM=0 benchmarks/peer_bench.sh    # Turnout only
#   EXTRAS=0 ...                          # without the cache-path and --workers sections
#   RUNS=3 ...                            # the matrix three times (DIR/run1..3), then each run's ratios
#                                         # to LiteLLM and their medians (benchmarks/peer_ratios.py)
# Extra arguments go to bench.py (e.g. --concurrency 1,16,64; with --latencies 0 a 50 ms mock on
# :18001 is started here for bench.py's sanity request). Results: --out DIR (default
# /tmp/peer-bench/<time>): bench.py's files plus cache_paths.md and workers.md from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
[ -x "$BENCH/run_peer_bench.sh" ] || { echo "no peer bench at $BENCH (it lives in ../shared/bench)"; exit 2; }
[ -x .venv/bin/turnout ] || make venv
export TURNOUT_REDIS_URL="${TURNOUT_REDIS_URL:-redis://127.0.0.1:6379/0}"
export PROXY_KEY="${PROXY_KEY:-sk-bench-0123456789abcdef0123456789abcdef}"
PORT="${TURNOUT_PORT:-4100}"
WORKERS="${TURNOUT_WORKERS:-1}"
OUT="/tmp/peer-bench/$(date +%Y%m%d-%H%M%S)"
args=("$@")
for i in "${!args[@]}"; do [ "${args[$i]}" = "--out" ] && OUT="${args[$((i + 1))]}"; done
export OUT
# bench.py's sanity request streams from mock-50ms (:18001), which it starts only when --latencies
# asks for 50 ms: with e.g. `--latencies 0`, serve it here (idle after the sanity check, on CPU 1).
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = "--latencies" ] && [[ ",${args[$((i + 1))]}," != *",50,"* ]] \
      && ! (exec 3<>/dev/tcp/127.0.0.1/18001) 2>/dev/null; then
    taskset -c 1 .venv/bin/python "$BENCH/mock_upstream.py" --port 18001 --latency-ms 50 >/dev/null 2>&1 &
    trap 'kill '"$!"' 2>/dev/null' EXIT
  fi
done
bench() {
  "$BENCH/run_peer_bench.sh" --proxy "turnout=http://127.0.0.1:$PORT" \
    --start "turnout=exec $PWD/.venv/bin/turnout serve --policy $PWD/benchmarks/peer-policy.yaml --port $PORT --workers $WORKERS" \
    "$@"
}
RUNS="${RUNS:-1}"
if [ "$RUNS" = 1 ]; then
  bench "$@"
else
  for i in $(seq "$RUNS"); do OUT="$OUT/run$i" bench "$@" --out "$OUT/run$i"; done
  echo
  echo "Ratios to LiteLLM, run by run, and their medians (benchmarks/peer_ratios.py)"
  echo
  .venv/bin/python benchmarks/peer_ratios.py "$OUT"/run*/results.json | tee "$OUT/ratios.md"
fi
[ "${EXTRAS:-1}" = 1 ] || exit 0
mkdir -p "$OUT"
echo
echo "Cache paths (benchmarks/cache_paths.py: exact and semantic cache through a real gateway)"
echo
quick=(); [ "${QUICK:-0}" = 1 ] && quick=(--requests 50 --duration 3) && export DURATION=3
.venv/bin/python benchmarks/cache_paths.py "${quick[@]}" | tee "$OUT/cache_paths.md"
echo
echo "Scaling with --workers (benchmarks/workers_scaling.sh)"
echo
benchmarks/workers_scaling.sh | tee "$OUT/workers.md"
