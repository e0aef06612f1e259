"""String functions and their compositions: does RL create a skill or activate one?

Serves claim 4 (ProRL, arXiv 2505.24864; Yuan et al., *From f(x) and g(x) to f(g(x))*,
arXiv 2509.25123; Zhang et al., arXiv 2512.07783). Twelve atomic functions over short
strings of the letters a-h, named by one anonymous capital letter each, in three
families of four. The families are parallel (each has reorderings and a letter shift)
but differ in detail:

    family A                     family B                     family C
    K reverse      abcd -> dcba  P rotate right abcd -> dabc  U reverse middle abcd -> acbd
    L rotate left  abcd -> bcda  Q shift -1     abcd -> habc  V shift +3       abcd -> defg
    M shift +1     abcd -> bcde  R swap ends    abcd -> dbca  W reverse tail   abcd -> adcb
    N swap pairs   abcd -> badc  S swap halves  abcd -> cdab  X swap first two abcd -> bacd

Shifts wrap within a-h; "swap halves" moves the first len//2 letters to the end; every
function is defined for any length, and the twelve differ on a generic input. A problem
composes ``depth`` functions of one family, written as nested calls; the innermost is
applied first, and the gold solution applies them in that order, one line per function
(its name, then the string after it), then the answer line:

    prompt  M(K(cfab))
    target  K bafc
            M cbgd
            ans cbgd

Consecutive functions differ (``K(K(x))`` is never drawn). Depth 1 is an atomic problem
(``K(cfab)`` -> ``K bafc / ans bafc``). Inputs have ``min_len .. max_len`` letters (4 by
default: a micro organism learns the atomic functions in a few hundred steps).

Token classes: the function names in the target are ``plan`` (the order of application
is the plan); the intermediate strings are ``exec``; the final string is ``answer``;
spaces, newlines and ``ans `` are ``format``.

Held-out split: the problem's key is its prompt expression (``M(K(cfab))``); ``test``
holds the keys whose hash bucket falls in ``heldout_fraction``; each split's stream
redraws until the key lands in it, so no test problem appears in training.

Reward: 1 iff the string on the first line starting ``ans `` equals the gold (exact
match). ``plan_ok`` (the step lines name the functions in the order of application) and
``steps_ok`` (every step line is the right name and the right string) are reported
alongside and do not enter the reward, so a right answer from a wrong chain is visible.

Departures from Yuan et al.: their 25 functions are Python code whose definitions are
shown at fine-tuning time and hidden at RL time (names like ``func_16``), and the model
reasons in free text; here the functions are known only from examples, and the chain is
a fixed one-line-per-step template, so the planning tokens are exact, not estimated.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from regimescope.errors import BadInput, choose
from regimescope.tasks.base import Example, Score, compose, example_rng, is_heldout
from regimescope.tasks.mix import Mixture

LETTERS = "abcdefgh"  # the alphabet of every string; shifts wrap within it


def shift(text: str, by: int) -> str:
    """Move every letter ``by`` places along ``LETTERS``, wrapping (``shift('ah', 1) == 'ba'``)."""
    return "".join(LETTERS[(LETTERS.index(ch) + by) % len(LETTERS)] for ch in text)


def swap_pairs(text: str) -> str:
    """Swap letters 0-1, 2-3, ...; an odd last letter stays (``abcde`` -> ``badce``)."""
    swapped = [text[i + 1] + text[i] for i in range(0, len(text) - 1, 2)]
    return "".join(swapped) + (text[-1] if len(text) % 2 else "")


def swap_ends(text: str) -> str:
    """Swap the first and last letters (``abcd`` -> ``dbca``)."""
    return text[-1] + text[1:-1] + text[0] if len(text) > 1 else text


FAMILIES: dict[str, dict[str, Callable[[str], str]]] = {
    "A": {
        "K": lambda s: s[::-1],  # reverse
        "L": lambda s: s[1:] + s[:1],  # rotate left 1
        "M": lambda s: shift(s, 1),  # shift +1
        "N": swap_pairs,  # swap letters 0-1, 2-3, ...
    },
    "B": {
        "P": lambda s: s[-1:] + s[:-1],  # rotate right 1
        "Q": lambda s: shift(s, -1),  # shift -1
        "R": swap_ends,  # swap the first and last letters
        "S": lambda s: s[len(s) // 2 :] + s[: len(s) // 2],  # swap halves
    },
    "C": {
        "U": lambda s: s[:1] + s[1:-1][::-1] + s[-1:],  # reverse the middle
        "V": lambda s: shift(s, 3),  # shift +3
        "W": lambda s: s[:1] + s[1:][::-1],  # reverse the tail
        "X": lambda s: s[1::-1] + s[2:],  # swap the first two
    },
}
FUNCTIONS = {name: fn for family in FAMILIES.values() for name, fn in family.items()}
FAMILY_OF = {name: family for family, fns in FAMILIES.items() for name in fns}


@dataclass(frozen=True)
class StringsConfig:
    families: tuple[str, ...] = ("A",)  # families a problem's functions come from (one each)
    depths: tuple[int, ...] = (1,)  # composition depths, drawn uniformly (1 = atomic)
    min_len: int = 4  # input strings have min_len .. max_len letters
    max_len: int = 4  # (equal by default: a fixed length)
    heldout_fraction: float = 0.1  # share of problem keys (prompt expressions) in test

    def __post_init__(self):
        for family in self.families:
            choose("function family", family, FAMILIES)
        if not self.families or not self.depths or min(self.depths) < 1 or max(self.depths) > 6:
            raise BadInput("need at least one family and depths in 1..6")
        if not 2 <= self.min_len <= self.max_len <= 12:
            raise BadInput(
                f"need 2 <= min_len <= max_len <= 12, got {self.min_len}, {self.max_len}"
            )
        if not 0 < self.heldout_fraction < 1:
            raise BadInput(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}")

    @property
    def stream(self) -> str:
        """Random-stream label: equal configs draw equal problems, whatever the task name."""
        return f"strings|{''.join(self.families)}|{','.join(map(str, self.depths))}"


@dataclass(frozen=True)
class Problem:
    functions: tuple[str, ...]  # names in order of application (innermost first)
    text: str  # the input string

    @property
    def expression(self) -> str:
        """``M(K(cfab))``: the prompt and the held-out key."""
        inner = self.text
        for name in self.functions:
            inner = f"{name}({inner})"
        return inner

    def values(self) -> list[str]:
        """The string after each function, in order of application."""
        values, current = [], self.text
        for name in self.functions:
            current = FUNCTIONS[name](current)
            values.append(current)
        return values


def draw_problem(rng, cfg: StringsConfig) -> Problem:
    """A random composition: family, depth, functions (no immediate repeat), input."""
    family = list(FAMILIES[rng.choice(cfg.families)])
    functions = [rng.choice(family)]
    for _ in range(rng.choice(cfg.depths) - 1):
        functions.append(rng.choice([f for f in family if f != functions[-1]]))
    length = rng.randint(cfg.min_len, cfg.max_len)
    text = "".join(rng.choice(LETTERS) for _ in range(length))
    return Problem(tuple(functions), text)


def target_pieces(problem: Problem) -> list[tuple[str, str]]:
    """One ``name string`` line per function, then ``ans string``."""
    pieces = []
    for name, value in zip(problem.functions, problem.values(), strict=True):
        pieces += [(name, "plan"), (" ", "format"), (value, "exec"), ("\n", "format")]
    return pieces + [("ans ", "format"), (problem.values()[-1], "answer")]


def read_completion(completion: str) -> tuple[list[tuple[str, str]], str | None]:
    """(step lines as (name, string), answer) of a completion: the lines before the first
    ``ans `` line, and that line's text; later lines are ignored. None if no answer line."""
    steps = []
    for line in completion.split("\n"):
        if line.startswith("ans "):
            return steps, line[4:].strip()
        name, _, value = line.partition(" ")
        steps.append((name, value))
    return steps, None


class StringsTask:
    """Compositions of anonymised string functions; splits train and test."""

    version = "1.0"
    splits = ("train", "test")
    formats = ()

    def __init__(self, config: StringsConfig | None = None, name: str = "strings"):
        self.config = config or StringsConfig()
        self.name = name

    def problem(self, index: int, split: str = "train", seed: int = 0) -> Problem:
        """Problem ``index`` of ``split``: redraws until its key lands in the split."""
        choose("split", split, self.splits)
        heldout = split == "test"
        for attempt in itertools.count():  # ends: each split holds a positive share of keys
            problem = draw_problem(
                example_rng(self.config.stream, split, seed, index, attempt), self.config
            )
            if is_heldout(problem.expression, self.config.heldout_fraction) == heldout:
                break
        return problem

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        problem = self.problem(index, split, seed)
        target, classes = compose(target_pieces(problem))
        meta = {
            "functions": problem.functions,
            "input": problem.text,
            "values": tuple(problem.values()),
            "family": FAMILY_OF[problem.functions[0]],
            "depth": len(problem.functions),
            "key": problem.expression,
        }
        return Example(
            task=self.name,
            split=split,
            index=index,
            prompt=problem.expression + "\n",
            target=target,
            answer=problem.values()[-1],
            target_classes=classes,
            meta=meta,
        )

    def verify(self, example: Example, completion: str) -> Score:
        """Reward 1 iff the string on the first ``ans `` line equals the gold output."""
        steps, answer = read_completion(completion)
        gold = list(zip(example.meta["functions"], example.meta["values"], strict=True))
        details = {
            "plan_ok": [name for name, _ in steps] == list(example.meta["functions"]),
            "steps_ok": steps == gold,
        }
        return Score(reward=float(answer == example.answer), answer=answer, details=details)

    def classify_format(self, completion: str) -> str | None:
        return None


def variant(families: str, depths: tuple[int, ...], name: str) -> StringsTask:
    return StringsTask(StringsConfig(families=tuple(families), depths=depths), name=name)


def string_tasks() -> dict[str, object]:
    """The registered variants (see ``tasks.TASKS``):

    - ``strings-atomic``: depth 1 of families A and B (C's atomic skills are never taught);
    - ``strings-pretrain``: ``strings-atomic`` (weight 0.8) mixed with ``strings-depth2-a``
      (0.2): compositions are present for family A only;
    - ``strings-pretrain-sparse``: the same with A's compositions at 0.03, rare enough that
      a small organism holds them latent rather than solved;
    - ``strings-depth{2,3,4}-{a,b,c}``: one family at one depth (RL and evaluation);
    - ``strings-atomic-{a,b,c}``: one family at depth 1 (evaluation of the atomic skills).
    """
    tasks: dict[str, object] = {"strings-atomic": variant("AB", (1,), "strings-atomic")}
    for family in "abc":
        tasks[f"strings-atomic-{family}"] = variant(
            family.upper(), (1,), f"strings-atomic-{family}"
        )
        for depth in (2, 3, 4):
            name = f"strings-depth{depth}-{family}"
            tasks[name] = variant(family.upper(), (depth,), name)
    for name, share in (("strings-pretrain", 0.2), ("strings-pretrain-sparse", 0.03)):
        members = [(tasks["strings-atomic"], 1 - share), (tasks["strings-depth2-a"], share)]
        tasks[name] = Mixture(name, members)
    return tasks
