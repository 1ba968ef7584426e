#!/usr/bin/env bash
# Throughput against `turnout serve --workers N`, full feature path (benchmarks/peer-policy.yaml),
# 0 ms mock upstream, non-streaming chat, closed loop with wrk at concurrency 64.
#
#   benchmarks/workers_scaling.sh [WORKERS...]      # default: 1 2
#   DURATION=20 CONC=64 benchmarks/workers_scaling.sh 1 2
#
# Nothing is pinned: the workers, wrk and the mock share the machine's cores (`nproc`), so the
# speed-up is bounded by what the load generator and the mock leave free. CPU per request sums the
# gateway's whole process tree (master and workers); "cores used" = RPS x CPU per request: flat CPU
# per request with cores used rising by the worker count is linear scaling.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH="${BENCH:-../shared/bench}"
[ -f "$BENCH/mock_upstream.py" ] || { echo "no mock upstream at $BENCH (it lives in ../shared/bench)"; exit 2; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)"; exit 2; }
[ -x .venv/bin/turnout ] || make venv
DURATION="${DURATION:-20}"
CONC="${CONC:-64}"
PORT="${TURNOUT_PORT:-4120}"
WORKERS=("${@:-1 2}")
[ $# -eq 0 ] && WORKERS=(1 2)
export TURNOUT_REDIS_URL="${TURNOUT_REDIS_URL:-redis://127.0.0.1:6379/0}"
export PROXY_KEY="${PROXY_KEY:-sk-bench-0123456789abcdef0123456789abcdef}"
PY="${BENCH_PYTHON:-.venv/bin/python}"
TMP="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT

cat > "$TMP/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"mock-0ms","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $PROXY_KEY"
LUA

tree_cpu_ticks() {  # utime+stime of a process and all its descendants
  local total=0 pid
  for pid in $(pstree -p -T "$1" 2>/dev/null | grep -o '([0-9]\+)' | tr -d '()'); do
    [ -r "/proc/$pid/stat" ] && total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo "$total"
}

"$PY" "$BENCH/mock_upstream.py" --port 18000 --latency-ms 0 >/dev/null 2>&1 &
echo "machine: $(nproc) cores; wrk -c$CONC for ${DURATION}s per run; nothing pinned"
echo
echo "| workers | RPS | p50 ms | p99 ms | gateway CPU ms/req | cores the gateway used | RPS vs 1 worker |"
echo "|---|---|---|---|---|---|---|"
base=""
for n in "${WORKERS[@]}"; do
  .venv/bin/turnout serve --policy benchmarks/peer-policy.yaml --port "$PORT" --workers "$n" >"$TMP/gw-$n.log" 2>&1 &
  gw=$!
  for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
  wrk -t1 -c"$CONC" -d3s -s "$TMP/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >/dev/null  # warm up
  t0=$(tree_cpu_ticks "$gw")
  wrk -t1 -c"$CONC" -d"${DURATION}s" --latency -s "$TMP/post.lua" "http://127.0.0.1:$PORT/v1/chat/completions" >"$TMP/wrk-$n.txt"
  t1=$(tree_cpu_ticks "$gw")
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk-$n.txt")
  total=$(awk '/requests in/ {print $1}' "$TMP/wrk-$n.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk-$n.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk-$n.txt")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' "$TMP/wrk-$n.txt")
  ticks_per_s=$(getconf CLK_TCK)
  cpu=$(awk -v t="$((t1 - t0))" -v n="$total" -v hz="$ticks_per_s" 'BEGIN {printf "%.2f", t * 1000 / hz / n}')
  [ -z "$base" ] && base="$rps"
  ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.2fx", a / b}')
  cores=$(awk -v r="$rps" -v c="$cpu" 'BEGIN {printf "%.2f", r * c / 1000}')
  echo "| $n | $rps | $p50 | $p99 | $cpu | $cores | $ratio |"
  [ -n "$errors" ] && echo "  ($n workers: $errors)"
  kill "$gw"; wait "$gw" 2>/dev/null || true
done
