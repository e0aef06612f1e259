"""Base organisms shared by several studies, one config per (scale, seed).

A study asks for a base through these functions, so two studies that need the same base
get the same config, hence the same run folder: the base is trained once and reused.
"""

from __future__ import annotations

from regimescope.errors import choose
from regimescope.organisms.presets import OrganismConfig, micro, nano, small
from regimescope.regimes.pretrain import PretrainConfig, pretrain

ORGANISM_BY_SCALE = {"smoke": nano, "quick": micro, "full": small}


def organism_for(scale: str) -> OrganismConfig:
    """The organism size a study uses at ``scale``."""
    choose("scale", scale, ORGANISM_BY_SCALE)
    return ORGANISM_BY_SCALE[scale]()


def latent_base(scale: str, seed: int = 0, task: str = "countdown") -> PretrainConfig:
    """A base for the RL studies: pretrained on ``task`` only until the task is *latent*
    (low greedy pass@1, but solved somewhere in many samples), so RL has something to
    surface and pass@k at large k has room above pass@1.

    Calibrated under countdown 1.0 (before the validation split took 10% of the train keys,
    and before evaluations drew distinct problems), seed 0, the first 100 problems of the
    held-out test split (65 distinct),
    temperature 1.0, 48 new tokens, n = 256 samples per problem (unbiased pass@k):

    | scale | organism | steps | greedy | pass@1 | pass@16 | pass@64 | pass@256 | unsolved |
    |---|---|---|---|---|---|---|---|---|
    | quick | micro, 0.2M | 400 | 0.13 | 0.058 | 0.43 | 0.64 | 0.75 | 25 / 100 |
    | full | small, 1M | 400 | 0.30 | 0.195 | 0.70 | 0.83 | 0.89 | 11 / 100 |

    Rejected settings (same measurement; n = 64 or 128). Quick at 300 steps: pass@1
    0.010, pass@64 0.27, too little to surface. Full at 800 steps: greedy 0.41, pass@1
    0.33, pass@128 0.94, no longer latent. Smoke (nano, 20 steps) has not learned the
    task (pass@n = 0); it only exercises the code.

    Pretraining took about 65 s (quick) and 260 s (full) on a shared, loaded 2-core machine.
    """
    steps = {"smoke": 20, "quick": 400, "full": 400}
    choose("scale", scale, steps)
    return PretrainConfig(
        task=task,
        organism=organism_for(scale),
        steps=steps[scale],
        batch_size=32,
        seed=seed,
        checkpoint_every=100,
        log_every=10,
    )


def trained_base(cfg: PretrainConfig, store=None):
    """The finished run folder of ``cfg`` (trained now, or reused from the store)."""
    return pretrain(cfg, store)
