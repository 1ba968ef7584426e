"""Word lists the guard reads: negations, number words, directional words, opposites, stop words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NEGATIONS = frozenset(_words(
    "not no never none nobody nothing nowhere neither nor without cannot cant dont doesnt didnt isnt "
    "arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt"))
# "one" is left out: far more often a pronoun ("which one", "one can") than a number.
NUMBER_WORDS = MappingProxyType({w: str(i) for i, w in enumerate(_words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty")) if w != "one"} | {w: str(i) for i, w in enumerate(_words(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth"))})
INTERROGATIVES = frozenset(_words("when where who"))
"""Question words that ask for a different kind of answer (how / what / which often paraphrase)."""
DIRECTIONAL = frozenset(_words("to into from than vs versus over per before after instead"))
_OPPOSITE_PAIRS = """
increase decrease|more less|most least|best worst|better worse|max min|maximum minimum|largest smallest
biggest smallest|larger smaller|bigger smaller|higher lower|highest lowest|high low|long short
longest shortest|longer shorter|fast slow|faster slower|fastest slowest|cheap expensive
advantages disadvantages|pros cons|good bad|positive negative|add remove
encrypt decrypt|encode decode|compress decompress|import export|buy sell|true false|start stop
enable disable|upload download|before after|first last|old new|oldest newest|older newer|hot cold
win lose|gain loss|rise fall|male female|men women|boy girl|husband wife|open close
input output|inside outside|above below|minimum maximum|ascending descending|north south|east west
left right|early late|earliest latest|push pull|send receive|always never|all none|love hate
give receive|given received|gave received|giving receiving|lend borrow|teach learn|employer employee
parent child|teacher student|won lost|winner loser|rich poor|richest poorest|legal illegal
start end|begin end|beginning end|started ended|local remote|locally remotely|benefits risks
benefit risk|benefits drawbacks|online offline|public private|accept reject|allow deny|include exclude
"""


def _opposites(text: str) -> Mapping[str, frozenset[str]]:
    table: dict[str, frozenset[str]] = {}
    for pair in re.split(r"[|\n]", text.strip()):
        a, b = pair.split()
        table[a] = table.get(a, frozenset()) | {b}
        table[b] = table.get(b, frozenset()) | {a}
    return MappingProxyType(table)


OPPOSITES = _opposites(_OPPOSITE_PAIRS)
STOP = frozenset(_words(
    "a an the is are was were be been being am do does did of and or in on at for with by as it its "
    "this that these those i you he she we they me my your our their what which who whom whose how why "
    "when where can could should would will shall may might must there here some any if then so"))
