"""Study 9: do the laws of "learning mechanics" predict what a training run will do?

Claim. Simon, Kunin et al. 2026, *There Will Be a Scientific Theory of Deep Learning*
(arXiv 2604.21691), a position paper: training dynamics obey simple laws for aggregate,
macroscopic statistics (scaling laws, the edge of stability, the gradient noise scale and
critical batch size, loss-curve collapse), and these laws make falsifiable quantitative
predictions. A position paper cannot be reproduced; what can be tested is whether the laws
it names predict, written down before the runs, what tiny training runs then do. Sources of
each law: Cohen et al. 2021 (arXiv 2103.00065) for the edge of stability, McCandlish et al.
2018 (arXiv 1812.06162) for the noise scale, Kaplan et al. 2020 / Hoffmann et al. 2022 for
L(N) = E + A·N^−α, Qiu et al. 2025 (arXiv 2507.02119) for collapse. Details:
``shared/research/findings-6-10.md`` §9.

Design. MLP students (``organisms.mlp``) regress a fixed random teacher network
(``tasks.teacher``, 2048 tanh units, far wider than any student, so students are always
approximation-limited, the domain of a scaling law). Three sweeps (``experiment``):
full-batch gradient descent at several step sizes η, reading the sharpness λ_max(∇²L);
Adam over a range of widths with examples proportional to parameters; SGD to a target loss
over batch sizes and learning rates, reading the gradient noise scale on the smallest
batch. Six registered predictions (``RULE``): (1) sharpness hovers at 2/η once it gets
there, while (2) the loss keeps falling and (3) does so non-monotonically; (4) the law
fitted on the smaller widths predicts the final loss of the largest before it is
measured; (5) B_simple read on the small-batch run predicts the critical batch size the
sweep then finds; (6) the normalised loss curves of different widths agree about as well
as two seeds of one width.

Departures from the sources: MLPs on a teacher task instead of language models and image
classifiers (runs take seconds, so each law is tested on many runs); Cohen et al. read
sharpness at every step, we read it every few; McCandlish et al. measure B_crit over a
finer grid of batch sizes with per-size tuned learning rates, we take the best of a
coarse grid of rates; Qiu et al. collapse compute-optimal runs, ours use a fixed number of
examples per parameter (the same tokens-per-parameter idea) without tuning it; the
scaling law is in parameters only (data grows with size, it is not a second axis).

Scales: ``full`` (5 seeds, 4 step sizes, widths 4-64 predicting 128; about 30 core-minutes),
``quick`` (3 seeds, 2 step sizes, widths 4-16 predicting 32; about a minute), ``smoke`` (the
test suite). Pilots, measured costs and the rule's history: ``NOTES.md`` beside this file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from regimescope.organisms.mlp import MLPConfig
from regimescope.regimes.student import StudentConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.learning_mechanics import analysis, experiment, outputs
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Premise,
    Verdict,
    decide_parts,
    equivalence_rule,
    fmt,
    interval_rule,
    upper_rule,
)
from regimescope.tasks.teacher import TeacherConfig

CLAIM = (
    "Training dynamics obey simple aggregate laws that predict, before a run, what it will "
    "do: sharpness settles at the edge of stability 2/η while the loss keeps falling, a "
    "scaling law fitted on small models predicts a larger one's loss, the gradient noise "
    "scale predicts the critical batch size, and loss curves of different sizes collapse."
)
SOURCE = (
    "Simon, Kunin et al. 2026, arXiv 2604.21691 (position paper); laws from Cohen et al. "
    "2021 (2103.00065), McCandlish et al. 2018 (1812.06162), Kaplan et al. 2020 "
    "(2001.08361), Qiu et al. 2025 (2507.02119)"
)
CORRECTION = (
    "A position paper with no experiments of its own: what is tested is the laws it names, "
    "each as a prediction registered before the runs, not the paper."
)
SETUP = (
    "MLP students regress a wide random teacher network: full-batch gradient descent at "
    "several step sizes (sharpness read by power iteration), Adam across widths with data "
    "proportional to parameters, and SGD to a target loss across batch sizes and learning "
    "rates (gradient noise scale read on the smallest batch); six predictions are scored."
)

EOS = StudentConfig(  # full-batch GD on a fixed set of 1000 examples (Cohen et al.'s setting)
    organism=MLPConfig(width=64),
    optimizer="gd",
    train_examples=1000,
    batch_size=1000,
    steps=4000,
    eval_every=50,
    sharpness_every=20,
)
SIZES = StudentConfig(  # Adam with warmup-cosine on the stream; width, steps set per run
    optimizer="adam",
    lr=0.01,
    schedule="cosine",
    batch_size=16,  # small, so the smallest student still takes ~100 steps at quick
    train_examples=0,
)
BATCHES = StudentConfig(  # SGD to a target loss on a large fixed set; batch size, lr per run
    organism=MLPConfig(width=32),
    optimizer="sgd",
    train_examples=65536,
    steps=1500,
    target_loss=0.3,
    eval_every=5,
    eval_examples=1024,
    log_every=100,
    noise_batch=512,
)


@dataclass(frozen=True)
class LearningMechanicsConfig:
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # training seeds (initialisation, data order)
    teacher: TeacherConfig = field(default_factory=lambda: TeacherConfig(width=2048))  # task
    eos: StudentConfig = EOS  # template of the edge-of-stability runs (η, seeds set per run)
    eos_rates: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)  # step sizes η of full-batch GD
    sizes: StudentConfig = SIZES  # template of the size sweep (width, steps, seeds per run)
    fit_widths: tuple[int, ...] = (4, 8, 16, 32, 64)  # widths the scaling law is fitted on
    predict_width: int = 128  # the width whose loss the law predicts before it is trained
    examples_per_parameter: float = 100  # training examples per parameter in the size sweep
    batches: StudentConfig = BATCHES  # template of the batch sweep (size, lr, seeds per run)
    batch_sizes: tuple[int, ...] = (8, 32, 128, 512, 2048)  # the smallest is the reference
    batch_rates: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)  # SGD rates tried per size
    noise_scale_every: int = 25  # noise readings of the reference runs (a multiple of eval)
    resamples: int = 2000  # bootstrap resamples (mean effects)
    fit_resamples: int = 1000  # bootstrap resamples that refit the scaling law


def full() -> LearningMechanicsConfig:
    """The citable design: 5 seeds; 4 step sizes; widths 4-64 predicting 128; 5 batch
    sizes x 5 rates (about 30 core-minutes, see NOTES.md)."""
    return LearningMechanicsConfig()


def quick() -> LearningMechanicsConfig:
    """About a minute on 2 cores: 3 seeds, 2 step sizes for 1000 steps, widths 2-16
    predicting 32 at 50 examples per parameter, 4 batch sizes x 3 rates on 16384 examples."""
    return replace(
        full(),
        seeds=(0, 1, 2),
        eos=replace(EOS, steps=1000, sharpness_every=25),
        eos_rates=(0.2, 0.4),
        fit_widths=(4, 8, 12, 16),
        predict_width=32,
        examples_per_parameter=50,
        batches=replace(BATCHES, steps=1000, train_examples=16384),
        batch_sizes=(8, 32, 128, 512),
        batch_rates=(0.1, 0.2, 0.4),
    )


def smoke() -> LearningMechanicsConfig:
    """Seconds: tiny sweeps that exercise every code path (the test suite)."""
    return replace(
        quick(),
        seeds=(0, 1),
        teacher=TeacherConfig(width=64),
        eos=replace(
            EOS,
            organism=MLPConfig(width=16),
            train_examples=200,
            batch_size=200,
            steps=200,
            sharpness_every=10,
            sharpness_iterations=8,
        ),
        fit_widths=(4, 6, 8, 12),
        predict_width=16,
        examples_per_parameter=5,
        batches=replace(
            BATCHES, organism=MLPConfig(width=8), train_examples=4096, steps=200, target_loss=0.8
        ),
        batch_sizes=(8, 32, 128),
        batch_rates=(0.2, 0.4),
        resamples=200,
        fit_resamples=50,
    )


# The decision rule, fixed before any result (2026-12-07; pilots in NOTES.md).
HOVER_MARGIN = 0.10  # |median sharpness / (2/η) − 1| below this: "hovers at the edge"
HOVER_REFUTED = 0.20  # ... and beyond this the prediction fails
FALL_SUPPORT = 0.10  # the loss falls by more than a tenth over the steps at the edge
UPS_SUPPORT = 0.05  # more than 5% of the steps at the edge raise the loss (non-monotone)
UPS_REFUTED = 0.01  # below 1%: the loss falls monotonically (stable GD, no edge dynamics)
SCALING_MARGIN = 0.10  # |measured / predicted loss − 1| below this: the law predicted it
SCALING_REFUTED = 0.20  # ... beyond this it did not
BATCH_MARGIN = math.log10(3)  # B_crit within a factor of 3 of B_simple: the prediction held
BATCH_REFUTED = 1.0  # off by more than a factor of 10 (McCandlish et al.: "order of magnitude")
COLLAPSE_SUPPORT = 2.0  # across-size spread under twice the seed-to-seed spread: collapse
COLLAPSE_REFUTED = 4.0  # over four times: no collapse
FAMILY = 6  # parts of the verdict: contradicting branches use 1 - 0.05/6 intervals
REACHED_EDGE = "runs reach the edge"
LAW_FITTED = "loss falls with size"
TARGET_REACHED = "every batch size reaches the target"
RESTS_ON = {
    "sharpness hovers at 2/η": (REACHED_EDGE,),
    "loss keeps falling at the edge": (REACHED_EDGE,),
    "loss non-monotone at the edge": (REACHED_EDGE,),
    "scaling law predicts the larger model": (LAW_FITTED,),
    "noise scale predicts the critical batch": (TARGET_REACHED,),
    "loss curves collapse across sizes": (LAW_FITTED,),
}
RULE = (
    "Six predictions, each a number with a tolerance; intervals resample training seeds "
    "(within sizes for the size sweep, refitting the law). (1) Edge of stability: the mean "
    "over runs of the median sharpness/(2/η) from the first reading at 0.9·2/η on, minus 1, "
    f"supports within ±{HOVER_MARGIN}, contradicts if the {1 - 0.05 / FAMILY:.4g} interval "
    f"lies outside ±{HOVER_REFUTED}; (2) the loss at the edge falls (1 − last tenth / first "
    f"tenth of its mean) by more than {FALL_SUPPORT} (contradicts below 0); (3) more than "
    f"{UPS_SUPPORT} of the steps at the edge raise the loss (contradicts below {UPS_REFUTED}). "
    "Premise of 1-3: every run reaches 0.9·2/η in its first half. (4) Scaling: L(N) = E + "
    "A·N^−α fitted on the smaller widths' mean final losses predicts the largest width's: "
    f"measured/predicted − 1 supports within ±{SCALING_MARGIN}, contradicts outside "
    f"±{SCALING_REFUTED}. (5) Critical batch: log10(B_crit / B_simple), B_crit from "
    "S(B) = S_min(1 + B_crit/B) fitted to the fewest steps to the target loss per batch "
    "size, B_simple = mean tr(Σ) / mean |G|² of the smallest batch's readings at eval loss "
    f"<= 2x target: supports within ±log10(3), contradicts outside ±{BATCH_REFUTED} (a "
    "factor of 10). Premise: every batch size of every seed reaches the target and the fit "
    "is defined. (6) Collapse: curves normalised to (t/T, (L−E)/(L(T)−E)) with E fitted; "
    "mean spread across widths over mean spread across seeds supports below "
    f"{COLLAPSE_SUPPORT}, contradicts above {COLLAPSE_REFUTED}. Premise of 4 and 6: the "
    "fitted exponent's 95% interval lies above 0. Overall: contradicts if any part "
    "contradicts at the family-wise level, supports if all support, else inconclusive."
)


def premises_of(eos_stats, exponent: Effect, batch_stats) -> dict[str, Premise]:
    """The three premises, with the numbers that decide them."""
    in_time = int(eos_stats.in_time.sum())
    fitted = batch_stats.b_crit.notna() & batch_stats.b_simple.notna()
    return {
        REACHED_EDGE: Premise(
            in_time == len(eos_stats),
            f"{in_time} of {len(eos_stats)} runs reached 0.9·2/η in their first half",
        ),
        LAW_FITTED: Premise(exponent.ci95[0] > 0, f"{exponent.name} {fmt(exponent)}"),
        TARGET_REACHED: Premise(
            bool(fitted.all()),
            f"B_crit and B_simple defined for {int(fitted.sum())} of {len(batch_stats)} seeds",
        ),
    }


def decide(
    hover: Effect,
    fall: Effect,
    ups: Effect,
    scaling: Effect,
    batch: Effect,
    collapse: Effect,
    premises: dict[str, Premise],
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``) on effects built with ``family=FAMILY``."""
    parts = {
        "sharpness hovers at 2/η": equivalence_rule(hover, HOVER_MARGIN, HOVER_REFUTED),
        "loss keeps falling at the edge": interval_rule(fall, FALL_SUPPORT, 0.0),
        "loss non-monotone at the edge": interval_rule(ups, UPS_SUPPORT, UPS_REFUTED),
        "scaling law predicts the larger model": equivalence_rule(
            scaling, SCALING_MARGIN, SCALING_REFUTED
        ),
        "noise scale predicts the critical batch": equivalence_rule(
            batch, BATCH_MARGIN, BATCH_REFUTED
        ),
        "loss curves collapse across sizes": upper_rule(
            collapse, COLLAPSE_SUPPORT, COLLAPSE_REFUTED
        ),
    }
    return decide_parts(parts, premises, RESTS_ON)


def run(cfg: LearningMechanicsConfig, ctx: StudyContext) -> Verdict:
    """Train the three sweeps, turn their readings into the six effects, decide, and
    write the tables and figures."""
    tables = experiment.train_and_measure(cfg, ctx)
    found = analysis.measure(cfg, tables, FAMILY)
    premises = premises_of(found.eos_stats, found.exponent, found.batch_stats)
    overall, parts = decide(**found.decided(), premises=premises)
    outputs.save(ctx, tables, found)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason=outputs.reason(overall, parts, found),
        rule=RULE,
        effects=[*found.decided().values(), found.exponent],
        parts=parts,
        premises=premises,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes=outputs.design_notes(cfg, ctx.scale),
        follow_up=outputs.follow_up(parts),
    )


def check(cfg: LearningMechanicsConfig) -> None:
    """BadInput for a design the analysis cannot score."""
    from regimescope.errors import BadInput

    if len(cfg.fit_widths) < 4:
        raise BadInput("fit_widths needs at least 4 widths: E + A·N^-α has 3 parameters")
    if cfg.predict_width in cfg.fit_widths:
        raise BadInput("predict_width must not be one of fit_widths (it is predicted, not fitted)")
    if len(cfg.batch_sizes) < 3:
        raise BadInput("batch_sizes needs at least 3 sizes to fit S(B)")
    if len(cfg.seeds) < 2:
        raise BadInput("the study needs at least 2 seeds: its intervals resample seeds")
    if cfg.noise_scale_every % cfg.batches.eval_every:
        raise BadInput("noise_scale_every must be a multiple of batches.eval_every")


STUDY = Study(
    name="learning-mechanics",
    number="9",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
    check=check,
)
