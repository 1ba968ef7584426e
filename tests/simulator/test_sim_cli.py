"""`python -m simulator` and the process helper."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from simulator.cli import _parser, load_config, main
from simulator.config import SimModel, SimulatorConfig
from simulator.process import SimulatorError, start_simulator

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "policies" / "default.yaml"


def test_policy_section_config_file_models_and_seed_combine(tmp_path: Path) -> None:
    config_file = tmp_path / "sim.yaml"
    config_file.write_text("seed: 3\nmodels:\n  - {name: local-small, latency_ms: 5}\n  - {name: own}\n")
    config = load_config(_parser().parse_args(
        ["--policy", str(POLICY), "--config", str(config_file), "--model", "own", "--model", "added",
         "--seed", "9"]))
    assert config.seed == 9
    assert [m.name for m in config.models] == ["local-small", "own", "added"]
    assert config.models[0].latency_ms == 5
    from_policy = load_config(_parser().parse_args(["--policy", str(POLICY)]))
    assert from_policy.port == 4010
    assert "claude-sim" in {m.name for m in from_policy.models}


@pytest.mark.parametrize(("raw", "expected"), [
    (b"models:\n  - {name: x, latency_ms: -1}\n", "latency_ms"),
    (b"seed: 1 # caf\xe9\n", "can't decode byte 0xe9"),
    (b"models: " + b"[" * 3000 + b"]" * 3000 + b"\n", "nests too deeply"),
])
def test_bad_config_exits_with_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes,
                                 expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(raw)
    assert main(["--config", str(bad)]) == 2
    assert expected in capsys.readouterr().err


def test_module_prints_its_ready_line_and_serves_the_policy_models() -> None:
    command = [sys.executable, "-m", "simulator", "--policy", str(POLICY), "--port", "0",
               "--model", "extra"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("turnout simulator listening on http://127.0.0.1:")
            assert line.rstrip().endswith("(models: local-small, local-medium, claude-sim, local-embed, extra)")
            url = line.split()[4]
            models = httpx.get(url + "/v1/models").json()["data"]
            assert [m["id"] for m in models] == ["local-small", "local-medium", "claude-sim", "local-embed", "extra"]
        finally:
            process.terminate()
            process.wait(10)


def test_start_simulator_reports_a_process_that_cannot_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SimulatorError):
            start_simulator(SimulatorConfig(models=(SimModel(name="m"),)), port=taken.getsockname()[1])


def test_stop_ends_the_process_and_is_idempotent() -> None:
    sim = start_simulator(SimulatorConfig(models=(SimModel(name="m"),)))
    assert httpx.get(sim.base_url + "/health").json() == {"status": "ok", "models": ["m"]}
    sim.stop()
    sim.stop()
    assert sim.process.poll() is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(sim.base_url + "/health")


def test_duplicate_model_names_are_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    twice = tmp_path / "twice.yaml"
    twice.write_text("models:\n  - {name: a}\n  - {name: b}\n  - {name: a}\n")
    assert main(["--config", str(twice)]) == 2
    assert "duplicate simulated model name(s): a" in capsys.readouterr().err
