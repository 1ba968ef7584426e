"""Personal data and secrets in text: find them, and replace them with `[REDACTED_<KIND>]`.

Kinds: email, phone, card (Luhn-checked), ssn (US), ip (v4 and v6), secret (API keys and tokens).
Where matches overlap, the earlier one wins, then the more specific kind (secret > card > ssn > ...).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

PiiKind = Literal["email", "phone", "card", "ssn", "ip", "secret"]
ALL_KINDS: tuple[PiiKind, ...] = ("secret", "card", "ssn", "email", "ip", "phone")

_SECRET = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"sk-[A-Za-z0-9_-]{20,}"                      # OpenAI, Anthropic (sk-ant-...)
    r"|tk-[A-Za-z0-9_-]{32,}"                     # Turnout virtual keys
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"                 # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{36,}"                # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"              # Slack
    r"|AIza[0-9A-Za-z_-]{35}"                     # Google API keys
    r"|glpat-[A-Za-z0-9_-]{20,}"                  # GitLab
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r")")
# PEM private keys, BEGIN to the first END after it (`_pem_keys`): as one lazy regex, every BEGIN with no
# END after it scanned to the end of the text, quadratic in a body of repeated BEGIN lines (7 s for 200 KB)
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----")
_PEM_END = re.compile(r"-----END [A-Z ]{0,40}PRIVATE KEY-----")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])")
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\d.])(?:{_OCTET}\.){{3}}{_OCTET}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _pem_keys(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each PEM private key, in one pass: once a BEGIN has no END after it, none has."""
    pos = 0
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        end = _PEM_END.search(text, begin.end())
        if end is None:
            return
        yield begin.start(), end.end()
        pos = end.end()


def _phone(text: str) -> bool:
    digits = sum(c.isdigit() for c in text)
    separated = any(c in text for c in " .-()") or text.startswith("+")
    return 9 <= digits <= 15 and separated


_DETECTORS: dict[PiiKind, tuple[re.Pattern[str], Callable[[str], bool] | None]] = {
    "secret": (_SECRET, None),
    "card": (_CARD, _card),
    "ssn": (_SSN, None),
    "email": (_EMAIL, None),
    "ip": (_IPV4, None),
    "phone": (_PHONE, _phone),
}


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    kind: PiiKind


def find_pii(text: str, kinds: Iterable[PiiKind] = ALL_KINDS) -> list[Span]:
    """Non-overlapping PII spans of `text`, in order."""
    wanted = set(kinds)
    found: list[tuple[int, int, Span]] = []
    for rank, kind in enumerate(ALL_KINDS):
        if kind not in wanted:
            continue
        pattern, check = _DETECTORS[kind]
        for m in pattern.finditer(text):
            if check is None or check(m.group()):
                found.append((m.start(), rank, Span(m.start(), m.end(), kind)))
        if kind == "secret":
            found += [(start, rank, Span(start, end, "secret")) for start, end in _pem_keys(text)]
        if kind == "ip":
            found += [(m.start(), rank, Span(m.start(), m.end(), "ip"))
                      for m in _IPV6.finditer(text) if m.group().count(":") >= 2 and _ipv6(m.group())]
    spans: list[Span] = []
    for _, _, span in sorted(found, key=lambda f: (f[0], f[1])):
        if not spans or span.start >= spans[-1].end:
            spans.append(span)
    return spans


def placeholder(kind: PiiKind) -> str:
    return f"[REDACTED_{kind.upper()}]"


def redact(text: str, spans: list[Span]) -> str:
    out: list[str] = []
    pos = 0
    for span in spans:
        out += [text[pos:span.start], placeholder(span.kind)]
        pos = span.end
    out.append(text[pos:])
    return "".join(out)
