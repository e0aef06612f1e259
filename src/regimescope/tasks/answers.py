"""Answers in a real model's free text: which span is the answer, and when it is right.

What counts as an explicit answer (``extract``), and which wins:

1. ``\\boxed{X}`` (or ``\\fbox{X}``, braces balanced): a boxed answer wins over every other
   marker, and of several boxed answers the last one wins;
2. else the last answer marker: ``#### X`` (GSM8K), or "answer is X", "answer: X",
   "answer = X" in any case ("The final answer is X", "**Answer:** X"); X runs to the end
   of its line and stops at the first sentence end (". "), with ``$``, ``*``, quotes and
   trailing punctuation stripped;
3. with no explicit answer, the last non-empty line, after its last "=" if it has one
   ("2 + 3 = 5" gives "5", "Paris." gives "Paris"), how = "last-line"; the numeric
   verifier reads the last number of such a line ("so 7 pens"), the first of a marked
   answer ("42 apples, since 6 x 7").

The last marker rather than the first: a model that revises ("so the answer is 4. Wait ...
the answer is 5") commits to its last statement. A bare ``#1`` or "Step 1" is no marker,
so numbering in free text never counts as an answer while an explicit answer exists. The
fallback reads only the last line, not the last number anywhere: a completion cut off
mid-ramble (no EOS) would otherwise be scored on whatever number it last mentioned.

Numbers are normalised before comparing (``to_number``): thousands commas (``1,234``),
a trailing ``.0``, ``$`` and ``%`` signs, fractions ``3/4`` and ``\\frac{3}{4}`` and
decimals are read exactly (``0.75 == 3/4``). Verifiers (``check``): ``exact`` (equal after
stripping whitespace), ``numeric`` (equal numbers within a tolerance; "x = 5" reads the
part after the last "="), ``regex`` (the gold is a pattern that must match the whole
extracted answer) and ``math`` (symbolic equality with sympy, ``regimescope.tasks.mathcheck``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from regimescope.errors import choose
from regimescope.tasks.base import Score

VERIFIERS = ("exact", "numeric", "regex", "math")
TOLERANCE = 1e-6  # default numeric tolerance: |x - gold| <= TOLERANCE * max(1, |gold|)
BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
MARKER = re.compile(
    r"####[ \t]*(?=(?P<hash>[^\n]*))"  # spans in lookaheads: a later marker on the same
    r"|\banswer[*_ \t]*(?:is\b|:|=)[*_: \t]*(?=(?P<word>[^\n]*))",  # line still matches
    re.IGNORECASE,
)
SENTENCE_END = re.compile(r"\.(?:\s|$)")
NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?")
FRAC = re.compile(r"^(-?)\\d?frac\{([^{}]+)\}\{([^{}]+)\}$")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # the answer span, cleaned; None for an empty completion
    how: str | None  # "boxed", "marker" or "last-line"; None with no answer


def boxed(text: str) -> list[str]:
    """The contents of every ``\\boxed{...}`` in ``text``, braces balanced, in order."""
    found = []
    for match in BOXED.finditer(text):
        depth, start = 1, match.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                found.append(text[start:i].strip())
                break
    return found


def clean(span: str) -> str:
    """A marker's span cut at the first sentence end, decoration stripped."""
    end = SENTENCE_END.search(span)
    span = span[: end.start()] if end else span
    return span.strip().strip("*_`'\"$ ").rstrip(".,;:!").strip("*_`'\"$ ")


def extract(text: str) -> Extraction:
    """The answer of a completion by the rule in the module docstring.

    >>> extract("Step #1: 2+3. The answer is 5. Check: #1 done").answer
    '5'
    """
    boxes = boxed(text)
    if boxes:
        return Extraction(boxes[-1], "boxed")
    markers = [m for m in MARKER.finditer(text) if clean(m.group("hash") or m.group("word") or "")]
    if markers:
        last = markers[-1]
        return Extraction(clean(last.group("hash") or last.group("word")), "marker")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return Extraction(None, None)
    return Extraction(clean(lines[-1].rsplit("=", 1)[-1]), "last-line")


def to_number(text: str) -> Fraction | None:
    """``text`` read exactly as one number, or None: ``"1,234"``, ``"5.0"``, ``"$3"``,
    ``"50%"`` (as 50), ``"3/4"``, ``"\\frac{3}{4}"``, ``"-2.5"``.

    >>> to_number("1,234.0") == 1234
    True
    """
    s = text.strip().strip("$").replace("\\$", "").replace("\\%", "%").rstrip("%").strip()
    frac = FRAC.match(s.replace(" ", ""))
    if frac:
        s = f"{frac.group(1)}{frac.group(2)}/{frac.group(3)}"
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", s):
        s = s.replace(",", "")
    try:
        value = Fraction(s.replace(" ", ""))
    except (ValueError, ZeroDivisionError):
        return None
    return value


def canonical(value: Fraction) -> str:
    """``"5"``, ``"-2.5"``, ``"1/3"``: an integer, a terminating decimal, or a fraction."""
    if value.denominator == 1:
        return str(value.numerator)
    rest = value.denominator
    for prime in (2, 5):
        while rest % prime == 0:
            rest //= prime
    if rest == 1 and value.denominator <= 10**12:  # a terminating decimal
        return format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return f"{value.numerator}/{value.denominator}"


def number_in(answer: str, last: bool = False) -> Fraction | None:
    """The number an answer states: the whole of it, else (after the last "=") its first
    number ("5 apples", "x = 5"), or its last with ``last`` (a fallback line: "so 7 pens")."""
    tail = answer.rsplit("=", 1)[-1]
    for candidate in (answer, tail):
        value = to_number(candidate)
        if value is not None:
            return value
    numbers = NUMBER.findall(tail)
    return to_number(numbers[-1 if last else 0].replace(" ", "")) if numbers else None


def check(
    verifier: str, answer: str | None, gold: str, tolerance: float = TOLERANCE, last: bool = False
) -> bool:
    """Whether an extracted ``answer`` is right against ``gold`` under ``verifier``; ``last``:
    the answer is a fallback line, whose last number the numeric verifier reads."""
    choose("verifier", verifier, VERIFIERS)
    if answer is None:
        return False
    if verifier == "exact":
        return answer.strip() == gold.strip()
    if verifier == "regex":
        return re.fullmatch(gold, answer.strip()) is not None
    if verifier == "math":
        from regimescope.tasks.mathcheck import equivalent

        return equivalent(answer, gold)
    value, target = number_in(answer, last), to_number(gold)
    if value is None or target is None:
        return False
    return abs(float(value - target)) <= tolerance * max(1.0, abs(float(target)))


def default_verifier(gold: str) -> str:
    """``numeric`` when the gold answer is a number, else ``exact``."""
    return "numeric" if to_number(gold) is not None else "exact"


def score(completion: str, gold: str, verifier: str, tolerance: float = TOLERANCE) -> Score:
    """Reward 1 iff the answer extracted from ``completion`` passes ``verifier`` against
    ``gold``; numeric answers are reported in canonical form (so maj@k votes "5.0" with
    "5"), and ``details`` says how the answer was found."""
    found = extract(completion)
    answer, last = found.answer, found.how == "last-line"
    if verifier == "numeric" and answer is not None:
        value = number_in(answer, last)
        answer = canonical(value) if value is not None else answer
    ok = check(verifier, found.answer, gold, tolerance, last)
    return Score(float(ok), answer, {"how": found.how, "verifier": verifier})
