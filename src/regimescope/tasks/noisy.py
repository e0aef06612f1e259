"""A task whose training targets are, for a fixed share of examples, another problem's.

Serves study 10 (``regimes.multidomain``): a base pretrained on a corpus where some
solutions belong to a different problem learns the skill but does not emit it reliably,
which is the situation RL post-training starts from in the lab's other studies (the right
answer is in the base's distribution, not its only answer; study 2's "RL re-weights what
pretraining held"). A clean exact-answer task instead leaves a tiny organism either
unable to solve a problem at all or solving it every time, and GRPO, which learns only
from groups with mixed outcomes, then barely moves it within tens of steps (study 10's
NOTES.md).

Example ``index`` of the ``train`` split keeps its prompt; with probability ``share``
(drawn from the example's own stream, so it is a pure function of the arguments) its
target and target classes are replaced by those of another training example of the same
task, drawn from the same stream. Held-out splits and ``verify`` are the wrapped task's
own, so a noisy target is never rewarded: the verifier reads the prompt's gold answer.
"""

from __future__ import annotations

from dataclasses import replace

from regimescope.errors import BadInput
from regimescope.tasks.base import Example, Score, Task, example_rng

TRAIN = "train"
OTHER_INDICES = 10**9  # the other example is drawn from this many training indices


class NoisyTargets:
    """``task`` with a ``share`` of its training targets taken from other problems."""

    def __init__(self, task: Task, share: float):
        if not 0 <= share < 1:
            raise BadInput(f"the noisy share must lie in [0, 1), got {share}")
        self.task = task
        self.share = share
        self.name = task.name  # the same name: a mixture and the verifier look it up by it
        self.version = f"{task.version}+noisy{share:g}"
        self.splits = task.splits
        self.formats = task.formats

    def example(self, index: int, split: str = TRAIN, seed: int = 0) -> Example:
        example = self.task.example(index, split, seed)
        if split != TRAIN:
            return example
        rng = example_rng(f"noisy|{self.name}", split, seed, index)
        if rng.random() >= self.share:
            return example
        other = self.task.example(rng.randrange(OTHER_INDICES), split, seed)
        return replace(example, target=other.target, target_classes=other.target_classes)

    def verify(self, example: Example, completion: str) -> Score:
        return self.task.verify(example, completion)

    def classify_format(self, completion: str) -> str | None:
        return self.task.classify_format(completion)
