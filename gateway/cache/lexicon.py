"""Word lists the guard reads: negations, number words, directional words, opposites, stop words."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


NEGATIONS = frozenset(_words(
    "not no never none nobody nothing nowhere neither nor without cannot cant dont doesnt didnt isnt "
    "arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt non"))
NEGATING_PREFIXES = _words("un in im il ir non dis")
LONG_NEGATING_PREFIXES = _words("a")
"""symmetrical / asymmetrical, typical / atypical: only before words of six letters or more."""
"""safe / unsafe, possible / impossible, legal / illegal, toxic / nontoxic, honest / dishonest."""
# "one" is left out: far more often a pronoun ("which one", "one can") than a number.
NUMBER_WORDS = MappingProxyType({w: str(i) for i, w in enumerate(_words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty")) if w != "one"} | {w: str(i) for i, w in enumerate(_words(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth"))})
INTERROGATIVES = frozenset(_words("when where who"))
YES_NO = frozenset(_words("is are was were do does did can could should would will shall has have had may might"))
"""Words that open a yes/no question: "Is X important?" does not answer "Why is X important?"."""
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
increasing decreasing|increased decreased|increases decreases|raise lower|grow shrink|expand collapse
heavy light|heavier lighter|strong weak|stronger weaker|wet dry|thick thin|wide narrow|deep shallow
hard soft|hard easy|harder easier|difficult easy|simple complex|young old|younger older|youngest oldest
dark light|darker lighter|black white|day night|summer winter|up down|upper lower|top bottom|front back
forward backward|forwards backwards|inner outer|internal external|import export|imports exports
upgrade downgrade|upgrading downgrading|install uninstall|mount unmount|lock unlock|connect disconnect
attach detach|show hide|zoomin zoomout|maximize minimize|maximise minimise|sum difference
multiply divide|plus minus|add subtract|addition subtraction|union intersection|horizontal vertical
horizontally vertically|row column|rows columns|uppercase lowercase|sync async
synchronous asynchronous|static dynamic|mutable immutable|client server|read write|reading writing
reader writer|serialize deserialize|serialise deserialise|freeze thaw|melt freeze
boil freeze|boiling freezing|acidic alkaline|debit credit|profit loss|income expense
income expenses|asset liability|assets liabilities|borrower lender|landlord tenant|seller buyer
sellers buyers|supply demand|major minor|sharp flat|sweet sour|sweet bitter
healthy unhealthy|happy sad|friend enemy|allies enemies|victory defeat|success failure|pass fail
passed failed|arrive depart|arrival departure|arrivals departures|entrance exit|enter exit|come go
inhale exhale|asleep awake|sleep wake|lighten darken|brighten darken|clockwise counterclockwise
clockwise anticlockwise|odd even|prime composite|rational irrational|convex concave|dominant recessive
predator prey|herbivore carnivore|herbivores carnivores|vertebrates invertebrates|plant animal
plants animals|mammal reptile|solid liquid|liquid gas|conductor insulator
advantages drawbacks|advantages downsides|benefits downsides|pros drawbacks|ascend descend
ascended descended|ascent descent|sunrise sunset|write read|similar different|similarities differences
similar differ|same different|alike different
"""


def _opposites(text: str) -> Mapping[str, frozenset[str]]:
    table: dict[str, frozenset[str]] = {}
    for pair in re.split(r"[|\n]", text.strip()):
        a, b = pair.split()
        table[a] = table.get(a, frozenset()) | {b}
        table[b] = table.get(b, frozenset()) | {a}
    return MappingProxyType(table)


OPPOSITES = _opposites(_OPPOSITE_PAIRS)
_UNIT_GROUPS = """
km kilometer kilometers kilometre kilometres|mi mile miles|m meter meters metre metres|cm centimeter centimeters
mm millimeter millimeters|ft foot feet|in inch inches|yd yard yards|kg kilogram kilograms kilo kilos
lb lbs pound pounds|g gram grams|oz ounce ounces|ton tons tonne tonnes|l liter liters litre litres
ml milliliter milliliters millilitre millilitres|gal gallon gallons|cup cups|tbsp tablespoon tablespoons
tsp teaspoon teaspoons|c celsius centigrade|f fahrenheit|k kelvin|s sec second seconds|min minute minutes
h hr hour hours|day days|week weeks|month months|year years|usd dollar dollars|eur euro euros
gbp sterling|jpy yen|inr rupee rupees|cny yuan rmb|b byte bytes|kb kilobyte kilobytes|mb megabyte megabytes
gb gigabyte gigabytes|tb terabyte terabytes|bit bits|mph|kph kmh|knot knots|acre acres|hectare hectares
w watt watts|kw kilowatt kilowatts|kwh|hp horsepower|cal calorie calories|kcal|j joule joules|psi|bar|pa pascal
"""


def _units(text: str) -> Mapping[str, str]:
    table: dict[str, str] = {}
    for group in re.split(r"[|\n]", text.strip()):
        names = group.split()
        for name in names:
            table[name] = names[0]
    return MappingProxyType(table)


UNITS = _units(_UNIT_GROUPS)
"""A unit's spellings -> one canonical name (ambiguous one-letter forms count only after a number)."""
AMBIGUOUS_UNITS = frozenset(_words("m in g s h l c f k b w pa min bar"))
STOP = frozenset(_words(
    "a an the is are was were be been being am do does did of and or in on at for with by as it its "
    "this that these those i you he she we they me my your our their what which who whom whose how why "
    "when where can could should would will shall may might must there here some any if then so"))
