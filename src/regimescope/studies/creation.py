"""Creation against its null, as effects: shared by the studies that ask whether RL creates.

A creation rate (base-unsolved problems the tuned model solves) is inflated by sampling
noise alone, so a study that decides on creation draws its base twice: ``reference``, an
independent draw (another sampling seed) whose unsolved problems are the candidates, and
``base``, the draw that shares the tuned model's sampling seed (the sampler gives every
model of one seed the same random numbers, so an unchanged model would repeat it). The
decided quantities are excesses over the base's own draw (``instruments.coverage``); the
raw rate, its null, the loss rate and its null, and the net coverage are reported beside
them. Every interval is the crossed bootstrap (``stats.paired_effect``): each resample
picks the same (seed, problem) cells of every draw.
"""

from __future__ import annotations

import numpy as np

from regimescope.instruments import coverage as cov
from regimescope.studies.stats import paired_effect
from regimescope.studies.verdict import Effect


def excess_effects(
    reference: np.ndarray,
    base: np.ndarray,
    tuned: np.ndarray,
    resamples: int,
    family: int = 1,
    tag: str = "",
) -> dict[str, Effect]:
    """What a rule decides creation on, for (S, P) counts of an independent base draw
    (``reference``), the base draw coupled with the tuned model (``base``) and the tuned
    model: creation and the RL-only share, each minus the base's own draw's, built for a
    verdict of ``family`` parts."""
    arrays = (reference, base, tuned)
    return {
        "only_excess": paired_effect(
            f"share of problems RL solves and the reference base draw never does, minus the "
            f"same share of the base's own draw (noise){tag}",
            cov.only_excess,
            arrays,
            resamples,
            family=family,
        ),
        "creation_excess": paired_effect(
            f"creation excess: creation rate of RL minus the base's own draw's{tag}",
            cov.creation_excess,
            arrays,
            resamples,
            family=family,
        ),
    }


def reported_coverage(
    reference: np.ndarray, base: np.ndarray, tuned: np.ndarray, resamples: int, tag: str = ""
) -> dict[str, Effect]:
    """Shown beside the excesses: the raw creation rate and its null, the mirror (loss rate
    and its null) and the net coverage, with the counts of ``excess_effects``."""
    return {
        "creation": paired_effect(
            f"creation rate of RL (reference-unsolved problems it solves){tag}",
            cov.creation_rate,
            (reference, tuned),
            resamples,
        ),
        "creation_null": paired_effect(
            f"creation rate of the base's own draw (the null){tag}",
            cov.creation_rate,
            (reference, base),
            resamples,
        ),
        "loss": paired_effect(
            f"loss rate of RL (reference-solved problems it never solves){tag}",
            cov.loss_rate,
            (reference, tuned),
            resamples,
        ),
        "loss_null": paired_effect(
            f"loss rate of the base's own draw (the null){tag}",
            cov.loss_rate,
            (reference, base),
            resamples,
        ),
        "net_coverage": paired_effect(
            f"net coverage, pass@n RL - base{tag}", cov.net_coverage, (base, tuned), resamples
        ),
    }


def coverage_effects(
    reference: np.ndarray,
    base: np.ndarray,
    tuned: np.ndarray,
    resamples: int,
    family: int = 1,
    tag: str = "",
) -> dict[str, Effect]:
    """``excess_effects`` and ``reported_coverage`` together."""
    return excess_effects(reference, base, tuned, resamples, family, tag) | reported_coverage(
        reference, base, tuned, resamples, tag
    )
