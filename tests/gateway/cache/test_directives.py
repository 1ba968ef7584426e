from __future__ import annotations

from gateway.cache import CacheDirectives, parse_cache_control


def test_absent_header_means_defaults() -> None:
    assert parse_cache_control(None) == CacheDirectives()
    assert parse_cache_control("") == CacheDirectives()


def test_directives_are_case_insensitive_and_combined() -> None:
    got = parse_cache_control("No-Cache, no-store, MAX-AGE=60")
    assert got == CacheDirectives(no_cache=True, no_store=True, max_age=60)


def test_malformed_and_unknown_directives_are_ignored() -> None:
    assert parse_cache_control("max-age=abc, private, x") == CacheDirectives()
    assert parse_cache_control("max-age=\u00b2, max-age=\u0663") == CacheDirectives()  # digits, but not ASCII ones
    assert parse_cache_control('max-age="30", max-age=10').max_age == 10
