"""A toy task for the regime tests: easy for RL, weakly informative for SFT.

``toy-pick``: the prompt is one digit ``d`` in 0..3 and the rewarded answer is the letter
``"abcd"[d]`` (then EOS). The gold target is that letter only FRACTION of the time and a
random letter otherwise. A short SFT on gold teaches the output space (one letter, then
EOS) but barely the weak digit -> letter link, so the model starts RL near 0.25-0.35
reward, and RL has a clear signal to climb.
"""

from __future__ import annotations

import pytest

from regimescope.tasks import TASKS
from regimescope.tasks.base import Example, Score, example_rng

LETTERS = "abcd"
FRACTION = 0.4  # share of gold targets that are the rewarded letter


class PickTask:
    name = "toy-pick"
    version = "1"
    splits = ("train", "test")
    formats = ()

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        rng = example_rng(self.name, split, seed, index)
        digit = rng.randrange(4)
        target = LETTERS[digit] if rng.random() < FRACTION else rng.choice(LETTERS)
        return Example(
            task=self.name,
            split=split,
            index=index,
            prompt=str(digit),
            target=target,
            answer=LETTERS[digit],
            target_classes=("answer",),
        )

    def verify(self, example: Example, completion: str) -> Score:
        return Score(reward=float(completion == example.answer), answer=completion)

    def classify_format(self, completion: str) -> str | None:
        return None


def register(monkeypatch) -> PickTask:
    """Register the toy task as ``toy-pick`` for one test (undone by ``monkeypatch``)."""
    task = PickTask()
    monkeypatch.setitem(TASKS, task.name, task)
    return task


def save_start(folder, preset_name: str = "nano"):
    """A fresh organism saved as a model folder (the start of a fine-tuning run)."""
    from regimescope.organisms import build_organism, preset, save_model

    model, tokenizer = build_organism(preset(preset_name), seed=0)
    return save_model(model, tokenizer, folder)


def warm_start(root):
    """A nano organism after a short gold SFT on toy-pick: knows the output space only."""
    from regimescope.regimes.curriculum import CurriculumConfig
    from regimescope.regimes.recorder import RecorderConfig
    from regimescope.regimes.sft import SFTConfig, sft

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(TASKS, "toy-pick", PickTask())
        cfg = SFTConfig(
            model=str(save_start(root / "fresh")),
            curriculum=CurriculumConfig(("toy-pick",)),
            steps=60,
            batch_size=32,
            lr=1e-2,
            recorder=RecorderConfig(every=20, kl=False, probe_problems=0),
        )
        return sft(cfg, root / "runs").model_dir
