"""Process settings: where the policy is, where to listen. From CLI flags or `TURNOUT_*` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# `gateway/policies` is a symlink to the top-level `policies/` in the repository and a copy of it in
# the wheel, so the embedded default is found in a checkout and after `pip install` alike.
DEFAULT_POLICY = Path(__file__).resolve().parent / "policies" / "default.yaml"


@dataclass(frozen=True, slots=True)
class Settings:
    policy_path: Path = DEFAULT_POLICY
    host: str = "127.0.0.1"
    port: int = 4000
    workers: int = 1
    log_level: str = "info"
    policy_watch_s: float = 1.0
    """How often the policy file is checked for changes (0 turns the watch off)."""
    allow_open_network: bool = False
    """Serve clients beyond localhost even with no API keys configured (TURNOUT_ALLOW_OPEN_NETWORK=1)."""
    environ: dict[str, str] = field(default_factory=dict, repr=False)
    """The environment secrets are read from (API keys, Redis URL). Never logged."""
    tune_gc: bool = False
    """Tune the garbage collector once started (`gateway.gctune`): set by `turnout serve` only."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Raises `ValueError` naming the variable when a number is not one."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            policy_path=Path(env.get("TURNOUT_POLICY", str(DEFAULT_POLICY))),
            host=env.get("TURNOUT_HOST", "127.0.0.1"),
            port=int(_number(env, "TURNOUT_PORT", 4000, whole=True)),
            workers=int(_number(env, "TURNOUT_WORKERS", 1, whole=True)),
            log_level=env.get("TURNOUT_LOG_LEVEL", "info"),
            policy_watch_s=_number(env, "TURNOUT_POLICY_WATCH_S", 1.0),
            allow_open_network=env.get("TURNOUT_ALLOW_OPEN_NETWORK", "") in ("1", "true", "yes"),
            environ=env,
        )


def _number(env: dict[str, str], name: str, default: float, *, whole: bool = False) -> float:
    text = env.get(name)
    if text is None:
        return default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = -1
    if not 0 <= value < float("inf"):  # NaN fails this too
        raise ValueError(f"{name}={text!r} is not a {'whole ' if whole else ''}number >= 0")
    return value
