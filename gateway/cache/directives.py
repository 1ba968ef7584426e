"""Per-request cache directives from the `Cache-Control` request header."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CacheDirectives:
    no_cache: bool = False
    """Skip the lookup, still store the fresh answer."""
    no_store: bool = False
    """Do not store this request's answer (a cached answer may still be served)."""
    max_age: int | None = None
    """Accept only cached answers at most this many seconds old."""


def parse_cache_control(header: str | None) -> CacheDirectives:
    """Parse `no-cache`, `no-store` and `max-age=N`; unknown or malformed directives are ignored."""
    if not header:
        return CacheDirectives()
    no_cache = no_store = False
    max_age: int | None = None
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        name = name.strip().lower()
        if name == "no-cache":
            no_cache = True
        elif name == "no-store":
            no_store = True
        elif name == "max-age":
            value = value.strip().strip('"')
            if value.isascii() and value.isdigit():  # "²".isdigit() is True too
                max_age = int(value) if max_age is None else min(max_age, int(value))
    return CacheDirectives(no_cache=no_cache, no_store=no_store, max_age=max_age)
