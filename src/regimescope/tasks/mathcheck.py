"""Symbolic equality of two short math answers (the ``math`` verifier), safely.

``equivalent(answer, gold)``: both are read as numbers first (``answers.to_number``,
exact); otherwise both are parsed by sympy and must agree (relative 1e-12) at ``POINTS``
fixed pseudo-random positive rational values of their symbols, evaluated numerically to
``DIGITS`` digits: random-point identity testing (Schwartz-Zippel), which never expands
or simplifies, so its cost stays bounded (``simplify((x+y+z+w)^60 - 1)`` took 216 s).
A decimal close to a constant counts as equal (``pi`` and ``3.14159265358979``).

Model output is untrusted text, and sympy's ``parse_expr`` evaluates Python, so nothing
reaches it unless it is made only of numbers, the operators ``+ - * / ^ ( )``,
single-letter variables and a fixed list of function and constant names (``NAMES``;
``e`` and ``i`` are plain symbols, ``E`` and ``I`` the constants); and an expression is
refused (not equal) when it is longer than ``MAX_CHARS``, holds a number above
``MAX_NUMBER``, or may need more than ``MAX_DIGITS`` decimal digits (``digits``), so
``9^9^9`` cannot hang the run. LaTeX (``\\frac{a}{b}``, ``\\sqrt{x}``, ``\\pi``,
``\\cdot``, ``\\left(``) is rewritten first.
"""

from __future__ import annotations

import cmath
import random
import re

from regimescope.tasks.answers import to_number

MAX_CHARS = 200  # longer answers are not compared symbolically
MAX_NUMBER = 10**6  # larger literals are refused (exact numbers go through to_number)
POINTS = 5  # random points two expressions must agree at
DIGITS = 30  # working precision of the numeric evaluation
MAX_DIGITS = 1000  # refused when its value may need more decimal digits than this
NAMES = ("sqrt", "pi", "E", "I", "exp", "log", "ln", "sin", "cos", "tan", "oo", "Abs")
TOKEN = re.compile(r"\d+(?:\.\d+)?|[A-Za-z]+|\*\*|[-+*/^()\s]")
LATEX = (
    (r"\\left|\\right|\\!|\\,|\\;", ""),
    (r"\\cdot|\\times", "*"),
    (r"\\pi\b", "pi"),
    (r"\\infty\b", "oo"),
    (r"\\ln\b", "ln"),
    (r"\\(sin|cos|tan|log|exp)\b", r"\1"),
)
INNER_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
INNER_SQRT = re.compile(r"\\sqrt\{([^{}]*)\}")


def from_latex(text: str) -> str:
    """Plain infix text from simple LaTeX: ``\\frac{1}{2}`` -> ``((1)/(2))``."""
    s = text.strip().strip("$")
    for pattern, repl in LATEX:
        s = re.sub(pattern, repl, s)
    for _ in range(10):  # innermost first; nesting deeper than this stays unparsed
        new = INNER_SQRT.sub(r"sqrt(\1)", INNER_FRAC.sub(r"((\1)/(\2))", s))
        if new == s:
            break
        s = new
    return s.replace("{", "(").replace("}", ")")


def safe_text(text: str) -> str | None:
    """``text`` when every token is allowed (see module doc), else None."""
    if len(text) > MAX_CHARS:
        return None
    tokens = TOKEN.findall(text)
    if "".join(tokens) != text:
        return None  # a character outside numbers, letters and the operators
    for token in tokens:
        if token.isalpha() and len(token) > 1 and token not in NAMES:
            return None
        if token[0].isdigit() and float(token) > MAX_NUMBER:
            return None
    return text


def digits(expr) -> float:
    """An upper bound on the decimal digits of an unevaluated expression's value: a
    number's own, a symbol 1, a sum, product or function the sum over its arguments; a
    power of numbers its base's times its exponent's value (evaluated only when that is
    itself small), a power with a symbol in its exponent (it stays symbolic) the sum."""
    if expr.is_Number:
        return float(len(str(max(abs(expr.p), expr.q)) if expr.is_Rational else str(int(expr))))
    if expr.is_Pow:
        size = digits(expr.exp)
        if size > MAX_DIGITS:
            return float("inf")
        if expr.exp.free_symbols:
            return digits(expr.base) + size
        if size > 12:
            return float("inf")
        return digits(expr.base) * max(1.0, abs(complex(expr.exp.evalf())))
    return sum((digits(arg) for arg in expr.args), 1.0)


def parse(text: str):
    """A sympy expression of an answer, or None when it is refused or does not parse."""
    from sympy import log
    from sympy.parsing.sympy_parser import (
        convert_xor,
        implicit_multiplication_application,
        parse_expr,
        standard_transformations,
    )

    safe = safe_text(from_latex(text))
    if not safe or not safe.strip():
        return None
    rules = (*standard_transformations, implicit_multiplication_application, convert_xor)
    names = {"ln": log}
    try:
        raw = parse_expr(safe, local_dict=dict(names), transformations=rules, evaluate=False)
        if digits(raw) > MAX_DIGITS:
            return None
        return parse_expr(safe, local_dict=dict(names), transformations=rules)
    except Exception:  # sympy raises many types on malformed input; all mean "no answer"
        return None


def values_at(expr, points) -> list[complex]:
    """``expr`` evaluated numerically (30 digits) at each point (symbol -> value)."""
    return [complex(expr.evalf(DIGITS, subs=point)) for point in points]


def equivalent(answer: str, gold: str) -> bool:
    """Whether ``answer`` and ``gold`` are the same number or expression (module doc)."""
    a_num, g_num = to_number(answer), to_number(gold)
    if a_num is not None and g_num is not None:
        return a_num == g_num
    a, g = parse(answer.rsplit("=", 1)[-1]), parse(gold.rsplit("=", 1)[-1])  # "x = 3" -> 3
    if a is None or g is None:
        return False
    from sympy import Rational

    rng = random.Random(0)
    symbols = sorted(a.free_symbols | g.free_symbols, key=str)
    points = [
        {s: Rational(rng.randint(1, 997), rng.randint(1, 997)) for s in symbols}
        for _ in range(POINTS)
    ]
    try:
        pairs = zip(values_at(a, points), values_at(g, points), strict=True)
        return all(cmath.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12) for x, y in pairs)
    except (TypeError, ValueError, AttributeError):  # not a number at a point (a set, x > 1)
        return False
