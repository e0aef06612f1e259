"""tasks.noisy: a share of training targets from other problems; held-out and verifier clean."""

import pytest

from regimescope.errors import BadInput
from regimescope.regimes.multidomain import DOMAINS, domain_task, mixture
from regimescope.tasks import get_task
from regimescope.tasks.noisy import NoisyTargets

STRINGS = get_task("strings-atomic-a")


def swapped(task, n: int, split: str = "train") -> int:
    """How many of the first ``n`` examples of ``split`` carry another problem's target."""
    return sum(task.example(i, split).target != STRINGS.example(i, split).target for i in range(n))


def test_share_of_training_targets_swapped():
    noisy = NoisyTargets(STRINGS, 0.3)
    share = swapped(noisy, 2000) / 2000
    # binomial sd at n = 2000 is 0.010; an "other" problem with the same target is rare
    assert 0.26 < share < 0.33


def test_prompts_answers_and_heldout_untouched():
    noisy = NoisyTargets(STRINGS, 0.5)
    for i in range(200):
        clean, dirty = STRINGS.example(i, "train"), noisy.example(i, "train")
        assert (dirty.prompt, dirty.answer) == (clean.prompt, clean.answer)
        assert len(dirty.target_classes) == len(dirty.target)
    assert swapped(noisy, 200, "test") == 0


def test_a_swapped_target_is_not_rewarded():
    noisy = NoisyTargets(STRINGS, 0.5)
    rewards = []
    for i in range(200):
        example = noisy.example(i, "train")
        if example.target != STRINGS.example(i, "train").target:
            rewards.append(noisy.verify(example, example.target).reward)
    assert rewards and sum(rewards) / len(rewards) < 0.05


def test_pure_function_of_arguments_and_zero_share_is_clean():
    assert NoisyTargets(STRINGS, 0.3).example(7) == NoisyTargets(STRINGS, 0.3).example(7)
    assert swapped(NoisyTargets(STRINGS, 0.0), 300) == 0
    assert NoisyTargets(STRINGS, 0.3).version != STRINGS.version


def test_bad_share_is_bad_input():
    with pytest.raises(BadInput, match="noisy share"):
        NoisyTargets(STRINGS, 1.0)


def test_base_mixture_noises_only_structured_domains():
    noisy, clean = mixture(DOMAINS, 0.3), mixture(DOMAINS)
    changed = {noisy.example(i).task for i in range(600) if noisy.example(i) != clean.example(i)}
    assert changed and changed <= {domain_task(d).name for d in ("strings", "countdown")}
    assert noisy.version != clean.version
