"""Artifacts load only when their sha256 matches, and nothing in them can execute code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier import ArtifactError, Classifier, artifact
from classifier.model import DEFAULT_ARTIFACT


def test_round_trip_is_byte_reproducible(tmp_path: Path) -> None:
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    first = artifact.save(tmp_path / "a.npz", arrays, {"format": 1, "name": "x"})
    second = artifact.save(tmp_path / "b.npz", arrays, {"format": 1, "name": "x"})
    assert first == second
    loaded, meta = artifact.load(tmp_path / "a.npz")
    np.testing.assert_array_equal(loaded["w"], arrays["w"])
    assert meta == {"format": 1, "name": "x"}


def test_tampered_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    artifact.save(path, {"w": np.ones(4)}, {"format": 1})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="sha256"):
        artifact.load(path)


def test_shipped_artifact_is_rejected_when_a_byte_changes(tmp_path: Path) -> None:
    copy = tmp_path / "classifier.npz"
    data = bytearray(DEFAULT_ARTIFACT.read_bytes())
    data[-100] ^= 0x01
    copy.write_bytes(bytes(data))
    artifact.digest_path(copy).write_text(artifact.digest_path(DEFAULT_ARTIFACT).read_text())
    with pytest.raises(ArtifactError, match="sha256"):
        Classifier.from_file(copy)


def test_expected_hash_from_the_caller_wins(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    digest = artifact.save(path, {"w": np.ones(2)}, {"format": 1})
    artifact.load(path, expected_sha256=digest)
    with pytest.raises(ArtifactError, match="expected"):
        artifact.load(path, expected_sha256="0" * 64)


def test_missing_digest_or_file_is_an_artifact_error(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    artifact.save(path, {"w": np.ones(2)}, {"format": 1})
    artifact.digest_path(path).unlink()
    with pytest.raises(ArtifactError):
        artifact.load(path)
    with pytest.raises(ArtifactError):
        artifact.load(tmp_path / "absent.npz")


def test_object_arrays_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="pickle"):
        artifact.save(Path("/nonexistent/never.npz"), {"w": np.array([object()])}, {"format": 1})


def test_wrong_format_version_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    artifact.save(path, {"w": np.ones(2)}, {"format": 999})
    with pytest.raises(ArtifactError, match="format"):
        Classifier.from_file(path)
