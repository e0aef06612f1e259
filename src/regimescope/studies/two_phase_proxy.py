"""Study 5's strategic n-gram proxy: how well n-grams mined from correct samples pick out
the true planning tokens (precision and recall, with intervals over seeds and problems).
"""

from __future__ import annotations

import numpy as np

from regimescope.instruments import planning
from regimescope.studies.stats import hierarchical_bootstrap

# ---------------------------------------------------------------- the strategic n-gram proxy


def proxy_scores(docs: list[dict], seeds: tuple[int, ...], problems: int, cfg) -> list[dict]:
    """Precision and recall of the n-gram miner against the plan labels, per kept share.

    Mined from the correct samples of the last GRPO checkpoints (all seeds pooled), scored
    on every labelled sample; intervals resample (seed, problem) cells of the counts
    (the mining itself is not redone per resample). ``chance_precision`` is the share of
    plan tokens among the scored tokens: the precision of a mask drawn at random.
    """
    correct = [d["tokens"] for d in docs if d["correct"]]
    scored = [d for d in docs if d["plan_mask"] is not None]
    tokens = sum(len(d["plan_mask"]) for d in scored)
    chance = sum(sum(d["plan_mask"]) for d in scored) / tokens if tokens else float("nan")
    rows = []
    for share in cfg.top_fractions:
        grams = planning.mine_ngrams(correct, *cfg.ngram_sizes, top_fraction=share)
        counts = np.zeros((len(seeds) * problems, 3))  # (cells, tp/fp/fn)
        for d in scored:
            cell = seeds.index(d["seed"]) * problems + d["problem"]
            counts[cell] += planning.mask_counts(
                planning.ngram_mask(d["tokens"], grams), d["plan_mask"]
            )
        row = proxy_row(share, grams, counts, len(seeds), problems, cfg.bootstrap)
        rows.append(row | {"chance_precision": chance})
    return rows


def proxy_row(share, grams, counts: np.ndarray, seeds: int, problems: int, resamples: int) -> dict:
    """One kept share's precision and recall with intervals, and its top n-grams."""
    ids = np.arange(seeds * problems).reshape(seeds, problems)

    def score(which: int):
        def statistic(picked):
            tp, fp, fn = counts[picked.astype(int).ravel()].sum(axis=0)
            return planning.precision_recall(tp, fp, fn)[which]

        return hierarchical_bootstrap(ids, statistic, resamples)

    row = {"top_fraction": share, "grams_kept": len(grams)}
    for which, name in enumerate(("precision", "recall")):
        est, (low, high) = score(which)
        row |= {name: est, f"{name}_low": low, f"{name}_high": high}
    return row | {"top_grams": " | ".join("".join(g).replace("\n", "⏎") for g in grams[:8])}
