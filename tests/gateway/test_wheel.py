"""`pip install` of the wheel gives a working gateway: the embedded default policy, the simulator
config beside it and the JSON Schema ship inside the `gateway` package (`gateway/policies` is a
symlink to the repository's `policies/`), not only in a checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import json, sys
import gateway
from gateway.config import load_policy
from gateway.settings import DEFAULT_POLICY
policy = load_policy(DEFAULT_POLICY)
print(json.dumps({"gateway": gateway.__file__, "policy": str(DEFAULT_POLICY), "models": len(policy.models),
                  "simulator": (DEFAULT_POLICY.parent / "default.simulator.yaml").is_file(),
                  "schema": (DEFAULT_POLICY.parent / "policy.schema.json").is_file()}))
"""


def test_the_installed_wheel_finds_its_default_policy(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=600)
    site = tmp_path / "site"
    with zipfile.ZipFile(next(wheels.glob("turnout-*.whl"))) as wheel:  # installing a wheel is unpacking it
        wheel.extractall(site)
    # run from elsewhere, the unpacked wheel first on the path: the checkout is not importable
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", CHECK], check=True, capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    found = json.loads(out.stdout)
    assert Path(found["gateway"]).is_relative_to(site), found
    assert Path(found["policy"]).is_relative_to(site), found
    assert found["models"] > 0 and found["simulator"] and found["schema"], found
