"""The guard a semantic hit must pass besides its similarity score.

Embeddings score "Celsius to Fahrenheit" against "Fahrenheit to Celsius" at 0.995 and "17x23"
against "17x24" at 0.91, so a hit also needs: the same numbers in the same order, the same quoted
strings, the same negation, no word swapped for its opposite, the words both questions share in
the same order around a directional word (to, from, than, into, vs, ...), and no name swapped for
another (each side naming something the other does not mention), and the same when/where/who.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from gateway.cache.lexicon import DIRECTIONAL, INTERROGATIVES, NEGATIONS, NUMBER_WORDS, OPPOSITES, STOP

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
    names = frozenset(tuple(_stem(w) for w in _WORD.findall(m.group(1).lower()))
                      for m in _NAME.finditer(text) if m.group(1) != "I")
    return _Facts(tuple(numbers), quoted, negated, words, " " + " ".join(words) + " ", names,
                  frozenset(_stem(w) for w in words))


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _names_swapped(a: _Facts, b: _Facts) -> bool:
    """Each side names something the other does not mention (Montana / Minnesota)."""
    def unmatched(one: _Facts, other: _Facts) -> bool:
        return any(name and not all(w in other.stems for w in name) for name in one.names)

    return unmatched(a, b) and unmatched(b, a)


def _quotes_differ(a: _Facts, b: _Facts) -> bool:
    """A quoted string of either side must appear, quoted or not, in the other."""
    return any(f" {q} " not in other.folded for one, other in ((a, b), (b, a)) for q in one.quoted if q)


def _opposite_swapped(a: _Facts, b: _Facts) -> bool:
    words_a, words_b = set(a.words), set(b.words)
    only_b = words_b - words_a
    return any(OPPOSITES.get(word, frozenset()) & only_b for word in words_a - words_b)


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


def _leading(text: str) -> frozenset[str]:
    """Question words that open a sentence (when / where / who used as conjunctions do not count)."""
    firsts = (_WORD.findall(sentence.lower())[:1] for sentence in re.split(r"[.?!;:\n]", text))
    return frozenset(w[0] for w in firsts if w) & INTERROGATIVES


def guard_rejects(query: str, cached: str) -> str | None:
    """Why `cached` must not answer `query` although they embed alike; None when the hit may stand."""
    a, b = _facts(query), _facts(cached)
    if a.numbers != b.numbers:
        return "numbers"
    if _quotes_differ(a, b):
        return "quoted"
    if a.negated != b.negated:
        return "negation"
    if _opposite_swapped(a, b):
        return "opposite"
    if _order_reversed(a, b):
        return "order"
    if _names_swapped(a, b):
        return "names"
    if _leading(query) != _leading(cached):
        return "question"
    return None
