"""The collector: `turnout serve` tunes it once the gateway has started; in-process apps do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from gateway.app import create_app
from gateway.gctune import OLDER, YOUNG
from gateway.settings import Settings
from tests.gateway.test_service import _policy
from tests.router.fakes import ScriptedUpstream


@pytest.fixture
def collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


async def _started(tmp_path: Path, *, tune_gc: bool) -> tuple[int, tuple[int, int, int]]:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(_policy(), sort_keys=False))
    app = create_app(Settings(policy_path=path, policy_watch_s=0, tune_gc=tune_gc), upstream=ScriptedUpstream({}))
    async with app.router.lifespan_context(app):
        return gc.get_freeze_count(), gc.get_threshold()


async def test_a_serving_gateway_freezes_what_it_built_and_collects_young_objects_less_often(
        tmp_path: Path, collector: None) -> None:
    frozen, threshold = await _started(tmp_path, tune_gc=True)
    assert frozen > 10_000  # the modules, the policy, the router's artifacts
    assert threshold == (YOUNG, OLDER, OLDER)


async def test_an_app_built_in_process_leaves_the_collector_alone(tmp_path: Path, collector: None) -> None:
    before = gc.get_threshold()
    frozen, threshold = await _started(tmp_path, tune_gc=False)
    assert (frozen, threshold) == (0, before)
