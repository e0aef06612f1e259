"""Arithmetic word problems whose gold solutions come in three formats (Echo Chamber).

Serves claim 6 (Zhao et al. 2025, arXiv 2504.07912): RL post-training collapses onto one
of the solution formats a model saw in pretraining. A problem reads

    Ann has 7 pens. She gets 5 more and gives away 3. How many pens?

with 1-2 operations on small numbers: + and - ("gets 5 more", "gives away 3"), and
optionally a product as the opening ("Ann has 3 bags of 4 pens."). Every intermediate
value stays >= 0. Names, items and verbs vary; they are surface, not part of the problem.
The gold solution of ``3*4-2`` comes in one of three formats:

    code    a=3;b=4;c=2;r=a*b-c;print(r)#10
    nl      3 times 4 is 12. 12 minus 2 is 10. The answer is 10.
    tagged  <s>3*4=12</s><s>12-2=10</s><a>10</a>

The format of example i is drawn from ``format_weights`` with its own random stream, so
changing the weights (swapped proportions, one forced format) keeps the problems.
``example(..., fmt=...)`` renders the same problem in a chosen format (per-format accuracy).

Token classes: the choice of operation is ``plan`` (the expression ``a*b-c`` in code; the
operator word or symbol in nl and tagged); the numbers written in the steps are ``exec``;
the final number is ``answer``; everything else (``a=``, ``;print(r)#``, `` is ``,
``<s>``, ``The answer is``) is ``format``.

Held-out split: the problem's key is its expression (numbers and ops, e.g. ``3*4-2``);
``test`` holds the keys whose hash bucket falls in ``heldout_fraction``, ``train`` the
rest. Each split's stream redraws (attempt 0, 1, ...) until the key lands in its split,
so no test problem ever appears in train, whatever the names and items.

Answer parsing: the number after the first final-answer marker of any format (``#``,
``The answer is ``, ``<a>``). The first marker, not the last integer, because a
completion that runs past its answer (no EOS) appends junk that may hold numbers; a
completion with no marker has committed to no answer and scores 0. This rule is the
organisms' (their gold formats, their run-on completions); a real model's free text goes
through ``tasks.chat`` instead, which reads the last explicit answer (``tasks.answers``).

Departures from the paper: formats are tiny synthetic analogues of TinyGSM code,
OpenMathInstruct-1 tags and OpenMathInstruct-2 prose; the code format is not executed,
its stated ``#answer`` is read like the other formats' answers, so one reward rule serves
all formats and no model output is ever run.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from regimescope.errors import BadInput, choose
from regimescope.tasks.base import Example, Score, compose, example_rng, is_heldout

FORMATS = ("code", "nl", "tagged")
OP_WORDS = {"+": "plus", "-": "minus", "*": "times"}
NAMES = (("Ann", "She"), ("Bob", "He"), ("Cat", "She"), ("Dan", "He"))
NAMES += (("Eve", "She"), ("Max", "He"), ("Sue", "She"), ("Tom", "He"))
ITEMS = ("pens", "cups", "eggs", "books", "coins", "cards", "hats", "keys")
CONTAINERS = ("bags", "boxes")
VERBS = {
    "+": ("gets {n} more", "buys {n} more", "finds {n} more"),
    "-": ("gives away {n}", "loses {n}", "sells {n}"),
}
ANSWER_MARKER = re.compile(r"#(-?\d+)|The answer is (-?\d+)|<a>(-?\d+)")
FORMAT_MARKERS = {
    "code": re.compile(r"\b[a-z]=-?\d|print\("),
    "nl": re.compile(r"\b(?:plus|minus|times)\b|The answer is"),
    "tagged": re.compile(r"<[sa]>"),
}
STREAM = "arithmetic"  # random-stream label shared by every variant (same problems)


@dataclass(frozen=True)
class ArithmeticConfig:
    max_operand: int = 9  # start count and added/removed amounts are drawn from 1..max_operand
    max_factor: int = 5  # both factors of a product opening are drawn from 2..max_factor
    times_prob: float = 0.2  # probability that a problem opens with a product (3 bags of 4)
    max_ops: int = 2  # operations per problem are 1..max_ops (a product counts as one)
    format_weights: tuple[float, ...] = (1.0, 1.0, 1.0)  # relative weights of code, nl, tagged
    heldout_fraction: float = 0.1  # share of problem keys (expressions) in the test split

    def __post_init__(self):
        if len(self.format_weights) != len(FORMATS) or min(self.format_weights) < 0:
            raise BadInput(f"format_weights needs {len(FORMATS)} weights >= 0 ({FORMATS})")
        if sum(self.format_weights) <= 0:
            raise BadInput("format_weights must have a positive weight")
        if not 0 < self.heldout_fraction < 1:
            raise BadInput(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}")
        if self.max_ops < 1 or self.max_operand < 1 or self.max_factor < 2:
            raise BadInput("need max_ops >= 1, max_operand >= 1, max_factor >= 2")


@dataclass(frozen=True)
class Problem:
    numbers: tuple[int, ...]  # operands, in the order they are used
    ops: tuple[str, ...]  # one operator per operation, applied left to right
    text: str  # the word problem

    @property
    def expression(self) -> str:
        """The problem's identity, e.g. ``3*4-2`` (its held-out key)."""
        return str(self.numbers[0]) + "".join(
            f"{o}{n}" for o, n in zip(self.ops, self.numbers[1:], strict=True)
        )

    def values(self) -> list[int]:
        """Running values: the first operand, then the result after each operation."""
        values = [self.numbers[0]]
        for op, n in zip(self.ops, self.numbers[1:], strict=True):
            values.append(apply(values[-1], op, n))
        return values


def apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def draw_problem(rng, cfg: ArithmeticConfig) -> Problem:
    """A random problem: an opening count or product, then + and - steps, all values >= 0."""
    name, pronoun = rng.choice(NAMES)
    item = rng.choice(ITEMS)
    if rng.random() < cfg.times_prob:
        numbers, ops = [rng.randint(2, cfg.max_factor), rng.randint(2, cfg.max_factor)], ["*"]
        text = f"{name} has {numbers[0]} {rng.choice(CONTAINERS)} of {numbers[1]} {item}."
    else:
        numbers, ops = [rng.randint(1, cfg.max_operand)], []
        text = f"{name} has {numbers[0]} {item}."
    value = numbers[0] * (numbers[1] if ops else 1)
    clauses = []
    for _ in range(rng.randint(0 if ops else 1, cfg.max_ops - len(ops))):
        op = rng.choice("+-") if value > 0 else "+"
        n = rng.randint(1, cfg.max_operand if op == "+" else min(cfg.max_operand, value))
        value = apply(value, op, n)
        numbers.append(n)
        ops.append(op)
        clauses.append(rng.choice(VERBS[op]).format(n=n))
    if clauses:
        text += f" {pronoun} {' and '.join(clauses)}."
    return Problem(tuple(numbers), tuple(ops), f"{text} How many {item}?")


def code_pieces(problem: Problem) -> list[tuple[str, str]]:
    """``a=3;b=4;c=2;r=a*b-c;print(r)#10``: the expression is the plan."""
    letters = "abcdefgh"
    pieces = []
    for letter, n in zip(letters, problem.numbers, strict=False):
        pieces += [(f"{letter}=", "format"), (str(n), "exec"), (";", "format")]
    expression = letters[0] + "".join(o + x for o, x in zip(problem.ops, letters[1:], strict=False))
    answer = str(problem.values()[-1])
    return pieces + [
        ("r=", "format"),
        (expression, "plan"),
        (";print(r)#", "format"),
        (answer, "answer"),
    ]


def nl_pieces(problem: Problem) -> list[tuple[str, str]]:
    """``3 times 4 is 12. 12 minus 2 is 10. The answer is 10.``: operator words are the plan."""
    values = problem.values()
    pieces = []
    for before, op, n, after in zip(
        values[:-1], problem.ops, problem.numbers[1:], values[1:], strict=True
    ):
        pieces += [(str(before), "exec"), (" ", "format"), (OP_WORDS[op], "plan")]
        pieces += [(" ", "format"), (str(n), "exec"), (" is ", "format"), (str(after), "exec")]
        pieces += [(". ", "format")]
    return pieces + [("The answer is ", "format"), (str(values[-1]), "answer"), (".", "format")]


def tagged_pieces(problem: Problem) -> list[tuple[str, str]]:
    """``<s>3*4=12</s><s>12-2=10</s><a>10</a>``: operator symbols are the plan."""
    values = problem.values()
    pieces = []
    for before, op, n, after in zip(
        values[:-1], problem.ops, problem.numbers[1:], values[1:], strict=True
    ):
        pieces += [("<s>", "format"), (str(before), "exec"), (op, "plan"), (str(n), "exec")]
        pieces += [("=", "format"), (str(after), "exec"), ("</s>", "format")]
    return pieces + [("<a>", "format"), (str(values[-1]), "answer"), ("</a>", "format")]


RENDERERS = {"code": code_pieces, "nl": nl_pieces, "tagged": tagged_pieces}


def parse_answer(completion: str) -> str | None:
    """The integer after the first final-answer marker (``#``, ``The answer is ``, ``<a>``)."""
    match = ANSWER_MARKER.search(completion)
    if match is None:
        return None
    return str(int(next(group for group in match.groups() if group is not None)))


def classify_format(completion: str) -> str | None:
    """The format whose marker appears first in the completion; None if no marker appears.

    >>> classify_format("<s>7+5=12</s><a>12</a>")
    'tagged'
    """
    found = [
        (m.start(), i) for i, f in enumerate(FORMATS) if (m := FORMAT_MARKERS[f].search(completion))
    ]
    return FORMATS[min(found)[1]] if found else None


class ArithmeticTask:
    """Word problems with code / nl / tagged gold solutions; splits train and test."""

    version = "1.0"
    splits = ("train", "test")
    formats = FORMATS

    def __init__(self, config: ArithmeticConfig | None = None, name: str = "arithmetic"):
        self.config = config or ArithmeticConfig()
        self.name = name

    def problem(self, index: int, split: str = "train", seed: int = 0) -> Problem:
        """Problem ``index`` of ``split``: redraws until its key lands in the split."""
        choose("split", split, self.splits)
        for attempt in itertools.count():  # ends: each split holds a positive share of keys
            problem = draw_problem(example_rng(STREAM, split, seed, index, attempt), self.config)
            if is_heldout(problem.expression, self.config.heldout_fraction) == (split == "test"):
                break
        return problem

    def gold_format(self, index: int, split: str = "train", seed: int = 0) -> str:
        """The format of example ``index``'s gold target, drawn from ``format_weights``."""
        rng = example_rng(STREAM + "/format", split, seed, index)
        return rng.choices(FORMATS, weights=self.config.format_weights)[0]

    def example(
        self, index: int, split: str = "train", seed: int = 0, fmt: str | None = None
    ) -> Example:
        """Example ``index``; ``fmt`` renders its problem in that format, not the drawn one."""
        fmt = fmt or self.gold_format(index, split, seed)
        choose("format", fmt, FORMATS)
        problem = self.problem(index, split, seed)
        target, classes = compose(RENDERERS[fmt](problem))
        meta = {"expression": problem.expression, "numbers": problem.numbers, "ops": problem.ops}
        return Example(
            task=self.name,
            split=split,
            index=index,
            prompt=problem.text + "\n",
            target=target,
            answer=str(problem.values()[-1]),
            target_classes=classes,
            fmt=fmt,
            meta=meta,
        )

    def verify(self, example: Example, completion: str) -> Score:
        """Reward 1 iff the answer after the first final-answer marker equals the gold."""
        answer = parse_answer(completion)
        details = {"format": classify_format(completion), "gold_format": example.fmt}
        return Score(reward=float(answer == example.answer), answer=answer, details=details)

    def classify_format(self, completion: str) -> str | None:
        return classify_format(completion)
