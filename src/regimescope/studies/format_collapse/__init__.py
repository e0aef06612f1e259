"""Study 6: does RL collapse onto one pretraining format, and does scale pick which?

**Claim** (Zhao, Meterez, Kakade, Pehlevan, Jelassi & Malach 2025, *Echo Chamber: RL
Post-training Amplifies Behaviors Learned in Pretraining*, arXiv 2504.07912): models
pretrained from scratch on a mixture whose math solutions come in several formats
(TinyGSM code, OpenMathInstruct-1 tagged code, OpenMathInstruct-2 prose) converge under
RL to one of those formats; the switch happens early, within the first epoch over the RL
prompts; on the same mixture, 150M models favour the code format and 1B models the prose
format; weaker KL gives a more extreme collapse. Details: ``shared/research/
findings-6-10.md``, Finding 6.

**Correction.** Secondary summaries say the winner is "the most performant format"; the
paper's own wording is that it is usually, not necessarily, the best-performing one, and
not necessarily the most frequent one in pretraining. So which pre-RL quantity predicts
the winner, frequency or per-format accuracy, is measured, not assumed.

**Design.** Task ``arithmetic``: word problems whose gold solutions come in three formats
(``code`` states the expression and the answer, no intermediate values; ``nl`` and
``tagged`` write every intermediate result). For each seed, two organism presets (the
"scales") are pretrained on the same examples for the same steps, on the equal mixture
and (full scale) on swapped proportions (``arithmetic-code-heavy`` 0.6/0.3/0.1 and
``arithmetic-tagged-heavy`` 0.1/0.3/0.6). Each base is measured before RL: its free
format shares and accuracy, and its accuracy per format with that format's opening
forced (the gold target up to its first number, ``a=3`` / ``3`` / ``<s>3``). Then GRPO
(the template ``rl``) on the equal-format prompt stream, one arm per KL coefficient: 0
and (full scale) > 0. The recorder logs the training reward, rollout format shares and
per-format accuracy at every step; every model is sampled (``eval``) on the same
held-out problems with the same sampling seed before RL, after the first pass and at the
end of RL. Runs and problems are crossed (every run is scored on the same problems), so
shares resample runs and one problem-column set per resample; the scale effects are one
number per (seed, mixture), the rates of runs one per (seed, condition), resampled the
same way.

**Premises (gates).** A part rests on what must have happened for it to mean anything;
when that failed the part is inconclusive, never contradicts. A run counts for collapse
only if its base solves at least ``MIN_BASE_ACCURACY`` of the held-out problems (with
almost no reward there is nothing for RL to select by), and the base must not already
hold ``COLLAPSE_SHARE`` of the winner's format. The shared RL premise, over the KL-0 runs
from those competent bases: the training reward rose and held-out accuracy did not fall
below the base's (``premises.rl_premises``); every part rests on it.

**A pass over the RL prompts.** The paper runs 10 epochs over GSM8K's 7,473 prompts (117
rollout batches of 64). The arithmetic train split holds about 2,090 distinct problems
(expression keys; counted by drawing 60,000 train examples, 2,092 distinct), so a pass
here is ``pass_prompts`` = 2,048 prompts of the stream (256 steps of 8), and "collapse
within the first pass" is read at the checkpoint that ends it. A run shorter than a pass
(quick scale) is read at its end: a collapse there is a collapse within the pass, but a
missing one cannot contradict the claim, so that branch is inconclusive.

**Departures.** Tiny Llama organisms (nano/micro at quick, micro/small at full) instead of
OLMo 150M/1B; synthetic formats; GRPO with a k3 KL in the loss instead of PPO; rollouts
and evaluation at T = 1 (paper: 0.7); the code format is read, not executed. The paper's
scales both learn GSM8K; a tiny organism may barely learn the task, hence the competence
premise. RL's learning rate is 1e-4, not the first full run's 3e-4, which damaged the
models instead of selecting by reward (NOTES.md).

**Scales.** ``smoke`` exercises every code path (2 seeds, a KL arm) on barely trained
organisms; ``quick`` is nano vs micro, one seed, the equal mixture, KL 0, 48 RL steps (a
fifth of a pass); ``full`` is micro vs small, 3 seeds, 3 mixtures, KL 0 and 0.1, 384 RL
steps (1.5 passes). Measured costs: NOTES.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from regimescope.errors import BadInput
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig
from regimescope.sampler import SamplingConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.format_collapse import analysis, experiment, outputs
from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE, rl_premises
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Premise,
    Verdict,
    decide_parts,
    fmt,
    gate,
    interval_rule,
)

CLAIM = (
    "Under RL, one pretraining format takes over 90% of a model's samples within the first "
    "pass over the RL prompts, and which format wins depends on model scale (same "
    "pretraining mixture); the winner is usually the format with the best pre-RL accuracy"
)
SOURCE = (
    "Zhao, Meterez, Kakade, Pehlevan, Jelassi & Malach 2025, Echo Chamber: RL Post-training "
    "Amplifies Behaviors Learned in Pretraining, arXiv 2504.07912"
)
CORRECTION = (
    "The winner is usually, not always, the best-performing pre-RL format, and not necessarily "
    "the most frequent one; it depends on scale. The study measures which of frequency and "
    "per-format accuracy predicts it."
)
SETUP = (
    "Two organism sizes are pretrained on arithmetic word problems whose solutions come in "
    "three formats (equal and swapped proportions), then trained with GRPO (KL 0 and > 0); "
    "format shares and per-format accuracy are tracked over RL steps and on held-out problems."
)

# ---------------------------------------------------------------- the config and its scales


def rl_runs() -> RLConfig:
    """The template of every RL run at the quick scale: GRPO at 1e-4 on the equal-format
    stream. Each run fills in its base folder, seed, KL arm and the first-pass checkpoint;
    the recorder logs reward and formats at every step and nothing costly."""
    unrecorded = ("entropy", "kl", "grad_norm", "update_ratio", "changed", "weight_norms")
    return RLConfig(
        curriculum=CurriculumConfig(tasks=(experiment.EVAL_TASK,)),
        objective="grpo",
        steps=48,
        prompts_per_step=8,
        samples_per_prompt=8,
        temperature=1.0,
        max_new_tokens=64,
        lr=1e-4,  # constant; why not 3e-4: NOTES.md
        kl_coef=0.0,  # each arm takes its coefficient from ``kl_coefs``
        recorder=RecorderConfig(every=1, **dict.fromkeys(unrecorded, False)),
    )


@dataclass(frozen=True)
class FormatCollapseConfig:
    seeds: tuple[int, ...] = (0,)  # each seed: its own bases (pretraining seed) and RL runs
    scales: tuple[str, ...] = ("nano", "micro")  # two organism presets, smaller first
    mixtures: tuple[str, ...] = ("arithmetic",)  # pretraining tasks (format proportions)
    pretrain_steps: int = 1000  # pretraining steps of every base (same examples at each scale)
    pretrain_batch: int = 16  # pretraining examples per step
    kl_coefs: tuple[float, ...] = (0.0,)  # the RL arms: KL-to-base coefficients; 0 must be first
    pass_prompts: int = 2048  # prompts in one pass (~ the task's distinct train problems)
    rl: RLConfig = field(default_factory=rl_runs)  # template of every RL run (steps may end early)
    eval: SamplingConfig = field(
        default_factory=lambda: SamplingConfig(n=8, temperature=1.0, max_new_tokens=64, seed=0)
    )  # held-out sampling of every model (n per problem, and per forced format for bases)
    eval_problems: int = 48  # held-out problems every model is sampled on
    bootstrap: int = 2000  # bootstrap resamples per interval

    @property
    def pass_steps(self) -> int:
        """RL steps in one pass over the RL prompts."""
        return self.pass_prompts // self.rl.prompts_per_step

    @property
    def first_pass_step(self) -> int:
        """The step the first pass is read at: its end, or the run's end if that is earlier."""
        return min(self.pass_steps, self.rl.steps)

    @property
    def coverage(self) -> float:
        """Share of the first pass the RL runs cover (1 = the whole pass)."""
        return self.first_pass_step / self.pass_steps


def quick() -> FormatCollapseConfig:
    """About 2 minutes on 2 uncontended cores: nano vs micro, 1000 pretraining steps of 16,
    one seed, the equal mixture, KL 0 only, 48 RL steps (a fifth of a pass)."""
    return FormatCollapseConfig()


def smoke() -> FormatCollapseConfig:
    """Seconds: untrained-looking organisms, every code path (2 seeds, KL arm), no claim."""
    short = dict(steps=4, prompts_per_step=2, samples_per_prompt=4, max_new_tokens=24)
    return replace(
        quick(),
        seeds=(0, 1),
        pretrain_steps=10,
        pretrain_batch=8,
        kl_coefs=(0.0, 0.1),
        pass_prompts=4,
        rl=replace(rl_runs(), **short),
        eval=replace(quick().eval, n=4, max_new_tokens=24),
        eval_problems=4,
        bootstrap=100,
    )


def full() -> FormatCollapseConfig:
    """The citable design: micro vs small, 1600 pretraining steps of 32, 3 seeds, 3
    mixtures, KL 0 and 0.1, 384 RL steps (1.5 passes of 2,048 prompts), 96 held-out
    problems x 16 samples (about 5.5 core-hours measured; NOTES.md)."""
    return replace(
        quick(),
        seeds=(0, 1, 2),
        scales=("micro", "small"),
        mixtures=("arithmetic", "arithmetic-code-heavy", "arithmetic-tagged-heavy"),
        pretrain_steps=1600,
        pretrain_batch=32,
        kl_coefs=(0.0, 0.1),
        rl=replace(rl_runs(), steps=384),
        eval=replace(quick().eval, n=16),
        eval_problems=96,
    )


def check(cfg: FormatCollapseConfig) -> None:
    """BadInput for a design this study cannot run (before anything is trained)."""
    if len(cfg.scales) != 2 or cfg.kl_coefs[:1] != (0.0,):
        raise BadInput("format-collapse needs two scales and kl_coefs starting with 0.0")
    if cfg.pass_prompts % cfg.rl.prompts_per_step or cfg.pass_steps < 1:
        raise BadInput("pass_prompts must be a positive multiple of rl.prompts_per_step")
    if cfg.rl.kl_coef != 0.0:
        raise BadInput("format-collapse sets each arm's KL: set kl_coefs, not rl.kl_coef")
    if cfg.rl.curriculum.tasks != (experiment.EVAL_TASK,):
        raise BadInput(
            f"RL runs on the equal-format stream: rl.curriculum.tasks must be "
            f"({experiment.EVAL_TASK!r},)"
        )


# ---------------------------------------------------------------- pre-registered thresholds

COLLAPSE_SHARE = 0.9  # "collapsed": one format holds more than this share of samples
MIN_BASE_ACCURACY = 0.1  # a KL-0 run counts for collapse only if its base solves this much
SCALE_MARGIN = 0.25  # total-variation distance that counts as a different format outcome
USUALLY = 0.5  # "usually": more than this share of runs
MIN_RUNS = 6  # a share of runs needs at least this many KL-0 runs to be estimated

COLLAPSE = "collapse within the first pass"  # decided parts (they make the overall verdict)
SCALE = "the winner depends on scale"
DECIDED = (COLLAPSE, SCALE)
FAMILY = len(DECIDED)  # decided effects carry their (1 - 0.05/FAMILY) interval
PREDICTOR = "the winner is the best pre-RL format (reported)"  # decided, reported beside
KL = "weaker KL collapses further (reported)"

COMPETENT = f"a KL-0 run starts from a base solving at least {MIN_BASE_ACCURACY:g}"  # premises
FRESH = f"the winner held less than {COLLAPSE_SHARE:g} of the base's samples"
RL_WORKED = (REWARD_ROSE, NOT_WORSE)  # the shared RL premise, over KL-0 runs of competent bases
RESTS_ON = {
    COLLAPSE: (COMPETENT, FRESH, *RL_WORKED),
    SCALE: RL_WORKED,
    PREDICTOR: RL_WORKED,
    KL: RL_WORKED,
}

RULE = (
    f"Premises (gates: a failed one makes its parts inconclusive, never contradicts): "
    f"{COMPETENT} (else collapse is not measured); {FRESH} (interval upper end of the base's "
    f"share of the final winner, for collapse); the shared RL premise over the KL-0 runs from "
    f"competent bases, for every part: the training reward rose (last tenth minus first tenth "
    f"of the per-step reward, 95% interval above 0) and held-out accuracy did not fall (end of "
    f"RL minus base, interval not wholly below 0). Decided, each contradicting branch on its "
    f"{1 - 0.05 / FAMILY:.4g} interval (Bonferroni over {FAMILY} parts): {COLLAPSE}: over KL-0 "
    f"runs from competent bases, the winner is the format (not 'none') with the largest final "
    f"share; its share after the first pass has a 95% interval above {COLLAPSE_SHARE:g} -> "
    f"supports, its interval below -> contradicts, else inconclusive; runs shorter than a pass "
    f"are read at their end and cannot contradict. {SCALE}: per seed and mixture, the "
    f"total-variation distance (TV) between the two scales' final format distributions, minus "
    f"the mean TV between seeds at one scale; 95% interval above {SCALE_MARGIN:g} -> supports; "
    f"else if the between-scale TV has its interval below {SCALE_MARGIN:g} (both scales end "
    f"alike) -> contradicts; else inconclusive; inconclusive without two scales and two seeds, "
    f"or when the final winner's share over all KL-0 runs does not have its interval above "
    f"{USUALLY:g} (no format dominates, so there is no winner to depend on scale). Overall: "
    f"{COLLAPSE} and {SCALE} combined (either contradicts -> contradicts; both support -> "
    f"supports). Reported with their own rules: {PREDICTOR}: share of KL-0 runs whose winner "
    f"has the highest forced pre-RL accuracy, interval above {USUALLY:g} -> supports, below -> "
    f"contradicts (at least {MIN_RUNS} runs); {KL}: final winner share at KL 0 minus at the "
    f"largest KL, interval above 0 -> supports, below 0 -> contradicts. Intervals: bootstrap "
    f"over runs (or seeds) and held-out problems, crossed."
)

# ---------------------------------------------------------------- the decision rule


def premises_of(
    competent: int,
    bases: int,
    base_share: Effect | None,
    rise: Effect | None,
    gain: Effect | None,
) -> dict[str, Premise]:
    """Every premise: ``competent`` of ``bases`` bases solve ``MIN_BASE_ACCURACY``;
    ``base_share``: the base's share of the final winner; ``rise`` and ``gain``: the RL
    premise's reward rise and held-out accuracy gain (None when no base is competent)."""
    none = "no KL-0 run starts from a competent base"
    found = {
        COMPETENT: Premise(
            competent > 0, f"{competent} of {bases} bases solve at least {MIN_BASE_ACCURACY:g}"
        )
    }
    if base_share is None:
        found[FRESH] = Premise(False, none)
    else:
        fresh = bool(base_share.ci95[1] < COLLAPSE_SHARE)
        found[FRESH] = Premise(fresh, f"{base_share.name} {fmt(base_share)}")
    if rise is None or gain is None:
        return found | {p: Premise(False, none) for p in RL_WORKED}
    return found | rl_premises(rise, gain)


def not_measured(why: str) -> Decision:
    return Decision("inconclusive", f"not measured: {why}")


def collapse_rule(first_pass: Effect | None, coverage: float) -> Decision:
    """The winner's share after the first pass against ``COLLAPSE_SHARE``; a run covering
    only part of the pass cannot contradict."""
    if first_pass is None:
        return not_measured(f"no KL-0 run starts from a base solving {MIN_BASE_ACCURACY:g}")
    decision = interval_rule(first_pass, COLLAPSE_SHARE, COLLAPSE_SHARE)
    if decision.verdict == "contradicts" and coverage < 1:
        return Decision(
            "inconclusive",
            f"{decision.reason}, but the runs cover only {coverage:.0%} of the first pass",
        )
    return decision


def scale_rule(final: Effect, gap: Effect | None, between: Effect | None) -> Decision:
    """Scale beyond seed noise supports; scales ending alike contradicts (on the family-wise
    interval); both only once some format dominates the final samples (else there is no
    winner to depend on scale)."""
    if gap is None or between is None:
        return not_measured("needs two scales and at least two seeds to tell scale from seed")
    if final.ci95[0] <= USUALLY:
        return Decision("inconclusive", f"no format dominates: {final.name} {fmt(final)}")
    if gap.ci95[0] > SCALE_MARGIN:
        return Decision("supports", f"{gap.name} {fmt(gap)} lies above {SCALE_MARGIN:g}")
    if between.contradict_interval[1] < SCALE_MARGIN:
        reason = f"{between.name} {fmt(between, wide=True)} lies below {SCALE_MARGIN:g}"
        return Decision("contradicts", reason, between.family)
    return Decision("inconclusive", f"{gap.name} {fmt(gap)}; {between.name} {fmt(between)}")


def decide(
    first_pass: Effect | None,
    final: Effect,
    gap: Effect | None,
    between: Effect | None,
    by_accuracy: Effect | None,
    kl: Effect | None,
    premises: dict[str, Premise],
    coverage: float = 1.0,
) -> tuple[Decision, dict[str, Decision]]:
    """The overall decision (collapse and scale, gated, combined) and all four parts.
    ``None`` marks an effect this design cannot measure; ``by_accuracy`` is None below
    ``MIN_RUNS`` runs; ``coverage`` is the share of the first pass the RL runs cover."""
    decided = {
        COLLAPSE: collapse_rule(first_pass, coverage),
        SCALE: scale_rule(final, gap, between),
    }
    if by_accuracy is None:
        predictor = not_measured(f"fewer than {MIN_RUNS} KL-0 runs")
    else:
        predictor = interval_rule(by_accuracy, USUALLY, USUALLY)
    reported = {
        PREDICTOR: predictor,
        KL: not_measured("no KL > 0 arm") if kl is None else interval_rule(kl, 0.0, 0.0),
    }
    overall, decided = decide_parts(decided, premises, RESTS_ON)
    return overall, decided | gate(reported, premises, RESTS_ON)


# ---------------------------------------------------------------- the experiment


def run(cfg: FormatCollapseConfig, ctx: StudyContext) -> Verdict:
    """Pretrain the bases, run RL, sample every model, decide."""
    bases, runs = experiment.train(cfg, ctx)
    ctx.progress("sampling every model on the held-out problems")
    measured = experiment.measure(cfg, bases, runs, ctx.progress)
    floor = MIN_BASE_ACCURACY
    first_pass, base_share = analysis.collapse_effects(cfg, measured, floor, FAMILY)
    rise, gain = analysis.rl_worked(cfg, measured, floor)
    competent = len(analysis.qualifying(cfg, measured, floor))
    premises = premises_of(competent, len(bases), base_share, rise, gain)
    final = analysis.final_effect(cfg, measured)
    gap, between = analysis.scale_effects(cfg, measured, FAMILY)
    by_accuracy, by_frequency = analysis.predictor_effects(cfg, measured)
    kl = analysis.kl_effect(cfg, measured)
    enough = len(cfg.seeds) * len(cfg.scales) * len(cfg.mixtures) >= MIN_RUNS
    overall, decided = decide(
        first_pass,
        final,
        gap,
        between,
        by_accuracy if enough else None,
        kl,
        premises,
        cfg.coverage,
    )
    found = (first_pass, final, gap, between, by_accuracy, by_frequency, kl, base_share, rise, gain)
    effects = [e for e in found if e is not None] + analysis.base_accuracy(cfg, measured)
    outputs.save(cfg, ctx, measured, runs, effects, COLLAPSE_SHARE, SCALE_MARGIN)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason="; ".join(f"{name}: {d.verdict} ({d.reason})" for name, d in decided.items()),
        rule=RULE,
        effects=effects,
        parts=decided,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes=outputs.notes(ctx.scale, cfg, measured, MIN_BASE_ACCURACY, MIN_RUNS),
        follow_up="Does the winner track the format a model of this size computes best "
        "(short code with no intermediate values vs written-out steps), and does the scale "
        "that flips it move with pretraining length rather than with parameters?",
        premises=premises,
    )


STUDY = Study(
    name="format-collapse",
    number="6",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
    check=check,
)
