"""Verdicts and the decision rules that produce them.

A study's decision rule is code written before any result exists: it maps a measured
effect and its 95% interval to ``supports``, ``contradicts`` or ``inconclusive``. The rules
here are the shared shapes; each study states its thresholds next to the claim and must
be able to reach every verdict (its tests feed synthetic intervals that reach each one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERDICTS = ("supports", "contradicts", "inconclusive")


@dataclass(frozen=True)
class Effect:
    name: str  # what is measured, e.g. "pass@1 gain, RL - base"
    estimate: float  # point estimate
    ci95: tuple[float, float]  # 95% bootstrap interval (over problems and seeds)
    unit: str = "fraction"  # unit of estimate and interval


@dataclass(frozen=True)
class Decision:
    verdict: str  # one of VERDICTS
    reason: str  # which branch of the rule fired, in words with the numbers


@dataclass(frozen=True)
class Verdict:
    study: str  # registry name of the study
    claim: str  # the claim as tested (after corrections)
    verdict: str  # one of VERDICTS: the overall verdict
    reason: str  # why, in one or two sentences with numbers
    rule: str  # the decision rule in words, as written before the data
    effects: list[Effect]  # the primary effect first
    parts: dict[str, Decision] = field(default_factory=dict)  # sub-claims and their decisions
    scale: str = "quick"  # quick | full | smoke
    seeds: list[int] = field(default_factory=list)  # training seeds used
    full_design: bool = True  # False when the study could not run its full design
    notes: str = ""  # what departed from the design and why
    follow_up: str = ""  # the question this outcome opens (the report's "next inquiring lines")


def interval_rule(effect: Effect, support_above: float, contradict_below: float) -> Decision:
    """Supports if the whole interval is above ``support_above``; contradicts if the whole
    interval is below ``contradict_below``; inconclusive otherwise.

    ``contradict_below <= support_above`` is required, and the gap between them is the
    region where the data cannot decide even with a tight interval.

    >>> interval_rule(Effect("gain", 0.2, (0.1, 0.3)), 0.05, 0.0).verdict
    'supports'
    """
    if contradict_below > support_above:
        raise ValueError("contradict_below must not exceed support_above")
    low, high = effect.ci95
    if low > support_above:
        return Decision("supports", f"{effect.name} {fmt(effect)} lies above {support_above:g}")
    if high < contradict_below:
        return Decision(
            "contradicts", f"{effect.name} {fmt(effect)} lies below {contradict_below:g}"
        )
    return Decision(
        "inconclusive",
        f"{effect.name} {fmt(effect)} straddles [{contradict_below:g}, {support_above:g}]",
    )


def equivalence_rule(effect: Effect, margin: float) -> Decision:
    """Supports "no meaningful difference" if the interval lies inside (-margin, margin);
    contradicts if it lies wholly outside; inconclusive otherwise (TOST-style).

    >>> equivalence_rule(Effect("gap", 0.01, (-0.02, 0.03)), 0.05).verdict
    'supports'
    """
    low, high = effect.ci95
    if -margin < low and high < margin:
        return Decision("supports", f"{effect.name} {fmt(effect)} lies within ±{margin:g}")
    if low >= margin or high <= -margin:
        return Decision("contradicts", f"{effect.name} {fmt(effect)} lies outside ±{margin:g}")
    return Decision("inconclusive", f"{effect.name} {fmt(effect)} crosses ±{margin:g}")


def combine(parts: dict[str, Decision]) -> Decision:
    """All parts support -> supports; any part contradicts -> contradicts; else inconclusive."""
    verdicts = [d.verdict for d in parts.values()]
    failed = [name for name, d in parts.items() if d.verdict == "contradicts"]
    if failed:
        return Decision("contradicts", "contradicted by: " + ", ".join(failed))
    if all(v == "supports" for v in verdicts):
        return Decision("supports", "every part supports the claim")
    open_parts = [name for name, d in parts.items() if d.verdict == "inconclusive"]
    return Decision("inconclusive", "undecided: " + ", ".join(open_parts))


def fmt(effect: Effect) -> str:
    """``0.123 [0.100, 0.150]``."""
    low, high = effect.ci95
    return f"{effect.estimate:.3f} [{low:.3f}, {high:.3f}]"
