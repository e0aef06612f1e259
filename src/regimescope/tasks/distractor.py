"""Comparison with a distractor: a task whose causal variable and whose decodable but
unused feature are both known by construction (study 7).

A prompt is four distinct-pair digits ``x₁x₂x₃x₄=``; the answer is ``Y`` when x₁ > x₂ and
``N`` otherwise. So:

- the **causal variable** C = [x₁ > x₂] decides the answer, and nothing else does;
- the **distractor** D = [x₃ > x₄] is a feature of the same shape that the answer does not
  depend on. In the ``train`` split D agrees with C with probability ``agreement`` (0.98
  by default), so a model can pick D up as a shortcut early in training and a probe
  trained on training-like data finds it almost as readable as C. The ``decorrelated``
  split draws C and D independently: a model that reaches the same accuracy there does
  not use D for its answer. The ``conflict`` split always sets D against C: a model that
  answers from D is always wrong there (the shortcut's out-of-distribution split, as HANS
  is for NLI models: study 8, part B).

Counterfactuals change one variable by symmetric token replacement: swapping x₁ and x₂
flips C and nothing else (the same tokens, two positions exchanged); swapping x₃ and x₄
flips D. Ties (x₁ = x₂ or x₃ = x₄) are never drawn, so every swap flips its variable.

Example i of a split is a deterministic function of (split, seed, i). The quadruples are
split by a stable hash: a held-out fifth of them appears only in the held-out splits
(every split but ``train``), so a probe or an accuracy read there is on prompts never trained on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from regimescope.errors import choose
from regimescope.tasks.base import Example, Score, example_rng, is_heldout

NAME = "distractor"
SPLITS = ("train", "test", "decorrelated", "conflict")
AGREEMENT = {"decorrelated": 0.5, "conflict": 0.0}  # P(D = C) where it departs from training
HELDOUT_FRACTION = 0.2  # share of quadruples kept out of training
ANSWERS = ("N", "Y")  # the answer token for C = 0 and C = 1


@dataclass(frozen=True)
class DistractorConfig:
    digits: int = 10  # each x is drawn from 0 .. digits-1 (at most 10: one token each)
    agreement: float = 0.98  # P(D = C) in the train and test splits (see AGREEMENT for others)


@dataclass(frozen=True)
class Quadruple:
    x: tuple[int, int, int, int]  # the four digits of the prompt

    @property
    def causal(self) -> int:  # C = [x₁ > x₂]
        return int(self.x[0] > self.x[1])

    @property
    def distractor(self) -> int:  # D = [x₃ > x₄]
        return int(self.x[2] > self.x[3])

    @property
    def prompt(self) -> str:
        return "".join(map(str, self.x)) + "="

    @property
    def answer(self) -> str:
        return ANSWERS[self.causal]

    def swapped(self, variable: str) -> Quadruple:
        """The counterfactual with ``variable`` ("causal" or "distractor") flipped by
        exchanging its two digits."""
        choose("variable", variable, ("causal", "distractor"))
        a, b, c, d = self.x
        return Quadruple((b, a, c, d) if variable == "causal" else (a, b, d, c))


def draw(rng: random.Random, cfg: DistractorConfig, agreement: float, heldout: bool) -> Quadruple:
    """A quadruple with no ties whose D agrees with C with probability ``agreement``, from
    the held-out fifth or from the rest."""
    agree = rng.random() < agreement
    while True:
        q = Quadruple(tuple(rng.randrange(cfg.digits) for _ in range(4)))
        if q.x[0] == q.x[1] or q.x[2] == q.x[3] or (q.causal == q.distractor) != agree:
            continue
        if is_heldout(f"{NAME}|{q.x}", HELDOUT_FRACTION) == heldout:
            return q


class DistractorTask:
    """The task object the regimes train on (``tasks.base.Task``), outside the registry."""

    name = NAME
    version = "1"
    splits = SPLITS
    formats = ()

    def __init__(self, config: DistractorConfig = DistractorConfig()) -> None:
        if not 2 <= config.digits <= 10:
            raise ValueError(f"digits must lie in 2..10, got {config.digits}")
        self.config = config

    def quadruple(self, index: int, split: str = "train", seed: int = 0) -> Quadruple:
        """Problem ``index`` of ``split``."""
        choose("split", split, SPLITS)
        agreement = AGREEMENT.get(split, self.config.agreement)
        rng = example_rng(NAME, split, seed, index)
        return draw(rng, self.config, agreement, heldout=split != "train")

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        q = self.quadruple(index, split, seed)
        meta = {"x": q.x, "causal": q.causal, "distractor": q.distractor}
        return Example(NAME, split, index, q.prompt, q.answer, q.answer, ("answer",), meta=meta)

    def verify(self, example: Example, completion: str) -> Score:
        answer = completion.strip()[:1] or None
        return Score(float(answer == example.answer), answer)

    def classify_format(self, completion: str) -> str | None:
        return None
