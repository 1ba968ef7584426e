"""Models simulated from their name alone (like TensorZero's dummy provider).

A requested model that is not in the config but whose name starts with one of these is simulated:

| name starts with        | behaviour                                                    |
|-------------------------|--------------------------------------------------------------|
| `error-500`             | every request gets a 500                                     |
| `error-503`             | every request gets a 503                                     |
| `rate-limit`            | every request gets a 429 with `Retry-After: 1`               |
| `timeout` / `timeout-<N>ms` | stalls 30 s (or N ms) before answering                   |
| `reset`                 | the TCP connection is reset without any response             |
| `cut-stream`            | a stream stops after 2 chunks, without `[DONE]`              |
| `malformed`             | a stream carries a `data: {not json` line after 2 chunks     |
| `empty-body`            | a 200 with an empty body                                     |
| `not-json`              | a 200 whose body is HTML                                     |
| `bad-choices`           | `"choices": "abc"` in the answer, or a stream chunk after 2  |
| `empty-choices`         | `"choices": []` in the answer; a stream of no content        |
| `reset-mid-body`        | the connection is reset half-way through the body / after 2 chunks |
| `cr-only`               | a stream whose lines end in CR alone                         |
| `oversized-line`        | a 2 MiB data line in a stream, after 2 chunks                |
| `slow-<N>ms`            | answers after N ms of latency                                |
| `flaky-<P>`             | 500 with probability P percent (seeded)                      |
| `judge-prefers-<model>` | a scripted judge: `A` or `B`, the answer holding `[<model>]`   |

Anything may follow the pattern (`slow-250ms-b`, `error-500-gpt`), so several distinct models can
behave alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simulator.config import Fault, FaultKind, SimModel

_Builder = Callable[[str, "re.Match[str]"], SimModel]


def _fixed(kind: FaultKind) -> _Builder:
    def build(name: str, _: re.Match[str]) -> SimModel:
        return SimModel(name=name, faults=(Fault(kind=kind),))
    return build


def _timeout(name: str, match: re.Match[str]) -> SimModel:
    hang_s = int(match.group(1)) / 1000 if match.group(1) else 30.0
    return SimModel(name=name, faults=(Fault(kind="timeout", hang_s=hang_s),))


def _slow(name: str, match: re.Match[str]) -> SimModel:
    return SimModel(name=name, latency_ms=float(match.group(1)))


def _flaky(name: str, match: re.Match[str]) -> SimModel:
    rate = min(100.0, float(match.group(1))) / 100
    return SimModel(name=name, faults=(Fault(kind="http_500", rate=rate),))


_PATTERNS: tuple[tuple[re.Pattern[str], _Builder], ...] = (
    (re.compile(r"error-500"), _fixed("http_500")),
    (re.compile(r"error-503"), _fixed("http_503")),
    (re.compile(r"rate-limit"), _fixed("rate_limit")),
    (re.compile(r"timeout(?:-(\d+)ms)?"), _timeout),
    (re.compile(r"reset-mid-body"), _fixed("reset_mid_body")),
    (re.compile(r"reset"), _fixed("reset")),
    (re.compile(r"empty-body"), _fixed("empty_body")),
    (re.compile(r"not-json"), _fixed("not_json")),
    (re.compile(r"bad-choices"), _fixed("bad_choices")),
    (re.compile(r"empty-choices"), _fixed("empty_choices")),
    (re.compile(r"cr-only"), _fixed("cr_line_ends")),
    (re.compile(r"oversized-line"), _fixed("oversized_line")),
    (re.compile(r"cut-stream"), _fixed("cut_stream")),
    (re.compile(r"malformed"), _fixed("malformed_chunk")),
    (re.compile(r"slow-(\d+)ms"), _slow),
    (re.compile(r"flaky-(\d+(?:\.\d+)?)"), _flaky),
    (re.compile(r"judge-prefers-"), lambda name, _: SimModel(name=name)),
)


def model_from_name(name: str) -> SimModel | None:
    """The model a pattern name stands for, or None if the name matches no pattern."""
    for pattern, build in _PATTERNS:
        match = pattern.match(name)
        if match:
            return build(name, match)
    return None
