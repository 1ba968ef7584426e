"""Fixtures for the end-to-end tests: real processes from `tests/e2e/processes.py`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .processes import Proc, Stack, free_port, llama_runtime_missing, local_policy, run_stack, start_simulator


@pytest.fixture(scope="module")
def runtime_ready() -> None:
    reason = llama_runtime_missing()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-local")


@pytest.fixture(scope="module")
def sim_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def simulator(runtime_ready: None, logdir: Path, sim_port: int) -> Iterator[Proc]:
    policy = local_policy(logdir / "sim-policy.yaml", llama_port=8081, sim_port=sim_port)
    proc = start_simulator(logdir, policy, sim_port)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def stack(simulator: Proc, logdir: Path, sim_port: int) -> Iterator[Stack]:
    """The model server and a gateway on the `local` policy, shared by the tests that keep them up."""
    yield from run_stack(logdir, sim_port)


@pytest.fixture
def own_stack(simulator: Proc, logdir: Path, sim_port: int) -> Iterator[Stack]:
    """A model server and gateway of the test's own, for tests that kill the model server."""
    yield from run_stack(logdir, sim_port)
