"""Study 7, analysis: the effects the rule decides on, with intervals that resample seeds
and examples crossed (``stats.paired_effect``: each resample picks the same seeds and the
same held-out examples or pairs in every array it combines).

All three registered effects are read at the decision site: the residual stream after
the last block, at the final prompt position, where the answer is read out.
"""

from __future__ import annotations

import numpy as np

from regimescope.studies.stats import paired_effect
from regimescope.studies.verdict import Effect

VARIABLE_NAMES = {"causal": "C (x1 > x2, used)", "distractor": "D (x3 > x4, unused)"}


def stacked(measures, pick) -> np.ndarray:
    """(S, N) array of ``pick(seed measures)`` over seeds."""
    return np.stack([np.asarray(pick(m), dtype=float) for m in measures])


def probe_array(measures, label: str, variable: str, which: str, site: str | None = None):
    """(S, held-out) correct of one probe (``site`` default: the decision site)."""
    return stacked(measures, lambda m: m.probes[label][f"{variable}|{site or m.sites[-1]}|{which}"])


def selectivity_gap(measures, resamples: int, family: int) -> Effect:
    """sel_C − sel_D, sel = held-out accuracy on the task minus on the control task."""
    arrays = [
        probe_array(measures, "model", v, w)
        for v in ("causal", "distractor")
        for w in ("task", "control")
    ]

    def gap(c_task, c_control, d_task, d_control) -> float:
        return (c_task.mean() - c_control.mean()) - (d_task.mean() - d_control.mean())

    name = "probe selectivity, C minus D (decision site)"
    return paired_effect(name, gap, arrays, resamples, "fraction", family)


def separation(measures, resamples: int, family: int) -> Effect:
    """E_C − E_D: the answer's logit difference moved by swapping each variable's
    direction, as a share of the answer's whole swing when C flips (ratio of means)."""
    arrays = [stacked(measures, lambda m, v=v: m.effects[v]) for v in ("causal", "distractor")]
    arrays.append(stacked(measures, lambda m: m.swing))

    def gap(moved_c, moved_d, swing) -> float:
        return (moved_c.mean() - moved_d.mean()) / swing.mean()

    name = "causal effect of the direction, C minus D (share of the answer's swing)"
    return paired_effect(name, gap, arrays, resamples, "fraction", family)


def interchange_gain(measures, resamples: int, family: int, k: int = 1) -> Effect:
    """IIA of C's k-dimensional subspace (DAS) on the trained model minus on its
    random-init copy."""
    arrays = [
        stacked(measures, lambda m, lab=lab: m.iia[lab][k]) for lab in ("model", "random_init")
    ]
    name = f"IIA of C's learned {k}-d subspace, trained minus random-init"
    return paired_effect(
        name, lambda a, b: a.mean() - b.mean(), arrays, resamples, "fraction", family
    )


def direction_effect(measures, variable: str, resamples: int) -> Effect:
    """E_v alone (reported): LD moved by swapping v's direction / the answer's swing."""
    arrays = [
        stacked(measures, lambda m: m.effects[variable]),
        stacked(measures, lambda m: m.swing),
    ]
    name = f"causal effect of {VARIABLE_NAMES[variable]}'s direction (share of the swing)"
    return paired_effect(name, lambda moved, swing: moved.mean() / swing.mean(), arrays, resamples)


def probe_table(measures):
    """Per seed, model, variable and site: held-out probe accuracy, control accuracy and
    selectivity (the figure and ``tables/probes.csv``)."""
    import pandas as pd

    rows = []
    for seed_index, m in enumerate(measures):
        for label, found in m.probes.items():
            for variable in ("causal", "distractor"):
                for layer, site in enumerate(m.sites):
                    task = found[f"{variable}|{site}|task"].mean()
                    control = found[f"{variable}|{site}|control"].mean()
                    rows.append(
                        {
                            "seed": seed_index,
                            "model": label,
                            "variable": variable,
                            "layer": layer,
                            "site": site,
                            "accuracy": task,
                            "control_accuracy": control,
                            "selectivity": task - control,
                        }
                    )
    return pd.DataFrame(rows)


def presence(measures, variable: str) -> float:
    """Mean over seeds of held-out probe accuracy at the decision site, trained minus
    random-init (how far the variable is present beyond random features)."""
    trained = probe_array(measures, "model", variable, "task").mean()
    random = probe_array(measures, "random_init", variable, "task").mean()
    return float(trained - random)
