"""Run the simulator as a child process, for tests, benchmarks and `turnout serve`.

    with start_simulator(SimulatorConfig(models=(SimModel(name="m"),))) as sim:
        httpx.get(sim.base_url + "/health")

`start_simulator` writes the config to a temporary YAML file, starts
`python -m simulator --config FILE --port PORT`, reads the real port from its ready line and
waits until `/health` answers.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx
import yaml

from simulator.config import SimulatorConfig

_READY = re.compile(r"listening on (http://\S+):(\d+)")


class SimulatorError(RuntimeError):
    """The simulator process did not come up."""


class SimulatorProcess:
    """A running simulator; `base_url` is `http://host:port` (append `/v1` for OpenAI clients)."""

    def __init__(self, process: subprocess.Popen[str], url: str, port: int, config_file: Path) -> None:
        self.process = process
        self.port = port
        self.base_url = f"{url}:{port}"
        self._config_file = config_file

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._config_file.unlink(missing_ok=True)

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_simulator(config: SimulatorConfig, port: int = 0, *, host: str | None = None,
                    timeout: float = 15.0, log_level: str = "warning",
                    exit_with_parent: bool = False) -> SimulatorProcess:
    """Start a simulator process on `port` (0: a free one) and wait until it answers `/health`.
    `exit_with_parent`: it also ends when this process does, even killed (Linux; the kernel ties it
    to the calling thread, so start it from a thread that lives as long as the process)."""
    fd, name = tempfile.mkstemp(prefix="turnout-sim-", suffix=".yaml")
    config_file = Path(name)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(config.model_dump(mode="json"), handle)
    command = [sys.executable, "-m", "simulator", "--config", str(config_file), "--port", str(port),
               "--log-level", log_level] + (["--exit-with-parent"] if exit_with_parent else [])
    if host is not None:
        command += ["--host", host]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        url, real_port = _await_ready(process, time.monotonic() + timeout)
        sim = SimulatorProcess(process, url, real_port, config_file)
        _await_health(sim, time.monotonic() + timeout)
    except BaseException:
        process.kill()
        process.wait()
        config_file.unlink(missing_ok=True)
        raise
    return sim


def _await_ready(process: subprocess.Popen[str], deadline: float) -> tuple[str, int]:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = process.stdout.readline()
            if not line:
                raise SimulatorError(f"simulator exited with code {process.wait()} before it was ready")
            match = _READY.search(line)
            if match:
                return match.group(1), int(match.group(2))
    raise SimulatorError("simulator did not report ready in time")


def _await_health(sim: SimulatorProcess, deadline: float) -> None:
    while True:
        try:
            if httpx.get(sim.base_url + "/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise SimulatorError("simulator /health did not answer 200 in time")
        time.sleep(0.05)
