"""A small progress display on stderr (a bar when stderr is a terminal, sparse lines otherwise)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], *, total: int | None, label: str, stream: TextIO | None = None) -> Iterator[T]:
    """Yield `items`, showing how many are done, the rate and the elapsed time."""
    out = stream or sys.stderr
    tty = out.isatty()
    start = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= (0.2 if tty else 5.0) or done == total:
            last = now
            out.write(("\r" if tty else "") + _line(label, done, total, now - start) + ("" if tty else "\n"))
            out.flush()
    if tty:
        out.write("\n")
    elif done != total:
        out.write(_line(label, done, total, time.monotonic() - start) + "\n")


def _line(label: str, done: int, total: int | None, elapsed: float) -> str:
    rate = done / elapsed if elapsed > 0 else 0.0
    if total:
        filled = int(30 * done / total)
        return f"{label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} {rate:,.0f}/s {elapsed:.1f}s"
    return f"{label} {done} {rate:,.0f}/s {elapsed:.1f}s"


def step(label: str, stream: TextIO | None = None) -> None:
    """Announce one stage of a longer job."""
    out = stream or sys.stderr
    out.write(f"{label}\n")
    out.flush()
