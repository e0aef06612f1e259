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
    """
    steps = {"smoke": 20, "quick": 400, "full": 400}
    choose("scale", scale, steps)
    return PretrainConfig(task=task, organism=organism_for(scale), steps=steps[scale],
                          batch_size=32, seed=seed, checkpoint_every=100, log_every=10)


def trained_base(cfg: PretrainConfig, store=None):
    """The finished run folder of ``cfg`` (trained now, or reused from the store)."""
    return pretrain(cfg, store)
