"""Countdown: plan an expression over a few numbers that hits a target, then execute it.

Serves claim 5 (HICRA, Wang et al. 2025, arXiv 2509.03646: RL improves execution first,
then planning) and the planning side of claim 4. The split between planning and
execution tokens is known by construction:

    prompt  nums 3 5 7 -> 22
    target  plan 3*5+7
            3*5=15
            15+7=22
            ans 22

Expressions use + - * and are evaluated LEFT TO RIGHT with no precedence:
``3+5*7`` is ``(3+5)*7 = 56``. A plan may use any of the given numbers, each at most
once (a multiset: a number given twice may be used twice). Problems are generated from a
random plan over all the numbers (values in 0..max_value, target >= 1 and not one of
the numbers); several plans usually reach the target. The gold plan is the first valid
plan over all numbers in a fixed order (``gold_plan="canonical"``: permutations of the
sorted numbers, then operators in the order + - *), so a problem always has one gold;
``gold_plan="sampled"`` keeps the generating plan instead (a diverse plan prior).
``solutions`` lists every valid full plan (for plan-diversity measures).

Token classes: the plan expression is ``plan``; the numbers and operators of the step
lines are ``exec``; ``plan ``, ``=``, newlines and ``ans `` are ``format``; the final
number is ``answer``.

Splits: the key is the sorted numbers and the target (``3 5 7->22``), so a problem is in
one split whatever plan or order. A key's hash bucket (of 1000) decides its split: below
``heldout_fraction`` it is ``test`` (for reporting; the same keys and stream as in version
1.0), in the next ``validation_fraction`` it is ``validation`` (for choosing settings such
as learning rates, never reported as a result), and ``train`` holds the rest (version 1.0's
train less the validation keys). Each split's stream redraws until the key lands in it.
The default space is small (about 1,660 keys: 140 test, about 150 validation), and a
split's stream repeats keys, so evaluations draw distinct problems
(``tasks.distinct_examples``).

Parsing and reward: the first line starting ``plan `` gives the plan; the lines after it
up to the first line starting ``ans `` are the steps; that line gives the answer; later
lines (junk) are ignored. Reward 1 iff the plan uses only given numbers and reaches the
target (``plan_ok``) and the stated answer equals the target. ``exec_ok`` says whether
the written steps follow the plan one operation per line with right arithmetic; it does
not enter the reward, so plan accuracy and execution accuracy can be measured apart.
``countdown-steps`` (``check_steps=True``) is the same task, same problems, whose reward
also requires ``exec_ok``: the control for asking what a reward that ignores the steps
does to them under RL.

Departures from the paper: HICRA finds planning tokens with mined "strategic grams" in
natural-language reasoning; here the plan is one explicit line, so the planning mask is
exact rather than estimated.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from regimescope.errors import BadInput, choose
from regimescope.tasks.base import Example, Score, compose, example_rng, is_heldout

OPS = "+-*"
PLAN = re.compile(r"\d+(?:[+\-*]\d+)*")
STEP = re.compile(r"(-?\d+)([+\-*])(\d+)=(-?\d+)")
STREAM = "countdown"

Plan = tuple[tuple[int, ...], tuple[str, ...]]  # (numbers in order of use, operators)


@dataclass(frozen=True)
class CountdownConfig:
    n_numbers: int = 3  # numbers per problem (3 or 4)
    max_number: int = 9  # numbers are drawn from 1..max_number
    max_value: int = 99  # target and every value along a gold plan lie in 0..max_value
    gold_plan: str = "canonical"  # "canonical" (first valid plan) or "sampled" (generating plan)
    heldout_fraction: float = 0.1  # share of problem keys (numbers + target) in the test split
    validation_fraction: float = 0.1  # share of problem keys in the validation split
    check_steps: bool = False  # reward also requires the step lines to follow the plan

    def __post_init__(self):
        if not 2 <= self.n_numbers <= 5:
            raise BadInput(f"n_numbers must be in 2..5, got {self.n_numbers}")
        if self.max_number < 2 or self.max_value < self.max_number:
            raise BadInput("need max_number >= 2 and max_value >= max_number")
        choose("gold_plan", self.gold_plan, ("canonical", "sampled"))
        if not 0 < self.heldout_fraction < 1:
            raise BadInput(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}")
        if not 0 < self.validation_fraction < 1 - self.heldout_fraction:
            raise BadInput(
                f"validation_fraction must be in (0, 1 - heldout_fraction), "
                f"got {self.validation_fraction}"
            )


def apply(a: int, op: str, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def run_plan(plan: Plan) -> list[int]:
    """Running values left to right: the first number, then the value after each operator."""
    numbers, ops = plan
    values = [numbers[0]]
    for op, n in zip(ops, numbers[1:], strict=True):
        values.append(apply(values[-1], op, n))
    return values


def plan_text(plan: Plan) -> str:
    """``((3, 5, 7), ("*", "+"))`` -> ``3*5+7``."""
    numbers, ops = plan
    return str(numbers[0]) + "".join(f"{o}{n}" for o, n in zip(ops, numbers[1:], strict=True))


def parse_plan(text: str) -> Plan | None:
    """``3*5+7`` -> ``((3, 5, 7), ("*", "+"))``; None unless the whole text is a plan."""
    if PLAN.fullmatch(text) is None:
        return None
    numbers = tuple(int(n) for n in re.findall(r"\d+", text))
    return numbers, tuple(re.findall(r"[+\-*]", text))


def uses_allowed(plan: Plan, numbers: tuple[int, ...]) -> bool:
    """Whether the plan uses only given numbers, each at most as often as it is given."""
    return not Counter(plan[0]) - Counter(numbers)


def solutions(numbers: tuple[int, ...], target: int, max_value: int) -> Iterator[Plan]:
    """Every plan over all ``numbers`` reaching ``target`` with values in 0..max_value, in
    canonical order: permutations of the sorted numbers, then operators in order + - *."""
    for order in dict.fromkeys(itertools.permutations(sorted(numbers))):
        for ops in itertools.product(OPS, repeat=len(numbers) - 1):
            values = run_plan((order, ops))
            if values[-1] == target and all(0 <= v <= max_value for v in values):
                yield order, ops


def draw_plan(rng, cfg: CountdownConfig) -> Plan | None:
    """A random plan over all numbers, or None if it breaks the problem's constraints."""
    numbers = tuple(rng.randint(1, cfg.max_number) for _ in range(cfg.n_numbers))
    plan = numbers, tuple(rng.choice(OPS) for _ in range(cfg.n_numbers - 1))
    values = run_plan(plan)
    in_range = all(0 <= v <= cfg.max_value for v in values)
    return plan if in_range and values[-1] >= 1 and values[-1] not in numbers else None


def target_pieces(plan: Plan) -> list[tuple[str, str]]:
    """Gold target pieces: the plan line, one step line per operator, the answer line."""
    values = run_plan(plan)
    pieces = [("plan ", "format"), (plan_text(plan), "plan"), ("\n", "format")]
    for before, op, n, after in zip(values[:-1], plan[1], plan[0][1:], values[1:], strict=True):
        pieces += [
            (f"{before}{op}{n}", "exec"),
            ("=", "format"),
            (str(after), "exec"),
            ("\n", "format"),
        ]
    return pieces + [("ans ", "format"), (str(values[-1]), "answer")]


def read_completion(completion: str) -> tuple[str | None, list[str], str | None]:
    """(plan text, step lines, answer text) of a completion; None where a part is missing."""
    lines = completion.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("plan ")), None)
    if start is None:
        return None, [], None
    steps = []
    for line in lines[start + 1 :]:
        if line.startswith("ans "):
            answer = re.match(r"-?\d+", line[4:])
            return lines[start][5:], steps, answer.group() if answer else None
        steps.append(line)
    return lines[start][5:], steps, None


def steps_follow(plan: Plan, steps: list[str]) -> bool:
    """Whether ``steps`` carry out ``plan`` one operator per line with right arithmetic."""
    numbers, ops = plan
    if len(steps) != len(ops):
        return False
    value = numbers[0]
    for line, op, n in zip(steps, ops, numbers[1:], strict=True):
        match = STEP.fullmatch(line)
        if match is None:
            return False
        left, written_op, right, result = match.groups()
        if (int(left), written_op, int(right)) != (value, op, n):
            return False
        if int(result) != apply(value, op, n):
            return False
        value = int(result)
    return True


class CountdownTask:
    """Reach a target from a few numbers with + - * (left to right); splits train,
    validation and test."""

    version = "1.1"
    splits = ("train", "validation", "test")
    formats = ()

    def __init__(self, config: CountdownConfig | None = None, name: str = "countdown"):
        self.config = config or CountdownConfig()
        self.name = name

    def generating_plan(self, index: int, split: str = "train", seed: int = 0) -> Plan:
        """The plan problem ``index`` of ``split`` was generated from (redrawn into its split)."""
        choose("split", split, self.splits)
        for attempt in itertools.count():  # ends: each split holds a positive share of keys
            plan = draw_plan(example_rng(STREAM, split, seed, index, attempt), self.config)
            if plan is not None and self.in_split(problem_key(plan), split):
                break
        return plan

    def in_split(self, key: str, split: str) -> bool:
        """Whether the problem with ``key`` belongs to ``split`` (by its hash bucket)."""
        return key_split(key, self.config) == split

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        drawn = self.generating_plan(index, split, seed)
        numbers, target = tuple(sorted(drawn[0])), run_plan(drawn)[-1]
        if self.config.gold_plan == "canonical":
            gold = next(solutions(numbers, target, self.config.max_value))
        else:
            gold = drawn
        text, classes = compose(target_pieces(gold))
        meta = {"numbers": numbers, "target": target, "plan": plan_text(gold)}
        meta["key"] = problem_key(drawn)
        return Example(
            task=self.name,
            split=split,
            index=index,
            prompt=f"nums {' '.join(map(str, numbers))} -> {target}\n",
            target=text,
            answer=str(target),
            target_classes=classes,
            meta=meta,
        )

    def verify(self, example: Example, completion: str) -> Score:
        """Reward 1 iff the plan uses given numbers, reaches the target, and the answer is it
        (and, with ``check_steps``, the step lines follow the plan)."""
        written_plan, steps, answer = read_completion(completion)
        plan = parse_plan(written_plan) if written_plan is not None else None
        numbers, target = example.meta["numbers"], example.meta["target"]
        plan_ok = plan is not None and uses_allowed(plan, numbers) and run_plan(plan)[-1] == target
        exec_ok = plan is not None and steps_follow(plan, steps)
        answer_ok = answer is not None and int(answer) == target
        details = {
            "plan_ok": plan_ok,
            "exec_ok": exec_ok,
            "answer_ok": answer_ok,
            "plan": written_plan,
        }
        rewarded = plan_ok and answer_ok and (exec_ok or not self.config.check_steps)
        return Score(reward=float(rewarded), answer=answer, details=details)

    def classify_format(self, completion: str) -> str | None:
        return None


def key_split(key: str, config: CountdownConfig) -> str:
    """The split of a problem key: test below ``heldout_fraction`` of the hash buckets,
    validation in the next ``validation_fraction``, train above."""
    if is_heldout(key, config.heldout_fraction):
        return "test"
    if is_heldout(key, config.heldout_fraction + config.validation_fraction):
        return "validation"
    return "train"


def problem_key(plan: Plan) -> str:
    """The problem's identity: sorted numbers and target, e.g. ``3 5 7->22``."""
    return f"{' '.join(map(str, sorted(plan[0])))}->{run_plan(plan)[-1]}"
