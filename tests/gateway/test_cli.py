"""`turnout route --explain`: the decision for a person, without a gateway or a model call; `turnout serve`'s
and `turnout simulate`'s arguments refused before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

POLICY = Path(__file__).resolve().parents[2] / "policies" / "default.yaml"


def _route(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway.cli", "route", *args], capture_output=True, text=True,
                          check=False, timeout=60)


def test_route_explain_orders_easy_and_hard_prompts() -> None:
    easy = _route("--explain", "hi there")
    hard = _route("--explain", "Write a Python function that implements a thread-safe LRU cache with TTL "
                               "eviction, and prove its amortized complexity.")
    assert easy.returncode == 0 and hard.returncode == 0, easy.stderr + hard.stderr
    assert easy.stdout.startswith("alias 'auto': tier 1") and "chain: local-small" in easy.stdout
    assert "task code" in hard.stdout

    def score(out: str) -> float:
        return float(out.split("why: score ")[1].split()[0])

    assert score(easy.stdout) < score(hard.stdout)
    for out in (easy.stdout, hard.stdout):  # why: the length prior and the nearest training prompts
        assert "length prior" in out and "nearest training prompts:" in out
        assert out.count("right:") + out.count("wrong:") + out.count("weak label") >= 3


def test_route_without_explain_prints_the_decision_and_why_as_json() -> None:
    result = _route("hi there")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["alias"] == "auto" and decision["tier"] == 1
    assert len(decision["why"]["nearest_training_prompts"]) == 3 and 0 <= decision["why"]["length_prior"] <= 1


def test_route_rejects_a_model_that_is_not_an_alias() -> None:
    result = _route("--model", "nope", "hi")
    assert result.returncode == 2 and "'nope' is not an alias" in result.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["serve", "--port", "99999"], "99999 is outside 0-65535"),
    (["serve", "--port", "http"], "'http' is not a whole number"),
    (["serve", "--workers", "0"], "0 is outside 1-64"),
    (["serve", "--graceful-timeout", "-5"], "-5 is outside 0-3600"),
    (["simulate", "--port", "70000"], "'70000' is not a port (0-65535)"),
])
def test_serve_and_simulate_refuse_out_of_range_numbers_before_starting(args: list[str], says: str) -> None:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", *args], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout


def test_simulate_takes_its_documented_options_and_serves() -> None:
    """`turnout simulate --policy FILE --port P` (README): the options reach the simulator's own parser."""
    import socket
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "simulate", "--policy", str(POLICY),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).json()
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout and process.stdout.read()
                time.sleep(0.2)
        assert "local-small" in {m["id"] for m in models["data"]}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_says_in_one_line_when_its_simulated_upstreams_cannot_start(tmp_path: Path) -> None:
    """A second `make serve` beside a running one: the simulator's port is taken."""
    import socket

    with socket.socket() as taken, socket.socket() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        free.bind(("127.0.0.1", 0))
        config = tmp_path / "sim.yaml"
        config.write_text(f"port: {taken.getsockname()[1]}\nmodels: [{{name: local-small}}]\n")
        port = free.getsockname()[1]
        free.close()
        done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--simulator", str(config),
                               "--port", str(port)], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "did not start" in done.stderr and "--no-simulator" in done.stderr
    assert "Traceback" not in done.stderr
    assert "OpenAI-compatible API on" not in done.stderr  # no claim to serve what never started


def test_serve_killed_outright_takes_its_simulated_upstreams_with_it(tmp_path: Path) -> None:
    """`kill -9` of `turnout serve` used to leave its simulator running (holding port 4010, so the next
    `make serve` could not start); the simulator now ends with its parent."""
    import signal
    import socket
    import time

    import httpx

    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    sim_port, port = ports
    config = tmp_path / "sim.yaml"
    config.write_text(f"port: {sim_port}\nmodels: [{{name: local-small}}]\n")
    serve = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve", "--simulator", str(config), "--port",
                              str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def answers() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{sim_port}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        deadline = time.monotonic() + 60
        while not answers():
            assert serve.poll() is None and time.monotonic() < deadline, serve.stderr and serve.stderr.read()
            time.sleep(0.2)
        serve.send_signal(signal.SIGKILL)
        serve.wait(timeout=10)
        deadline = time.monotonic() + 15
        while answers():
            assert time.monotonic() < deadline, "the simulator outlived its killed gateway"
            time.sleep(0.2)
    finally:
        if serve.poll() is None:
            serve.kill()
        assert serve.stderr is not None
        serve.stderr.close()


@pytest.mark.parametrize(("raw", "says"), [
    (b"models: [\xff]\n", "can't decode byte 0xff"),
    (b"models: " + b"[" * 3000 + b"]" * 3000 + b"\n", "maximum recursion depth"),
    (b"models: 5\n", "Input should be a valid tuple"),
])
def test_serve_names_a_simulator_config_it_cannot_read(tmp_path: Path, raw: bytes, says: str) -> None:
    config = tmp_path / "sim.yaml"
    config.write_bytes(raw)
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--simulator", str(config), "--port", "0"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith(f"turnout: simulator config {config}: "), done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("value", ["abc", "nan", "-1"])
def test_serve_names_a_watch_interval_that_is_not_one(value: str) -> None:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--no-simulator", "--port", "0"],
                          capture_output=True, text=True, check=False, timeout=60,
                          env={**os.environ, "TURNOUT_POLICY_WATCH_S": value})
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"turnout serve: TURNOUT_POLICY_WATCH_S={value!r} is not a number >= 0\n"


def test_serve_says_in_one_line_when_its_port_is_taken() -> None:
    """A second `turnout serve` on the same port used to load the whole gateway, claim to serve, then
    log the bind failure and exit 3."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--no-simulator", "--port",
                               str(taken.getsockname()[1])], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "cannot listen on 127.0.0.1:" in done.stderr, done.stderr
    assert "Address already in use" in done.stderr and "--port" in done.stderr
    assert "OpenAI-compatible API on" not in done.stderr


def test_serve_names_a_host_it_cannot_resolve() -> None:
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "serve", "--no-simulator", "--host",
                           "no-such-host.invalid"], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 2 and "cannot listen on no-such-host.invalid" in done.stderr, done.stderr
    assert "--host" in done.stderr and "Traceback" not in done.stderr
