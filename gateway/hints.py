"""Per-request routing hints a client may send, as headers or as an `extra_body` object.

    headers                       body (`extra_body={"turnout": {...}}`)
    x-turnout-max-tier: 2         "max_tier": 2            highest tier the request may use
    x-turnout-max-cost-usd: 0.01  "max_cost_usd": 0.01     skip models estimated above this
    x-turnout-latency-class: ...  "latency_class": "..."   interactive | standard | batch
    x-turnout-escalate: true      "escalate": true         go one tier up

A body value wins over the same header. Hints only narrow the policy's own choices: nothing here
can name a model, an upstream URL or a key. The policy's `hints.allowed` decides which are honoured.
The gateway drops the `turnout` key from the body before it goes upstream (`without_hints`).
The router reads the parsed value (`router.hints.Hints`); headers and body keys stay here, at the edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, get_args

from registry import Tier
from router.errors import RequestError
from router.hints import Hints
from router.policy import LatencyClass

BODY_KEY = "turnout"
HEADER_PREFIX = "x-turnout-"


def _bad(name: str, why: str) -> RequestError:
    return RequestError(f"routing hint {name!r}: {why}", param=f"{BODY_KEY}.{name}")


def _tier(name: str, value: Any) -> Tier:
    try:
        number = int(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
        if number is None:
            raise ValueError
        return Tier(number)
    except ValueError:
        raise _bad(name, "must be 1, 2 or 3") from None


def _cost(name: str, value: Any) -> float:
    try:
        number = float(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else -1.0
    except ValueError:
        number = -1.0
    if not math.isfinite(number) or number <= 0:
        raise _bad(name, "must be a positive number of US dollars")
    return number


def _latency_class(name: str, value: Any) -> LatencyClass:
    allowed: tuple[LatencyClass, ...] = get_args(LatencyClass)
    for option in allowed:
        if value == option:
            return option
    raise _bad(name, f"must be one of {', '.join(allowed)}")


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no"):
        return False
    raise _bad(name, "must be true or false")


_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    "max_tier": _tier,
    "max_cost_usd": _cost,
    "latency_class": _latency_class,
    "escalate": _flag,
}


def parse_hints(headers: Mapping[str, str], body: Mapping[str, Any]) -> Hints:
    """Read hints from request headers and the body's `turnout` object; 400 on a bad value or key."""
    raw: dict[str, Any] = {}
    for key, value in headers.items():
        key = key.lower()
        if key.startswith(HEADER_PREFIX):
            name = key.removeprefix(HEADER_PREFIX).replace("-", "_")
            if name in _PARSERS:
                raw[name] = value
    extra = body.get(BODY_KEY)
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise RequestError(f"{BODY_KEY!r} must be an object of routing hints", param=BODY_KEY)
        for name, value in extra.items():
            if name not in _PARSERS:
                raise _bad(str(name), f"unknown hint; known: {', '.join(_PARSERS)}")
            raw[name] = value
    return Hints(**{name: _PARSERS[name](name, value) for name, value in raw.items()})


def without_hints(body: dict[str, Any]) -> dict[str, Any]:
    """The body as it goes upstream: routing hints are ours."""
    return {k: v for k, v in body.items() if k != BODY_KEY} if BODY_KEY in body else body
