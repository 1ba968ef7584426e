"""The `classifier:` policy section in a real gateway process: a reload that names another artifact
makes `POST /v1/route` serve that artifact's scores; a missing file or a sha256 mismatch refuses the
reload (naming the YAML path) and the artifact already loaded keeps serving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml

from classifier import Classifier
from classifier import artifact as artifacts
from classifier.model import DEFAULT_ARTIFACT
from simulator.process import SimulatorProcess
from tests.conftest import GatewayProcess, base_policy

PROMPT = "Prove that there are infinitely many primes congruent to 3 mod 4, step by step."


def _other_artifact(directory: Path) -> tuple[Path, str]:
    """The shipped weights with a different head bias: every score moves."""
    arrays, meta = artifacts.load(DEFAULT_ARTIFACT)
    meta["head"]["bias"] = float(meta["head"]["bias"]) + 2.5
    path = directory / "retrained" / "classifier.npz"
    return path, artifacts.save(path, arrays, meta)


def _expected(path: Path) -> float:
    return float(Classifier.from_file(path).classify([{"role": "user", "content": PROMPT}]).score)


def _route_score(gw: GatewayProcess) -> float:
    reply = httpx.post(gw.base_url + "/v1/route", json={"model": "auto", "messages": [
        {"role": "user", "content": PROMPT}]}, timeout=30)
    assert reply.status_code == 200, reply.text
    score: float = reply.json()["score"]
    return score


def _reload(gw: GatewayProcess, path: Path, doc: dict[str, Any]) -> httpx.Response:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return httpx.post(gw.base_url + "/admin/reload", timeout=60)


def test_classifier_artifact_swapped_on_reload(sim: SimulatorProcess, tmp_path: Path,
                                               gateway_factory: Callable[..., GatewayProcess]) -> None:
    other, digest = _other_artifact(tmp_path)
    shipped, retrained = _expected(DEFAULT_ARTIFACT), _expected(other)
    assert abs(shipped - retrained) > 0.05  # the two artifacts are told apart by the score they serve
    doc: dict[str, Any] = base_policy(sim.base_url)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    gw = gateway_factory(path, env={"TURNOUT_POLICY_WATCH_S": "0"})
    assert abs(_route_score(gw) - shipped) < 1e-6

    reply = _reload(gw, path, {**doc, "version": "v2",
                               "classifier": {"artifact": "retrained/classifier.npz", "sha256": digest}})
    assert reply.status_code == 200 and reply.json()["applied"] == ["version", "classifier"], reply.text
    assert abs(_route_score(gw) - retrained) < 1e-6

    reply = _reload(gw, path, {**doc, "version": "v3",
                               "classifier": {"artifact": "retrained/classifier.npz", "sha256": "0" * 64}})
    body = reply.json()
    assert reply.status_code == 422 and body["version"] == "v2", reply.text
    assert f"{path}: classifier.sha256: " in body["errors"][0] and f"expected {'0' * 64}" in body["errors"][0]
    assert abs(_route_score(gw) - retrained) < 1e-6  # the loaded artifact keeps serving

    reply = _reload(gw, path, {**doc, "version": "v4", "classifier": {"artifact": "missing.npz"}})
    assert reply.status_code == 422 and "classifier.artifact: cannot read" in reply.json()["errors"][0], reply.text
    assert abs(_route_score(gw) - retrained) < 1e-6

    reply = _reload(gw, path, {**doc, "version": "v5"})  # the section removed: the shipped artifact again
    assert reply.status_code == 200, reply.text
    assert abs(_route_score(gw) - shipped) < 1e-6
