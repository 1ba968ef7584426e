"""The guard a semantic hit must pass besides its similarity score.

Embeddings score "Celsius to Fahrenheit" against "Fahrenheit to Celsius" at 0.995 and "17x23"
against "17x24" at 0.91, so a hit also needs: the same numbers in the same order, the same quoted
strings, the same negation, no word swapped for its opposite, and the words both questions share
in the same order around a directional word (to, from, than, into, vs, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

_NUMBER = re.compile(r"(\d+(?:[.,]\d+)*)(k|m|bn)?\b|(\d+(?:[.,]\d+)*)")
_SCALE = {"k": 1_000, "m": 1_000_000, "bn": 1_000_000_000}
_IDIOMS = re.compile(r"\b(?:or not|why or why not)\b")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|`([^`]+)`|(?<!\w)'([^']+)'(?!\w)")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_NEGATIONS = frozenset(_words(
    "not no never none nobody nothing nowhere neither nor without cannot cant dont doesnt didnt isnt "
    "arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt"))
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(_words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"))}
_DIRECTIONAL = frozenset(_words("to into from than vs versus over per before after instead"))
_OPPOSITES_TEXT = """
increase decrease|more less|most least|best worst|better worse|max min|maximum minimum|largest smallest
biggest smallest|larger smaller|bigger smaller|higher lower|highest lowest|high low|long short
longest shortest|longer shorter|fast slow|faster slower|fastest slowest|cheap expensive
advantages disadvantages|pros cons|good bad|positive negative|add remove
encrypt decrypt|encode decode|compress decompress|import export|buy sell|true false|start stop
enable disable|upload download|before after|first last|old new|oldest newest|older newer|hot cold
win lose|gain loss|rise fall|male female|men women|boy girl|husband wife|open close
input output|inside outside|above below|minimum maximum|ascending descending|north south|east west
left right|early late|earliest latest|push pull|send receive|always never|all none|love hate
"""


def _opposites(text: str) -> Mapping[str, frozenset[str]]:
    table: dict[str, frozenset[str]] = {}
    for pair in re.split(r"[|\n]", text.strip()):
        a, b = pair.split()
        table[a] = table.get(a, frozenset()) | {b}
        table[b] = table.get(b, frozenset()) | {a}
    return MappingProxyType(table)


_OPPOSITES = _opposites(_OPPOSITES_TEXT)
_STOP = frozenset(_words(
    "a an the is are was were be been being am do does did of and or in on at for with by as it its "
    "this that these those i you he she we they me my your our their what which who whom whose how why "
    "when where can could should would will shall may might must there here some any if then so"))


@dataclass(frozen=True, slots=True)
class _Facts:
    numbers: tuple[str, ...]
    quoted: frozenset[str]
    negated: bool
    words: tuple[str, ...]
    folded: str
    """Lowercased words joined by single spaces, for substring checks."""


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
    numbers += [_NUMBER_WORDS[w] for w in words if w in _NUMBER_WORDS]
    quoted = frozenset(" ".join(_WORD.findall(next(g for g in m.groups() if g).lower()))
                       for m in _QUOTED.finditer(text))
    negated = any(w in _NEGATIONS for w in _WORD.findall(_IDIOMS.sub(" ", " ".join(words))))
    return _Facts(tuple(numbers), quoted, negated, words, " " + " ".join(words) + " ")


def _quotes_differ(a: _Facts, b: _Facts) -> bool:
    """A quoted string of either side must appear, quoted or not, in the other."""
    return any(f" {q} " not in other.folded for one, other in ((a, b), (b, a)) for q in one.quoted if q)


def _opposite_swapped(a: _Facts, b: _Facts) -> bool:
    words_a, words_b = set(a.words), set(b.words)
    only_b = words_b - words_a
    return any(_OPPOSITES.get(word, frozenset()) & only_b for word in words_a - words_b)


def _neighbour(words: tuple[str, ...], start: int, step: int, shared: set[str]) -> str | None:
    """The nearest shared content word within three words of `start`, walking by `step`."""
    for i in range(start + step, start + 4 * step, step):
        if not 0 <= i < len(words):
            return None
        if words[i] in shared:
            return words[i]
    return None


def _order_reversed(a: _Facts, b: _Facts) -> bool:
    """"X to Y" in one question, Y before X in the other (X, Y: content words both share)."""
    shared = (set(a.words) & set(b.words)) - _STOP - _DIRECTIONAL
    first_b = {w: i for i, w in reversed(list(enumerate(b.words)))}
    if not _DIRECTIONAL & first_b.keys():
        return False
    for i, word in enumerate(a.words):
        if word not in _DIRECTIONAL:
            continue
        left, right = _neighbour(a.words, i, -1, shared), _neighbour(a.words, i, 1, shared)
        if left and right and left != right and first_b[right] < first_b[left]:
            return True
    return False


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
    return None
