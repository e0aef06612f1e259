"""Verdicts and the decision rules that produce them.

A study's decision rule is code written before any result exists: it maps measured
effects and their intervals to ``supports``, ``contradicts`` or ``inconclusive``. The rules
here are the shared shapes; each study states its thresholds next to the claim and must
be able to reach every verdict (its tests feed synthetic intervals that reach each one).

Three conventions keep a verdict from leaning one way:

- **Premises are gates** (``Premise``, ``gate``): when what a part rests on did not happen
  (RL did not raise its own reward, the organism never learned the seen rules), the part
  is ``inconclusive``, never ``contradicts``.
- **Multiplicity** (``combine``): a verdict of k parts supports only when every part
  supports (an intersection-union test, which needs no correction), but contradicts when
  any one part does, so each part's contradicting branch is judged on its
  (1 - 0.05/k) interval (Bonferroni): ``Effect.family`` says which k an effect's
  ``ci_family`` was drawn for, and ``combine`` counts a contradiction only when that k
  covers all its parts.
- Rates that noise inflates are decided against a null drawn the same way
  (``instruments/coverage.py``); this module only sees the resulting effects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VERDICTS = ("supports", "contradicts", "inconclusive")
ALPHA = 0.05  # family-wise error rate of a verdict's contradicting branch


@dataclass(frozen=True)
class Effect:
    name: str  # what is measured, e.g. "pass@1 gain, RL - base"
    estimate: float  # point estimate
    ci95: tuple[float, float]  # 95% bootstrap interval (seeds and problems, crossed)
    unit: str = "fraction"  # unit of estimate and interval
    family: int = 1  # parts of the verdict this effect enters (k of the correction)
    ci_family: tuple[float, float] | None = None  # (1 - 0.05/family) interval; None if k = 1

    @property
    def contradict_interval(self) -> tuple[float, float]:
        """The interval a part's contradicting branch is judged on."""
        return self.ci_family if self.ci_family is not None else self.ci95


def effect(name: str, resampled, unit: str = "fraction", family: int = 1) -> Effect:
    """An ``Effect`` from a ``stats.Resampled``: its 95% interval and, for a verdict of
    ``family`` > 1 parts, its (1 - 0.05/family) interval."""
    wide = resampled.interval(1 - ALPHA / family) if family > 1 else None
    return Effect(name, resampled.estimate, resampled.interval(0.95), unit, family, wide)


@dataclass(frozen=True)
class Decision:
    verdict: str  # one of VERDICTS
    reason: str  # which branch of the rule fired, in words with the numbers
    family: int = 1  # k the contradicting branch was corrected for (see ``combine``)


@dataclass(frozen=True)
class Premise:
    holds: bool  # did what the parts rest on happen?
    reason: str  # the measurement, in words with the numbers


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
    full_design: bool = True  # False when the run departs from the study's full() config
    notes: str = ""  # what departed from the design and why
    follow_up: str = ""  # the question this outcome opens (the report's "next inquiring lines")
    premises: dict[str, Premise] = field(default_factory=dict)  # gates of the parts


def interval_rule(effect: Effect, support_above: float, contradict_below: float) -> Decision:
    """Supports if the 95% interval lies above ``support_above``; contradicts if the
    contradicting interval (``Effect.contradict_interval``) lies below
    ``contradict_below``; inconclusive otherwise.

    ``contradict_below <= support_above`` is required, and the gap between them is the
    region where the data cannot decide even with a tight interval.

    >>> interval_rule(Effect("gain", 0.2, (0.1, 0.3)), 0.05, 0.0).verdict
    'supports'
    """
    if contradict_below > support_above:
        raise ValueError("contradict_below must not exceed support_above")
    if effect.ci95[0] > support_above:
        return Decision("supports", f"{effect.name} {fmt(effect)} lies above {support_above:g}")
    if effect.contradict_interval[1] < contradict_below:
        return Decision(
            "contradicts",
            f"{effect.name} {fmt(effect, wide=True)} lies below {contradict_below:g}",
            effect.family,
        )
    return Decision(
        "inconclusive",
        f"{effect.name} {fmt(effect)} straddles [{contradict_below:g}, {support_above:g}]",
    )


def upper_rule(effect: Effect, support_below: float, contradict_above: float) -> Decision:
    """``interval_rule`` for a claim that a quantity is small: supports if the 95% interval
    lies below ``support_below``; contradicts if the contradicting interval lies above
    ``contradict_above`` (>= ``support_below``); inconclusive otherwise.

    >>> upper_rule(Effect("spread ratio", 1.1, (0.8, 1.5)), 2.0, 4.0).verdict
    'supports'
    """
    if contradict_above < support_below:
        raise ValueError("contradict_above must not be below support_below")
    if effect.ci95[1] < support_below:
        return Decision("supports", f"{effect.name} {fmt(effect)} lies below {support_below:g}")
    if effect.contradict_interval[0] > contradict_above:
        return Decision(
            "contradicts",
            f"{effect.name} {fmt(effect, wide=True)} lies above {contradict_above:g}",
            effect.family,
        )
    return Decision(
        "inconclusive",
        f"{effect.name} {fmt(effect)} straddles [{support_below:g}, {contradict_above:g}]",
    )


def equivalence_rule(
    effect: Effect, margin: float, contradict_margin: float | None = None
) -> Decision:
    """Supports "no meaningful difference" if the 95% interval lies inside (-margin,
    margin); contradicts if the contradicting interval lies wholly outside
    ±``contradict_margin`` (``margin`` unless given; never less); inconclusive otherwise
    (TOST-style). A wider contradicting margin leaves a band where a prediction is
    neither confirmed nor refuted (a tolerance the source itself admits).

    >>> equivalence_rule(Effect("gap", 0.01, (-0.02, 0.03)), 0.05).verdict
    'supports'
    """
    outer = margin if contradict_margin is None else contradict_margin
    if outer < margin:
        raise ValueError("contradict_margin must not be below margin")
    low, high = effect.ci95
    if -margin < low and high < margin:
        return Decision("supports", f"{effect.name} {fmt(effect)} lies within ±{margin:g}")
    low, high = effect.contradict_interval
    if low >= outer or high <= -outer:
        return Decision(
            "contradicts",
            f"{effect.name} {fmt(effect, wide=True)} lies outside ±{outer:g}",
            effect.family,
        )
    return Decision("inconclusive", f"{effect.name} {fmt(effect)} crosses ±{margin:g}")


def gate(
    parts: dict[str, Decision],
    premises: dict[str, Premise],
    rests_on: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, Decision]:
    """``parts`` with every part whose premise failed made inconclusive.

    ``rests_on`` maps a part to the premises it needs; a part not named there rests on
    every premise. A failed premise never turns into ``contradicts``.
    """
    gated = {}
    for name, decision in parts.items():
        needed = (rests_on or {}).get(name, tuple(premises))
        failed = [p for p in needed if not premises[p].holds]
        if failed:
            why = "; ".join(f"{p}: {premises[p].reason}" for p in failed)
            decision = Decision("inconclusive", f"premise failed ({why})")
        gated[name] = decision
    return gated


def combine(parts: dict[str, Decision]) -> Decision:
    """All parts support -> supports; a part contradicts at the family-wise level ->
    contradicts; else inconclusive.

    With k parts, a contradiction counts only when its part was judged on a
    (1 - 0.05/k') interval with k' >= k (``Decision.family``); one judged at a smaller
    family is reported as undecided at the family-wise level.
    """
    k = len(parts)
    failed = [name for name, d in parts.items() if d.verdict == "contradicts" and d.family >= k]
    if failed:
        return Decision("contradicts", "contradicted by: " + ", ".join(failed), k)
    if parts and all(d.verdict == "supports" for d in parts.values()):
        return Decision("supports", "every part supports the claim")
    uncorrected = [n for n, d in parts.items() if d.verdict == "contradicts"]
    open_parts = [name for name, d in parts.items() if d.verdict == "inconclusive"]
    reason = "undecided: " + ", ".join(open_parts) if open_parts else "undecided"
    if uncorrected:
        reason += (
            f"; {', '.join(uncorrected)} contradicts at 95% but not at the family-wise "
            f"{1 - ALPHA / k:.4g} level of {k} parts"
        )
    return Decision("inconclusive", reason)


def decide_parts(
    parts: dict[str, Decision],
    premises: dict[str, Premise] | None = None,
    rests_on: dict[str, tuple[str, ...]] | None = None,
) -> tuple[Decision, dict[str, Decision]]:
    """Gate ``parts`` on ``premises``, then combine: (overall decision, gated parts)."""
    gated = gate(parts, premises or {}, rests_on)
    return combine(gated), gated


def effects_frame(effects):
    """The effects table of a study (a dict key -> Effect, or a list of Effects)."""
    import pandas as pd

    items = effects.items() if isinstance(effects, dict) else ((e.name, e) for e in effects)
    rows = []
    for key, e in items:
        wide = e.ci_family or (float("nan"), float("nan"))
        rows.append(
            {
                "key": key,
                "effect": e.name,
                "estimate": e.estimate,
                "ci_low": e.ci95[0],
                "ci_high": e.ci95[1],
                "family": e.family,
                "ci_family_low": wide[0],
                "ci_family_high": wide[1],
                "unit": e.unit,
            }
        )
    return pd.DataFrame(rows)


def fmt(effect: Effect, wide: bool = False) -> str:
    """``0.123 [0.100, 0.150]``; with ``wide``, the family-wise interval when it differs."""
    low, high = effect.ci95
    text = f"{effect.estimate:.3f} [{low:.3f}, {high:.3f}]"
    if wide and effect.ci_family is not None:
        level = 100 * (1 - ALPHA / effect.family)
        text += f" ({level:.4g}%: [{effect.ci_family[0]:.3f}, {effect.ci_family[1]:.3f}])"
    return text
