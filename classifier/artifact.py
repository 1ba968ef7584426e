"""The shipped model file: numpy arrays and JSON metadata in one .npz, verified by sha256 on load.

Nothing in the file can execute code on load (`allow_pickle=False`), and the loader refuses a file
whose sha256 differs from the one recorded beside it (`<name>.sha256`) or given by the caller.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

META_KEY = "meta_json"
_FIXED_TIME = (2024, 1, 1, 0, 0, 0)


class ArtifactError(RuntimeError):
    """The classifier artifact is missing, unreadable or does not match its recorded hash."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def save(path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> str:
    """Write arrays and metadata byte-for-byte reproducibly; record and return the sha256."""
    payload = dict(arrays)
    payload[META_KEY] = np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(payload):
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(payload[name]), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, member.getvalue())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    digest = sha256_of(path)
    digest_path(path).write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    return digest


def load(path: Path, expected_sha256: str | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a verified artifact: (arrays, metadata). Raises ArtifactError on any mismatch."""
    try:
        data = path.read_bytes()
        recorded = expected_sha256 or digest_path(path).read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError) as exc:
        raise ArtifactError(f"cannot read classifier artifact {path} or its recorded sha256: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != recorded.lower():
        raise ArtifactError(f"classifier artifact {path} has sha256 {actual}, expected {recorded}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"classifier artifact {path} is not a valid model file: {exc}") from exc
    return arrays, meta
