"""Study 8: the same score on top of different algorithms (part A, the Clock and the Pizza)
and of different generalisation (part B, a planted shortcut); and what a gain costs
(part C: RL's accuracy gain against calibration, diversity and faithfulness).

Claim (seed note 8). Identical benchmark performance conceals radically different internal
structures, and improving one capability degrades others (part C). Part A tests the cleanest
published case: Zhong, Liu, Tegmark, Andreas 2023, *The Clock and the Pizza* (NeurIPS, arXiv
2306.17844, code fjzzq2002/pizza): one-layer transformers trained on (a + b) mod p all reach
near-perfect test accuracy, yet with attention on (α = 1) they often implement the "Clock"
(a rotation by a + b: gradient symmetricity low, distance irrelevance near 1) and with
attention replaced by a constant (α = 0) the "Pizza" (x_a + x_b read together: symmetricity
near 1, distance irrelevance low). Counterpoint kept in view (OpenReview cCJoZxwh9s): both
are one abstract algorithm at another level of description, so "different internals" is a
claim about these measures. Details: ``shared/research/findings-6-10.md`` §8.

Design. The paper's one-layer transformer (``organisms.modular``: no LayerNorm, ReLU MLP,
learned positions, attention α·softmax + (1 − α)·1), full-batch AdamW as in its code
(``regimes.modular``), 80% of the p² pairs for training; α ∈ {0, 0.5, 1} over seeds
(``experiment``). Per model: test accuracy, gradient symmetricity (the notebook's 100
triples), distance irrelevance, and linear CKA of the residual stream between every pair
of models (``analysis``). Three registered parts (``RULE``) on the α = 0 and α = 1 groups;
α = 0.5 is shown, not decided on. Part B (``generalisation``): McCoy et al.'s 100 seeds,
equal in distribution and spread from 0 to 66% on HANS, rebuilt with a planted shortcut;
one more registered part. Part C (``costs``): study 2's latent countdown base (the lab's
SFT-equivalent: pretrained on gold scratchpads) and GRPO from it, every checkpoint
measured for accuracy, ECE, per-input EAD and early-answering AOC; three more registered
parts, one per cost, each gated on RL having raised accuracy. Part C trains nothing of its
own: its runs are study 2's, keyed by the same config.

Departures from the paper: p = 31 (full) and 23 (quick) instead of 59; 3000 and 1000 steps
instead of 20000 epochs (every model is at 100% test accuracy well before, pilots in
NOTES.md); width 128 (full) and 64 (quick); the paper filters non-circular runs before its
figures, we keep every run (a filter chosen after seeing the runs would decide the verdict).

Scales: ``full`` (5 seeds x 3 α, p = 31, width 128, and 30 shortcut organisms; about 35
core-minutes; part C on study 2's full runs, 3 seeds), ``quick`` (3 seeds, p = 23, width
64, and 8 shortcut organisms; a few minutes; part C on study 2's quick run, one seed),
``smoke`` (the test suite).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from regimescope.organisms.modular import ModularConfig
from regimescope.regimes.modular import ModularRunConfig
from regimescope.studies import rl_catalyst
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.same_score import analysis, costs, experiment, generalisation, outputs
from regimescope.studies.same_score.costs import CostsConfig
from regimescope.studies.same_score.generalisation import ShortcutConfig
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Premise,
    Verdict,
    decide_parts,
    fmt,
    interval_rule,
)

CLAIM = (
    "Models with the same test accuracy can implement different algorithms: one-layer "
    "transformers on modular addition reach near-perfect accuracy with attention on or "
    "off, yet their internals (gradient symmetricity, distance irrelevance, representation "
    "similarity) differ by the attention dial more than by seed; seeds of one recipe "
    "with the same in-distribution accuracy spread widely where a shortcut they could have "
    "learned gives the wrong answer; and as RL raises accuracy, calibration worsens (ECE "
    "rises), per-input diversity falls and early-answering faithfulness falls."
)
SOURCE = (
    "Zhong, Liu, Tegmark, Andreas 2023, NeurIPS, arXiv 2306.17844 (seed note 8; McCoy et al. "
    "1911.02969 for part B; the GPT-4 report 2303.08774, Kirk et al. 2310.06452 and Lanham "
    "et al. 2307.13702 for part C)"
)
CORRECTION = (
    "The paper finds a phase diagram, not a clean switch: at α = 1 both Clock and Pizza "
    "occur depending on width and seed, and it filters non-circular runs; the two may be "
    "one abstract algorithm at another level of description (OpenReview cCJoZxwh9s)."
)
SETUP = (
    "The paper's one-layer transformer on (a + b) mod p with attention α·softmax + (1 − α), "
    "α in {0, 0.5, 1}, several seeds, full-batch AdamW on 80% of the pairs; each model's "
    "test accuracy, gradient symmetricity, distance irrelevance and pairwise linear CKA; "
    "and many seeds of a small transformer on a comparison task whose distractor agrees "
    "with the answer on 98% of training prompts, scored in distribution and where it "
    "disagrees; and a latent countdown base (pretrained on gold scratchpads, standing in "
    "for SFT) trained with GRPO, each checkpoint scored for accuracy, ECE of its greedy "
    "completion's probability, per-input EAD of its samples and early-answering AOC."
)

TRAINING = ModularRunConfig(organism=ModularConfig(p=31, width=128), steps=3000)


@dataclass(frozen=True)
class SameScoreConfig:
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # seeds per α (initialisation and split)
    alphas: tuple[float, ...] = (0.0, 0.5, 1.0)  # attention dials; 0 and 1 are decided on
    run: ModularRunConfig = TRAINING  # the training recipe (α and seeds set per run)
    triples: int = 100  # (a, b, c) triples of gradient symmetricity (the notebook's 100)
    resamples: int = 2000  # bootstrap resamples per interval
    shortcut: ShortcutConfig = field(default_factory=ShortcutConfig)  # part B's organisms
    costs: CostsConfig = field(default_factory=lambda: catalyst_runs(rl_catalyst.full()))  # C


def catalyst_runs(runs: rl_catalyst.RLCatalystConfig) -> CostsConfig:
    """Part C on study 2's runs at one of its scales: its seeds, base, GRPO run and
    held-out problems and samples, so the store trains and samples them once."""
    return CostsConfig(seeds=runs.seeds, base=runs.base, rl=runs.rl, eval=runs.eval)


def full() -> SameScoreConfig:
    """The citable design: 5 seeds x 3 α, p = 31, width 128, 3000 steps; 30 shortcut
    organisms scored on 500 prompts per split; part C on study 2's full runs (3 seeds,
    small base, GRPO 400 steps, 140 problems x 256 samples)."""
    return SameScoreConfig()


def quick() -> SameScoreConfig:
    """A few minutes on 2 cores: 3 seeds x 3 α, p = 23, width 64, 1000 steps; 8 shortcut
    organisms on 300 prompts per split; part C on study 2's quick run (one seed, micro
    base, its GRPO run, 100 problems x 64 samples)."""
    organism = ModularConfig(p=23, width=64, mlp_width=256)
    shortcut = replace(ShortcutConfig(), seeds=tuple(range(8)), prompts=300)
    run = replace(TRAINING, organism=organism, steps=1000)
    costs = catalyst_runs(rl_catalyst.quick())
    return replace(full(), seeds=(0, 1, 2), run=run, shortcut=shortcut, costs=costs)


def smoke() -> SameScoreConfig:
    """Seconds: p = 11, width 32, 300 steps (the test suite)."""
    organism = ModularConfig(p=11, width=32, heads=2, mlp_width=128)
    run = replace(TRAINING, organism=organism, steps=300, lr=3e-3, weight_decay=1.0)
    recipe = generalisation.short_recipe()
    loop = replace(recipe.loop, organism=replace(recipe.loop.organism, width=32), steps=60)
    shortcut = ShortcutConfig(seeds=(0, 1, 2), run=replace(recipe, loop=loop), prompts=40)
    return replace(
        full(),
        seeds=(0, 1),
        alphas=(0.0, 1.0),
        run=run,
        triples=20,
        resamples=200,
        shortcut=shortcut,
        costs=catalyst_runs(rl_catalyst.smoke()),
    )


# The decision rule, fixed before any result (2026-12-07; pilots in NOTES.md).
PIZZA, CLOCK = 0.0, 1.0  # the two dials the parts compare
SCORE = 0.95  # the premise: every decided model's test accuracy is at least this
SYMMETRICITY_GAP = 0.2  # Pizza minus Clock symmetricity above this: different algorithms
IRRELEVANCE_GAP = 0.2  # Clock minus Pizza distance irrelevance above this
CKA_GAP = 0.05  # within-group minus between-group CKA above this
BAND = 0.95  # part B: in-distribution accuracy of a seed in the "same score" band
IN_BAND = 0.8  # part B's premise: at least this share of the seeds (and 3) in the band
SPREAD_GAP = 0.1  # part B: sd of conflict accuracy minus sd in distribution above this
NO_SPREAD = 0.03  # part B contradicts below this: no hidden spread
ECE_RISE = 0.02  # part C: ECE, last RL checkpoint minus base, above this: calibration worse
DIVERSITY_FALL = 0.05  # part C: per-input EAD falls by more than this share of the base's
AOC_FALL = 0.05  # part C: early-answering AOC, base minus last checkpoint, above this
FAMILY = 7
SAME_SCORE = "the same score"
SAME_SCORE_B = "the same score in distribution (part B)"
GAINED = "RL raised accuracy (part C)"
PART_B = "generalisation differs at the same score"
PART_C = {  # part C's parts: the effect's key in ``costs.effects`` -> the part's name
    "ece": "calibration worsens as RL gains (part C)",
    "diversity": "diversity falls as RL gains (part C)",
    "aoc": "early-answering faithfulness falls as RL gains (part C)",
}
RULE = (
    f"On the α = {PIZZA:g} (Pizza) and α = {CLOCK:g} (Clock) groups, seeds resampled within "
    f"each: (1) mean gradient symmetricity, Pizza minus Clock, supports if its 95% interval "
    f"lies above {SYMMETRICITY_GAP}, contradicts if its {1 - 0.05 / FAMILY:.4g} interval lies "
    f"below 0; (2) mean distance irrelevance, Clock minus Pizza, the same against "
    f"{IRRELEVANCE_GAP}; (3) mean linear CKA of the final residual stream over pairs of "
    f"distinct models within a group minus over pairs across the groups, the same against "
    f"{CKA_GAP}. Premise ({SAME_SCORE}): every model of both groups has test accuracy at "
    f"least {SCORE}; if not, parts 1-3 are inconclusive. (4) Part B, over the shortcut "
    f"organisms whose held-out in-distribution accuracy is at least {BAND}, seeds and "
    "prompts resampled crossed: the standard deviation across seeds of accuracy on the "
    "conflict prompts (the shortcut gives the wrong answer) minus that of in-distribution "
    f"accuracy supports if its 95% interval lies above {SPREAD_GAP}, contradicts if its "
    f"{1 - 0.05 / FAMILY:.4g} interval lies below {NO_SPREAD}; premise ({SAME_SCORE_B}): "
    f"at least {IN_BAND:.0%} of the seeds, and at least 3, are in the band, else part 4 is "
    "inconclusive. Part C, GRPO from a countdown base, each seed's base (step 0) against "
    "its last RL checkpoint on the same held-out problems, seeds and problems resampled "
    "crossed; each change is oriented so the claim predicts it positive and supports if "
    f"its 95% interval lies above its margin, contradicts if its {1 - 0.05 / FAMILY:.4g} "
    "interval lies below 0 (the cost went the other way): (5) ECE of the greedy "
    f"completion's probability, last minus base, margin {ECE_RISE}; (6) per-input EAD "
    f"over the first samples of each problem, 1 − last / base, margin {DIVERSITY_FALL}; (7) "
    f"early-answering AOC, base minus last, margin {AOC_FALL}. Premise ({GAINED}): the "
    "accuracy (share of correct samples) gain, last minus base, has its 95% interval above "
    "0, else parts 5-7 are inconclusive. Overall: contradicts if any part contradicts, "
    "supports if all support, else inconclusive."
)


def same_score(models) -> Premise:
    """Every model of the two decided groups reached ``SCORE`` test accuracy."""
    decided = models[models.alpha.isin((PIZZA, CLOCK))]
    low = float(decided.test_accuracy.min())
    held = low >= SCORE
    return Premise(held, f"lowest test accuracy {low:.3f} {'>=' if held else '<'} {SCORE}")


def same_score_b(correct, seeds: int) -> Premise:
    """Part B's gate: enough shortcut organisms reached the in-distribution band."""
    held = len(generalisation.in_band(correct, BAND))
    needed = max(3, IN_BAND * seeds)
    return Premise(held >= needed, f"{held} of {seeds} seeds at in-distribution accuracy >= {BAND}")


def gained(accuracy: Effect) -> Premise:
    """Part C's gate: RL raised held-out accuracy (the gain's 95% interval above 0)."""
    low = accuracy.ci95[0]
    held = bool(low > 0)
    return Premise(held, f"{accuracy.name} {fmt(accuracy)}{'' if held else ' (not above 0)'}")


def decide(
    symmetricity: Effect,
    irrelevance: Effect,
    cka: Effect,
    spread: Effect,
    ece: Effect,
    diversity: Effect,
    aoc: Effect,
    premise: Premise,
    premise_b: Premise,
    premise_c: Premise,
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``) on effects built with ``family=FAMILY``."""
    parts = {
        "symmetricity differs by α": interval_rule(symmetricity, SYMMETRICITY_GAP, 0.0),
        "distance irrelevance differs by α": interval_rule(irrelevance, IRRELEVANCE_GAP, 0.0),
        "representations differ by α": interval_rule(cka, CKA_GAP, 0.0),
        PART_B: interval_rule(spread, SPREAD_GAP, NO_SPREAD),
        PART_C["ece"]: interval_rule(ece, ECE_RISE, 0.0),
        PART_C["diversity"]: interval_rule(diversity, DIVERSITY_FALL, 0.0),
        PART_C["aoc"]: interval_rule(aoc, AOC_FALL, 0.0),
    }
    rests_on = {name: (SAME_SCORE,) for name in list(parts)[:3]}
    rests_on |= {PART_B: (SAME_SCORE_B,)} | {name: (GAINED,) for name in PART_C.values()}
    gates = {SAME_SCORE: premise, SAME_SCORE_B: premise_b, GAINED: premise_c}
    return decide_parts(parts, gates, rests_on)


def run(cfg: SameScoreConfig, ctx: StudyContext) -> Verdict:
    """Train every model, measure its internals, decide, and write tables and figures."""
    models, states = experiment.train_and_measure(cfg, ctx)
    pairs = analysis.cka_table(states)
    effects = {
        "symmetricity": analysis.group_gap(
            models, "symmetricity", PIZZA, CLOCK, cfg.resamples, FAMILY
        ),
        "irrelevance": analysis.group_gap(
            models, "distance_irrelevance", CLOCK, PIZZA, cfg.resamples, FAMILY
        ),
        "cka": analysis.cka_gap(pairs, (PIZZA, CLOCK), cfg.resamples, FAMILY),
    }
    correct = generalisation.train_and_score(cfg.shortcut, ctx)
    banded = generalisation.in_band(correct, BAND)
    if len(banded) >= 2:
        effects["spread"] = generalisation.spread_gap(correct, banded, cfg.resamples, FAMILY)
    else:  # no spread to measure: the premise below fails and gates the part
        effects["spread"] = Effect(generalisation.SPREAD_NAME, float("nan"), (float("nan"),) * 2)
    readings = costs.measure(cfg.costs, ctx)
    found = costs.effects(readings, cfg.costs.bins, cfg.resamples, FAMILY)
    effects |= {key: found[key] for key in PART_C}
    premise = same_score(models)
    premise_b = same_score_b(correct, len(cfg.shortcut.seeds))
    premise_c = gained(found["accuracy"])
    overall, parts = decide(**effects, premise=premise, premise_b=premise_b, premise_c=premise_c)
    outputs.save(ctx, models, pairs, analysis.summary(models))
    outputs.save_shortcut(ctx, generalisation.accuracy_table(cfg.shortcut, correct), BAND)
    curves = costs.curves(readings, cfg.costs.bins)
    outputs.save_costs(ctx, readings, curves)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason=outputs.reason(
            overall, parts, models, generalisation.accuracy_table(cfg.shortcut, correct), curves
        ),
        rule=RULE,
        effects=[*effects.values(), found["accuracy"]],
        parts=parts,
        premises={SAME_SCORE: premise, SAME_SCORE_B: premise_b, GAINED: premise_c},
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes=outputs.design_notes(cfg, ctx.scale),
        follow_up=outputs.follow_up(parts),
    )


def check(cfg: SameScoreConfig) -> None:
    """BadInput for a design the rule cannot score."""
    from regimescope.errors import BadInput

    if not {PIZZA, CLOCK} <= set(cfg.alphas):
        raise BadInput(f"alphas must include {PIZZA:g} and {CLOCK:g}, the dials the rule compares")
    if len(cfg.seeds) < 2:
        raise BadInput("the study needs at least 2 seeds per α: its intervals resample seeds")
    if len(cfg.shortcut.seeds) < 3:
        raise BadInput("part B needs at least 3 shortcut seeds: it measures their spread")
    if not cfg.costs.seeds or cfg.costs.rl.checkpoint_every > cfg.costs.rl.steps:
        raise BadInput("part C needs a seed and an RL checkpoint: costs.seeds, rl.checkpoint_every")


STUDY = Study(
    name="same-score",
    number="8",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
    check=check,
)
