"""A "creative" domain with a programmatic judge: constrained, novel strings (study 10).

Omni-Thinker (arXiv 2507.14783) trains creative writing with an LLM judge; a tiny organism
needs a reward that is computed. A prompt states constraints on one line of letters:

    =c5        five letters from a-h, containing ``c``, first letter equal to the last
    +e3        three letters from a-h, containing ``e`` (no pattern)

The mode is ``=`` (the "rhyme": the line ends with the letter it starts with) or ``+``
(free); then the required letter, then the length (``MIN_LEN`` .. ``MAX_LEN``). There is no
single right answer: the gold targets used in pretraining are valid lines drawn with a
skewed letter prior (``LETTER_WEIGHTS``, Zipf-like: ``a`` often, ``h`` rarely), so a base
organism learns a peaked distribution over valid lines and RL has room to spread it.

Reward (``score_group``): for the n samples of one prompt (the RL group, or the n
evaluation samples),

    valid_i   = 1 iff the first line of sample i has exactly the asked length, only letters
                a-h, the required letter, and (mode ``=``) the same first and last letter
    novelty_i = share of sample i's distinct character bigrams found in no other sample of
                the group (1 for a group of one)
    reward_i  = valid_i * (1 + novelty_i) / 2                       in [0, 1]

``verify`` (one sample alone) returns ``valid * 1.0`` with ``details["valid"]``: the
constraint part only, since novelty needs the group.

How the reward can be gamed, and what limits it:

- *Copying a good line*: every copy's bigrams appear in another sample, so a group of
  copies earns 0.5 each (validity only), half of what distinct valid lines earn.
- *Trivial perturbation* (one letter changed): a changed letter changes at most two
  bigrams of L - 1, so near-copies keep a low novelty; novelty is measured on bigrams,
  not on whole strings (where any change would count as new).
- *Novelty from junk* (rare characters, overlong lines): novelty pays only on valid lines
  (the product with ``valid_i``), and the length must be exact, so neither an off-alphabet
  character nor extra text buys novelty.
- *What it cannot stop*: the judge measures form and diversity, not meaning; a uniform
  random valid line is optimal. So "creative" here means constrained diversity, and the
  reward's optimum is a high-entropy policy over valid lines: an entropy rise under this
  reward is favoured by design, held back only by the constraint pressure (which lowers
  entropy); the study reports it as a measured direction, not as evidence about writing.
- Novelty depends on the group size n (larger groups share more bigrams), so scores are
  comparable only at one n; the study scores every model with the same n.

Held-out split: the prompt (mode, letter, length) is the problem key; ``test`` holds the
keys whose hash bucket falls in ``HELDOUT_FRACTION``, so test constraints are never trained
on (2 modes x 8 letters x 7 lengths = 112 keys, 35 of them in test).
"""

from __future__ import annotations

from collections.abc import Sequence

from regimescope.errors import choose
from regimescope.tasks.base import Example, Score, compose, example_rng, is_heldout

NAME = "creative"
LETTERS = "abcdefgh"
LETTER_WEIGHTS = tuple(1.0 / (k + 1) for k in range(len(LETTERS)))  # Zipf-like prior of golds
MODES = ("=", "+")  # "=": first letter equals the last; "+": free
MIN_LEN, MAX_LEN = 3, 9
HELDOUT_FRACTION = 0.35
SPLITS = ("train", "test")


def spec_key(mode: str, letter: str, length: int) -> str:
    return f"{mode}{letter}{length}"


def constraint_ok(mode: str, letter: str, length: int, line: str) -> bool:
    """Whether ``line`` meets the prompt's constraints (see the module docstring)."""
    return (
        len(line) == length
        and all(ch in LETTERS for ch in line)
        and letter in line
        and (mode != "=" or line[0] == line[-1])
    )


def bigrams(line: str) -> set[str]:
    return {line[i : i + 2] for i in range(len(line) - 1)}


def novelty(lines: Sequence[str]) -> list[float]:
    """Per line: share of its distinct bigrams that no other line of the group has (1 for a
    group of one, 0 for a line with no bigram).

    >>> novelty(["abc", "abd", "efg"])
    [0.5, 0.5, 1.0]
    """
    sets = [bigrams(line) for line in lines]
    found = []
    for i, mine in enumerate(sets):
        others = set().union(*(s for j, s in enumerate(sets) if j != i))
        found.append(len(mine - others) / len(mine) if mine else 0.0)
    return found


def first_line(completion: str) -> str:
    return completion.strip().split("\n", 1)[0] if completion.strip() else ""


class CreativeTask:
    """The task object (``tasks.base.Task``) with a group reward, outside the registry."""

    name = NAME
    version = "1"
    splits = SPLITS
    formats = ()

    def spec(self, index: int, split: str, seed: int, attempt: int = 0) -> tuple[str, str, int]:
        rng = example_rng(NAME, split, seed, index, attempt)
        return rng.choice(MODES), rng.choice(LETTERS), rng.randint(MIN_LEN, MAX_LEN)

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        choose("split", split, SPLITS)
        attempt = 0
        while True:  # redraw until the key lands in this split
            mode, letter, length = self.spec(index, split, seed, attempt)
            if is_heldout(f"{NAME}|{spec_key(mode, letter, length)}", HELDOUT_FRACTION) == (
                split == "test"
            ):
                break
            attempt += 1
        rng = example_rng(NAME, split, seed, index, attempt + 1000)
        line = gold_line(rng, mode, letter, length)
        target, classes = compose([(line, "answer")])
        meta = {"mode": mode, "letter": letter, "length": length}
        prompt = spec_key(mode, letter, length) + "\n"
        return Example(NAME, split, index, prompt, target, "", classes, meta=meta)

    def verify(self, example: Example, completion: str) -> Score:
        line = first_line(completion)
        valid = constraint_ok(**example.meta, line=line)
        return Score(float(valid), line or None, {"valid": valid})

    def score_group(self, example: Example, completions: Sequence[str]) -> list[float]:
        """``reward_i = valid_i * (1 + novelty_i) / 2`` over the group (module docstring)."""
        lines = [first_line(c) for c in completions]
        new = novelty(lines)
        return [
            float(constraint_ok(**example.meta, line=line)) * (1 + n) / 2
            for line, n in zip(lines, new, strict=True)
        ]

    def classify_format(self, completion: str) -> str | None:
        return None


def gold_line(rng, mode: str, letter: str, length: int) -> str:
    """A valid line with letters from the skewed prior: the required letter at a random
    position; in mode ``=`` the last letter copies the first."""
    chars = rng.choices(LETTERS, weights=LETTER_WEIGHTS, k=length)
    chars[rng.randrange(length)] = letter
    if mode == "=":
        if chars[0] == letter or chars[-1] == letter or length < 3:
            chars[0] = chars[-1] = letter
        else:
            chars[-1] = chars[0]
    return "".join(chars)
