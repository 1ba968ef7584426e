from __future__ import annotations

import pytest

from gateway.guardrails.pii import find_pii, luhn_ok, redact

FOUND = [
    ("write to jane.doe+news@mail.example.co.uk today", "email"),
    ("call +1 (415) 555-0132 now", "phone"),
    ("call 020 7946 0958 now", "phone"),
    ("call 415.555.0132", "phone"),
    ("card 4111 1111 1111 1111 exp 12/29", "card"),
    ("card 5500-0000-0000-0004", "card"),
    ("amex 378282246310005", "card"),
    ("ssn 123-45-6789", "ssn"),
    ("host 10.0.12.7.", "ip"),
    ("v6 2001:db8:85a3::8a2e:370:7334 up", "ip"),
    ("key sk-proj-Abcdefghijklmnopqrstuvwxyz0123", "secret"),
    ("key sk-ant-api03-abcdefghijklmnopqrstuv", "secret"),
    ("aws AKIAIOSFODNN7EXAMPLE", "secret"),
    ("gh ghp_" + "a1B2" * 9, "secret"),
    ("slack xoxb-1234567890-abcdefghij", "secret"),
    ("turnout tk-" + "x" * 43, "secret"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "secret"),
]
NOT_FOUND = [
    "card 4111 1111 1111 1112 fails Luhn",
    "on 2024-11-28 we shipped 1234567 units of version 1.2.3",
    "the price is $1,299.99, see page 12",
    "ISBN 978-3-16-148410-0",
    "meet at 12:30:45 in room 101",
    "an address like user at example dot com",
    "the token sk-short is too short",
    "999.1.1.1 is not an IPv4 address",
]


@pytest.mark.parametrize("text,kind", FOUND)
def test_finds_each_kind(text: str, kind: str) -> None:
    spans = find_pii(text)
    assert [s.kind for s in spans] == [kind]
    assert f"[REDACTED_{kind.upper()}]" in redact(text, spans)


@pytest.mark.parametrize("text", NOT_FOUND)
def test_leaves_look_alikes_alone(text: str) -> None:
    assert find_pii(text) == []


def test_invalid_ssn_areas_are_not_ssns() -> None:
    assert find_pii("ids 000-12-3456 and 666-12-3456 and 900-12-3456", ["ssn"]) == []


def test_only_the_configured_kinds() -> None:
    text = "mail a@b.io, card 4111111111111111, ip 8.8.8.8"
    assert [s.kind for s in find_pii(text, ["ip"])] == ["ip"]
    assert redact(text, find_pii(text, ["email", "card"])) == "mail [REDACTED_EMAIL], card [REDACTED_CARD], ip 8.8.8.8"


PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----"


def test_pem_private_keys_from_begin_to_the_first_end() -> None:
    text = f"a {PEM} b {PEM.replace('RSA ', '')} c -----BEGIN EC PRIVATE KEY----- cut short, no END"
    assert redact(text, find_pii(text)) == \
        "a [REDACTED_SECRET] b [REDACTED_SECRET] c -----BEGIN EC PRIVATE KEY----- cut short, no END"
    nested = "-----BEGIN PRIVATE KEY-----\n" + PEM
    assert [(s.start, s.end) for s in find_pii(nested)] == [(0, len(nested))]


def test_many_begin_lines_without_an_end_take_linear_time() -> None:
    """One lazy regex scanned from each BEGIN to the end of the text: 7.4 s for 200 KB of BEGIN lines, a
    request that held the event loop (every tenant's requests) for minutes at the 4 MB body limit."""
    import time

    text = "-----BEGIN RSA PRIVATE KEY-----\n" * 12_500  # 400 KB
    started = time.perf_counter()
    assert find_pii(text) == []
    assert time.perf_counter() - started < 3.0  # ~0.15 s; the quadratic scan took ~30 s


def test_overlaps_resolve_to_one_span() -> None:
    text = "ping admin@10.0.0.1.example.com or sk-" + "9" * 24
    kinds = [s.kind for s in find_pii(text)]
    assert kinds == ["email", "secret"]


@pytest.mark.parametrize("number,ok", [("4111111111111111", True), ("4111111111111112", False),
                                       ("79927398713", True), ("0", True), ("18", True), ("19", False)])
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok
