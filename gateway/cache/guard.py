"""The guard a semantic hit must pass besides its similarity score.

Embeddings score "Celsius to Fahrenheit" against "Fahrenheit to Celsius" at 0.995, "17x23" against
"17x24" at 0.91 and "safe" against "unsafe" at 0.988, so a hit also needs: the same numbers in the
same order, the same quoted strings, the same negation (words, or a prefix: un-, in-, non-, ...,
-ful / -less), no word swapped for its opposite (inflections included: increasing / decreasing),
the same units with the same numbers, the words both questions share in the same order around a
directional word (to, from, than, into, vs, ...), no two entities trading places (Alice emails
Bob / Bob emails Alice; chemistry graduates and software engineering), no name swapped for another
(each side naming something the other does not mention), and the same when/where/who.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from gateway.cache.lexicon import (
    AMBIGUOUS_UNITS,
    DIRECTIONAL,
    INTERROGATIVES,
    LONG_NEGATING_PREFIXES,
    NEGATING_PREFIXES,
    NEGATIONS,
    NUMBER_WORDS,
    OPPOSITES,
    STOP,
    UNITS,
    YES_NO,
)
from gateway.cache.remember import Remembered

_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)(k|m|bn)?\b|(\d+(?:[.,]\d+)*)")
_SCALE = MappingProxyType({"k": 1_000, "m": 1_000_000, "bn": 1_000_000_000})
# A capitalised word that does not start a sentence, or a camel-cased one: a likely name.
_NAME = re.compile(r"(?<![.?!:]\s)(?<!^)\b([A-Z][\w&'-]*|[a-z]+[A-Z]\w*)")
_IDIOMS = re.compile(r"\b(?:or not|why or why not)\b")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|`([^`]+)`|(?<!\w)'([^']+)'(?!\w)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True, slots=True)
class _Facts:
    numbers: tuple[str, ...]
    quoted: frozenset[str]
    negated: bool
    words: tuple[str, ...]
    folded: str
    """Lowercased words joined by single spaces, for substring checks."""
    names: frozenset[tuple[str, ...]]
    """Likely names (capitalised words), each as its stemmed words."""
    name_order: tuple[tuple[str, ...], ...]
    """The same names in the order they first appear."""
    stems: frozenset[str]


def _number(match: re.Match[str]) -> str:
    digits, scale, bare = match.groups()
    value = (digits or bare).replace(",", "")
    if scale and "." not in value:
        return str(int(value) * _SCALE[scale])
    return value


def _facts(text: str) -> _Facts:
    lowered = text.lower().replace("\u2019", "'")
    words = tuple(w.replace("'", "") if w.endswith("n't") else w for w in _WORD.findall(lowered))
    numbers = [_number(m) for m in _NUMBER.finditer(lowered)]
    numbers += [NUMBER_WORDS[w] for w in words if w in NUMBER_WORDS]
    quoted = frozenset(" ".join(_WORD.findall(next(g for g in m.groups() if g).lower()))
                       for m in _QUOTED.finditer(text))
    negated = any(w in NEGATIONS for w in _WORD.findall(_IDIOMS.sub(" ", " ".join(words))))
    ordered = tuple(dict.fromkeys(tuple(_stem(w) for w in _WORD.findall(m.group(1).lower()))
                                  for m in _NAME.finditer(text) if m.group(1) != "I"))
    return _Facts(tuple(numbers), quoted, negated, words, " " + " ".join(words) + " ", frozenset(ordered),
                  ordered, frozenset(_stem(w) for w in words))


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _names_swapped(a: _Facts, b: _Facts) -> bool:
    """A side names something the other does not mention (Montana / Minnesota; in India / in Delhi, India)."""
    def unmatched(one: _Facts, other: _Facts) -> bool:
        return any(name and not all(w in other.stems for w in name) for name in one.names)

    return unmatched(a, b) or unmatched(b, a)


def _quotes_differ(a: _Facts, b: _Facts) -> bool:
    """A quoted string of either side must appear, quoted or not, in the other."""
    return any(f" {q} " not in other.folded for one, other in ((a, b), (b, a)) for q in one.quoted if q)


def _bases(word: str) -> set[str]:
    """The word and the forms it may inflect from (increasing -> increase, lighter -> light)."""
    forms = {word}
    for suffix in ("ing", "ed", "es", "s", "er", "est", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: -len(suffix)]
            forms |= {stem, stem + "e"}
            if len(stem) > 3 and stem[-1] == stem[-2]:
                forms.add(stem[:-1])  # bigger -> big
    return forms


def _opposite_swapped(a: _Facts, b: _Facts) -> bool:
    words_a, words_b = set(a.words), set(b.words)
    only_b = {base for word in words_b - words_a for base in _bases(word)}
    return any(OPPOSITES.get(base, frozenset()) & only_b for word in words_a - words_b for base in _bases(word))


def _prefix_negated(a: _Facts, b: _Facts) -> bool:
    """safe / unsafe, possible / impossible, careful / careless: a word and its negated form."""
    words_a, words_b = set(a.words), set(b.words)
    only_a, only_b = words_a - words_b, words_b - words_a
    for one, other in ((only_a, only_b), (only_b, only_a)):
        for word in one:
            if any(prefix + word in other for prefix in NEGATING_PREFIXES):
                return True
            if len(word) >= 6 and any(prefix + word in other for prefix in LONG_NEGATING_PREFIXES):
                return True
            if word.endswith("ful") and word[:-3] + "less" in other:
                return True
    return False


def _units(words: tuple[str, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    """Units named (canonical), and each number's unit: the unit word right after it."""
    named, quantities = [], []
    for i, word in enumerate(words):
        unit = UNITS.get(word)
        before = i - 2 if i > 1 and words[i - 1] in ("degree", "degrees") else i - 1  # 30 degrees celsius
        number = NUMBER_WORDS.get(words[before], words[before]) if before >= 0 else ""
        after_number = number[:1].isdigit()
        if unit is None or (word in AMBIGUOUS_UNITS and not after_number):
            continue
        named.append(unit)
        if after_number:
            quantities.append((number, unit))
    return named, quantities


def _units_differ(a: _Facts, b: _Facts) -> bool:
    """10 km in miles / 10 miles in km; 5 kg / 5 lb: other units, or a number with another unit."""
    named_a, quantities_a = _units(a.words)
    named_b, quantities_b = _units(b.words)
    return set(named_a) != set(named_b) or sorted(quantities_a) != sorted(quantities_b)


_MAX_SWAP_WORDS = 40
"""Longer questions are not checked for runs trading places."""
_MAX_RUN = 3


def _entities_swapped(a: _Facts, b: _Facts) -> bool:
    """Did Alice email Bob / Did Bob email Alice; can chemistry graduates apply for software engineering /
    can software engineering graduates apply for chemistry: the same content words, with two short runs of them
    (up to three words each, not side by side) trading places. Longer runs are clauses, and a clause
    moved is how news sentences paraphrase ("X, said Y" / "Y said: X")."""
    if a.names == b.names and len(a.name_order) > 1 and a.name_order != b.name_order:
        return True  # class A from class B / class B from class A
    content_a = [w for w in a.words if w not in STOP]
    content_b = [w for w in b.words if w not in STOP]
    if content_a == content_b or len(content_a) > _MAX_SWAP_WORDS or sorted(content_a) != sorted(content_b):
        return False
    start, end = 0, len(content_a)
    while content_a[start] == content_b[start]:
        start += 1
    while content_a[end - 1] == content_b[end - 1]:
        end -= 1
    one, other = content_a[start:end], content_b[start:end]
    n = len(one)
    return any(one[:x] != one[n - y:] and other == one[n - y:] + one[x:n - y] + one[:x]
               for x in range(1, min(n - 1, _MAX_RUN + 1)) for y in range(1, min(n - x, _MAX_RUN + 1)))


def _neighbour(words: tuple[str, ...], start: int, step: int) -> str | None:
    """The nearest word that is not a stop word, walking from `start` by `step`."""
    i = start + step
    while 0 <= i < len(words) and words[i] in STOP:
        i += step
    return words[i] if 0 <= i < len(words) else None


def _order_reversed(a: _Facts, b: _Facts) -> bool:
    """"X to Y" in one question (X, Y: the content words right around it), Y before X in the other."""
    first_b = {w: i for i, w in reversed(list(enumerate(b.words)))}
    if not DIRECTIONAL & first_b.keys():
        return False
    for i, word in enumerate(a.words):
        if word not in DIRECTIONAL:
            continue
        left, right = _neighbour(a.words, i, -1), _neighbour(a.words, i, 1)
        if (left in first_b and right in first_b and left != right and left not in DIRECTIONAL
                and first_b[right] < first_b[left]):
            return True
    return False


def _why_against_how(query: str, cached: str) -> bool:
    """"Why" against "how" or a yes/no question (How does DNA split? / Why does DNA split?)."""
    a, b = _first_words(query), _first_words(cached)
    for one, other in ((a, b), (b, a)):
        if "why" in one and "why" not in other and ("how" in other or other & YES_NO):
            return True
    return False


def _first_words(text: str) -> frozenset[str]:
    return frozenset(w[0] for w in (_WORD.findall(s.lower())[:1] for s in re.split(r"[.?!;:\n]", text)) if w)


def _leading(text: str) -> frozenset[str]:
    """Question words that open a sentence (when / where / who used as conjunctions do not count)."""
    firsts = (_WORD.findall(sentence.lower())[:1] for sentence in re.split(r"[.?!;:\n]", text))
    return frozenset(w[0] for w in firsts if w) & INTERROGATIVES


def guard_rejects(query: str, cached: str) -> str | None:
    """Why `cached` must not answer `query` although they embed alike; None when the hit may stand."""
    return _verdict(query, _facts(query), cached, _facts(cached))


class Guard:
    """`guard_rejects` with each text's facts remembered: a lookup's query meets several candidates,
    and a stored query meets many lookups (the facts are most of a verdict's cost)."""

    def __init__(self, *, remember: int = 4096) -> None:
        self._known: Remembered[_Facts] = Remembered(remember)

    def rejects(self, query: str, cached: str) -> str | None:
        return _verdict(query, self._facts(query), cached, self._facts(cached))

    def _facts(self, text: str) -> _Facts:
        facts = self._known.get(text)
        if facts is None:
            facts = _facts(text)
            self._known.put(text, facts)
        return facts


def _verdict(query: str, a: _Facts, cached: str, b: _Facts) -> str | None:
    if a.numbers != b.numbers:
        return "numbers"
    if _quotes_differ(a, b):
        return "quoted"
    if a.negated != b.negated:
        return "negation"
    if _opposite_swapped(a, b):
        return "opposite"
    if _prefix_negated(a, b):
        return "negation"
    if _units_differ(a, b):
        return "units"
    if _order_reversed(a, b) or _entities_swapped(a, b):
        return "order"
    if _names_swapped(a, b):
        return "names"
    if _leading(query) != _leading(cached) or _why_against_how(query, cached):
        return "question"
    return None
