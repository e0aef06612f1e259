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
forced (the gold target up to its first number, ``a=3`` / ``3`` / ``<s>3``). Then GRPO on
the equal-format prompt stream, with KL coefficient 0 and (full scale) > 0. The recorder
logs rollout format shares and per-format accuracy per step; every model is sampled on
the same held-out problems (same sampling seed) before RL, after the first pass and at
the end of RL. Intervals: shares resample runs, then problems (hierarchical bootstrap);
the scale effects are one number per (seed, mixture) and resample those; rates of runs
resample seeds, then (scale, mixture) conditions.

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
scales both learn GSM8K; a tiny organism may barely learn the task, so runs whose base
solves less than ``MIN_BASE_ACCURACY`` are reported but not counted for collapse (with
almost no reward there is nothing for RL to select by).

**Learning rate, 1e-4 (changed after the first full run).** The first full run used 3e-4
(folder ``format-collapse-9289d2f711bc``): RL did not climb its reward and held-out
accuracy fell in 14 of 18 KL-0 runs (mean -0.092; -0.19 on the code-heavy mixture), so its
"collapse" was drift of a model being damaged, not selection by reward. A diagnostic from
the same stored bases at 1e-4 (KL 0, the study's own configs and held-out sampling):
held-out accuracy rose in all 6 runs tried: micro on the code-heavy mixture, seeds 0-2,
+0.003 / +0.021 / +0.027 (at 3e-4: -0.24 / -0.08 / -0.16); micro on the equal mixture
+0.093 / +0.118 / +0.099 (3e-4: +0.027 / +0.105 / -0.046). 1e-4 is also studies 2 and 5's
GRPO rate. The rule was not touched.
"""

from __future__ import annotations

from dataclasses import dataclass

from regimescope.errors import BadInput
from regimescope.studies import format_collapse_effects as effect_parts
from regimescope.studies import format_collapse_figures as figure_parts
from regimescope.studies import format_collapse_parts as parts
from regimescope.studies import format_collapse_tables as table_parts
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.verdict import Decision, Effect, Verdict, combine, fmt, interval_rule

CLAIM = (
    "Under RL, one pretraining format takes over 90% of a model's samples within the first "
    "pass over the RL prompts, and which format wins depends on model scale (same "
    "pretraining mixture); the winner is usually the format with the best pre-RL accuracy"
)

# ---------------------------------------------------------------- pre-registered thresholds

COLLAPSE_SHARE = 0.9  # "collapsed": one format holds more than this share of samples
MIN_BASE_ACCURACY = 0.1  # a KL-0 run counts for collapse only if its base solves this much
SCALE_MARGIN = 0.25  # total-variation distance that counts as a different format outcome
USUALLY = 0.5  # "usually": more than this share of runs
MIN_RUNS = 6  # a share of runs needs at least this many KL-0 runs to be estimated

COLLAPSE = "collapse within the first pass"  # decided parts (they make the overall verdict)
SCALE = "the winner depends on scale"
PREDICTOR = "the winner is the best pre-RL format (reported)"  # decided, reported beside
KL = "weaker KL collapses further (reported)"

RULE = (
    f"{COLLAPSE}: over KL-0 runs whose base solves at least {MIN_BASE_ACCURACY:g} of the "
    f"held-out problems, the winner is the format (not 'none') with the largest final "
    f"share; its share after the first pass has a 95% interval above {COLLAPSE_SHARE:g} -> "
    f"supports, below -> contradicts, else inconclusive; inconclusive if no run qualifies or "
    f"the base's share of that format already reaches {COLLAPSE_SHARE:g} (interval upper "
    f"end); runs shorter than a pass are read at their end and cannot contradict. "
    f"{SCALE}: per seed and mixture, the total-variation distance (TV) between the "
    f"two scales' final format distributions, minus the mean TV between seeds at one scale; "
    f"interval above {SCALE_MARGIN:g} -> supports; else if the between-scale TV has its "
    f"interval below {SCALE_MARGIN:g} (both scales end alike) -> contradicts; else "
    f"inconclusive; inconclusive without two scales and two seeds, or when the final "
    f"winner's share over all KL-0 runs does not have its interval above {USUALLY:g} (no "
    f"format dominates, so there is no winner to depend on scale). Overall: {COLLAPSE} and "
    f"{SCALE} combined (any contradicts -> contradicts; both support -> supports). Reported "
    f"with their own rules: {PREDICTOR}: share of KL-0 runs whose winner has the highest "
    f"forced pre-RL accuracy, interval above {USUALLY:g} -> supports, below -> contradicts "
    f"(at least {MIN_RUNS} runs); {KL}: final winner share at KL 0 minus at the largest KL, "
    f"interval above 0 -> supports, below 0 -> contradicts. Intervals: hierarchical "
    f"bootstrap over runs (or seeds) and held-out problems."
)


@dataclass(frozen=True)
class FormatCollapseConfig:
    seeds: tuple[int, ...] = (0,)  # each seed: its own bases (pretraining seed) and RL runs
    scales: tuple[str, ...] = ("nano", "micro")  # two organism presets, smaller first
    mixtures: tuple[str, ...] = ("arithmetic",)  # pretraining tasks (format proportions)
    pretrain_steps: int = 1000  # pretraining steps of every base (same examples at each scale)
    pretrain_batch: int = 16  # pretraining examples per step
    kl_coefs: tuple[float, ...] = (0.0,)  # KL-to-base coefficients of RL; 0 must be first
    pass_prompts: int = 2048  # prompts in one pass (~ the task's distinct train problems)
    rl_steps: int = 48  # RL steps per run (may end before the first pass does)
    prompts_per_step: int = 8  # P: prompts per RL step
    samples_per_prompt: int = 8  # n: rollouts per prompt (the GRPO group)
    lr: float = 1e-4  # RL learning rate (constant; why not 3e-4: module docstring)
    temperature: float = 1.0  # rollout and evaluation temperature
    max_new_tokens: int = 64  # token budget of rollouts and evaluation samples
    log_every: int = 2  # a recorder line (rollout format shares) every N RL steps
    eval_problems: int = 48  # held-out problems every model is sampled on
    eval_samples: int = 8  # samples per problem (and per forced format, for bases)
    bootstrap: int = 2000  # bootstrap resamples per interval

    @property
    def pass_steps(self) -> int:
        """RL steps in one pass over the RL prompts."""
        return self.pass_prompts // self.prompts_per_step

    @property
    def first_pass_step(self) -> int:
        """The step the first pass is read at: its end, or the run's end if that is earlier."""
        return min(self.pass_steps, self.rl_steps)

    @property
    def coverage(self) -> float:
        """Share of the first pass the RL runs cover (1 = the whole pass)."""
        return self.first_pass_step / self.pass_steps


def smoke() -> FormatCollapseConfig:
    """Seconds: untrained-looking organisms, every code path (2 seeds, KL arm), no claim."""
    return FormatCollapseConfig(
        seeds=(0, 1),
        pretrain_steps=10,
        pretrain_batch=8,
        kl_coefs=(0.0, 0.1),
        pass_prompts=4,
        rl_steps=4,
        prompts_per_step=2,
        samples_per_prompt=4,
        max_new_tokens=24,
        log_every=1,
        eval_problems=4,
        eval_samples=4,
        bootstrap=100,
    )


def quick() -> FormatCollapseConfig:
    """About 2 minutes on 2 uncontended cores: nano vs micro, 1000 pretraining steps of 16,
    one seed, the equal mixture, KL 0 only, 48 RL steps (a fifth of a pass)."""
    return FormatCollapseConfig()


def full() -> FormatCollapseConfig:
    """The citable design: micro vs small, 1600 pretraining steps of 32, 3 seeds, 3
    mixtures, KL 0 and 0.1, 384 RL steps (1.5 passes of 2,048 prompts), 96 held-out
    problems x 16 samples. Measured (session 4, one thread per process): about 5.5
    core-hours of training, 6 min per micro condition (base 2-3 min, each RL run ~2 min)
    and 25 min per small one (base 10-17 min, each RL run 6-8 min); sampling every model
    afterwards took 6 min. Two processes (the study and a second walking the conditions
    from the other end) finish in about 3 h."""
    return FormatCollapseConfig(
        seeds=(0, 1, 2),
        scales=("micro", "small"),
        mixtures=("arithmetic", "arithmetic-code-heavy", "arithmetic-tagged-heavy"),
        pretrain_steps=1600,
        pretrain_batch=32,
        kl_coefs=(0.0, 0.1),
        rl_steps=384,
        log_every=4,
        eval_problems=96,
        eval_samples=16,
    )


# ---------------------------------------------------------------- the decision rule


def not_measured(why: str) -> Decision:
    return Decision("inconclusive", f"not measured: {why}")


def collapse_rule(
    first_pass: Effect | None, base_share: Effect | None, coverage: float
) -> Decision:
    """The winner's share after the first pass against ``COLLAPSE_SHARE``, gated on a base
    that had not collapsed already; a run covering only part of the pass cannot contradict."""
    if first_pass is None or base_share is None:
        return not_measured(f"no KL-0 run starts from a base solving {MIN_BASE_ACCURACY:g}")
    if base_share.ci95[1] >= COLLAPSE_SHARE:
        return Decision("inconclusive", f"collapsed before RL: {base_share.name} {fmt(base_share)}")
    decision = interval_rule(first_pass, COLLAPSE_SHARE, COLLAPSE_SHARE)
    if decision.verdict == "contradicts" and coverage < 1:
        return Decision(
            "inconclusive",
            f"{decision.reason}, but the runs cover only {coverage:.0%} of the first pass",
        )
    return decision


def scale_rule(final: Effect, gap: Effect | None, between: Effect | None) -> Decision:
    """Scale beyond seed noise supports; scales ending alike contradicts; both only once
    some format dominates the final samples (else there is no winner to depend on scale)."""
    if gap is None or between is None:
        return not_measured("needs two scales and at least two seeds to tell scale from seed")
    if final.ci95[0] <= USUALLY:
        return Decision("inconclusive", f"no format dominates: {final.name} {fmt(final)}")
    if gap.ci95[0] > SCALE_MARGIN:
        return Decision("supports", f"{gap.name} {fmt(gap)} lies above {SCALE_MARGIN:g}")
    if between.ci95[1] < SCALE_MARGIN:
        return Decision("contradicts", f"{between.name} {fmt(between)} lies below {SCALE_MARGIN:g}")
    return Decision("inconclusive", f"{gap.name} {fmt(gap)}; {between.name} {fmt(between)}")


def decide(
    first_pass: Effect | None,
    base_share: Effect | None,
    final: Effect,
    gap: Effect | None,
    between: Effect | None,
    by_accuracy: Effect | None,
    kl: Effect | None,
    coverage: float = 1.0,
) -> tuple[Decision, dict[str, Decision]]:
    """The overall decision (collapse and scale) and all four parts. ``None`` marks an
    effect this design cannot measure; ``by_accuracy`` is None below ``MIN_RUNS`` runs;
    ``coverage`` is the share of the first pass the RL runs cover."""
    decided = {
        COLLAPSE: collapse_rule(first_pass, base_share, coverage),
        SCALE: scale_rule(final, gap, between),
    }
    overall = combine(decided)
    if by_accuracy is None:
        decided[PREDICTOR] = not_measured(f"fewer than {MIN_RUNS} KL-0 runs")
    else:
        decided[PREDICTOR] = interval_rule(by_accuracy, USUALLY, USUALLY)
    decided[KL] = not_measured("no KL > 0 arm") if kl is None else interval_rule(kl, 0.0, 0.0)
    return overall, decided


# ---------------------------------------------------------------- the experiment


def run(cfg: FormatCollapseConfig, ctx: StudyContext) -> Verdict:
    """Pretrain the bases, run RL, sample every model, decide."""
    check(cfg)
    bases, runs = parts.train(cfg, ctx)
    ctx.progress("sampling every model on the held-out problems")
    measured = parts.measure(cfg, bases, runs, ctx.progress)
    first_pass, base_share = effect_parts.collapse_effects(cfg, measured, MIN_BASE_ACCURACY)
    final = effect_parts.final_effect(cfg, measured)
    gap, between = effect_parts.scale_effects(cfg, measured)
    by_accuracy, by_frequency = effect_parts.predictor_effects(cfg, measured)
    kl = effect_parts.kl_effect(cfg, measured)
    enough = len(cfg.seeds) * len(cfg.scales) * len(cfg.mixtures) >= MIN_RUNS
    overall, decided = decide(
        first_pass,
        base_share,
        final,
        gap,
        between,
        by_accuracy if enough else None,
        kl,
        cfg.coverage,
    )
    found = (first_pass, base_share, final, gap, between, by_accuracy, by_frequency, kl)
    effects = [e for e in found if e is not None] + effect_parts.base_accuracy(cfg, measured)
    save(cfg, ctx, measured, runs, effects)
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
        full_design=ctx.scale != "smoke" and not skipped(cfg),
        notes=notes(ctx.scale, cfg, measured),
        follow_up="Does the winner track the format a model of this size computes best "
        "(short code with no intermediate values vs written-out steps), and does the scale "
        "that flips it move with pretraining length rather than with parameters?",
    )


def check(cfg: FormatCollapseConfig) -> None:
    """BadInput for a design this study cannot run (before anything is trained)."""
    if len(cfg.scales) != 2 or cfg.kl_coefs[:1] != (0.0,):
        raise BadInput("format-collapse needs two scales and kl_coefs starting with 0.0")
    if cfg.pass_prompts % cfg.prompts_per_step or cfg.pass_steps < 1:
        raise BadInput("pass_prompts must be a positive multiple of prompts_per_step")


def save(cfg, ctx: StudyContext, measured, runs: dict, effects: list[Effect]) -> None:
    """Tables and figures of the study folder."""
    bases = table_parts.base_table(cfg, measured)
    summary = table_parts.runs_table(cfg, measured, runs, COLLAPSE_SHARE)
    rollouts = table_parts.rollout_table(runs)
    ctx.save_table("bases", bases)
    ctx.save_table("runs", summary)
    ctx.save_table("held_out_formats", table_parts.eval_table(measured))
    ctx.save_table("rollouts", rollouts)
    ctx.save_table("effects", table_parts.effects_table(effects))
    ctx.save_figure(
        "format_shares",
        figure_parts.plot_shares(cfg, rollouts, COLLAPSE_SHARE),
        "Share of RL rollouts in each format per step (line: mean over seeds; band: "
        "95% binomial interval, KL 0; dash-dot line: end of the first pass).",
    )
    ctx.save_figure(
        "format_accuracy",
        figure_parts.plot_accuracy(cfg, rollouts),
        "Accuracy of RL rollouts within each format per step at KL 0 (band: 95% "
        "binomial interval), and over all formats (black).",
    )
    ctx.save_figure(
        "pre_rl",
        figure_parts.plot_pre_rl(cfg, bases, summary),
        "Before RL: each format's pretraining weight, share of the base's samples "
        "and forced-format accuracy (95% intervals over problems); title: KL-0 winners.",
    )
    ctx.save_figure(
        "effects",
        figure_parts.plot_effects(effects, COLLAPSE_SHARE, SCALE_MARGIN),
        "Every effect with its 95% bootstrap interval over runs and problems.",
    )


def skipped(cfg: FormatCollapseConfig) -> list[str]:
    """The parts of the full design this config leaves out."""
    gaps = []
    if cfg.coverage < 1:
        gaps.append(f"RL runs cover {cfg.coverage:.0%} of the first pass")
    if len(cfg.seeds) < 2:
        gaps.append("one seed (scale cannot be told from seed)")
    if len(cfg.mixtures) < 3:
        gaps.append("no swapped-proportion mixtures")
    if len(cfg.kl_coefs) < 2:
        gaps.append("no KL > 0 arm")
    if len(cfg.seeds) * len(cfg.scales) * len(cfg.mixtures) < MIN_RUNS:
        gaps.append(f"fewer than {MIN_RUNS} KL-0 runs (predictor not decided)")
    return gaps


def notes(scale: str, cfg: FormatCollapseConfig, measured) -> str:
    """What this scale leaves out of the design, and how competent the bases were."""
    accuracy = {c: b.free.correct.mean() for c, b in measured.bases.items()}
    weak = sorted({c.scale for c, a in accuracy.items() if a < MIN_BASE_ACCURACY})
    text = [f"{scale} scale: " + "; ".join(skipped(cfg)) if skipped(cfg) else f"{scale} scale"]
    text.append(
        "pre-RL accuracy by base: "
        + ", ".join(f"{c.scale}/{c.mixture}/{c.seed} {a:.2f}" for c, a in accuracy.items())
    )
    if weak:
        text.append(
            f"bases of {', '.join(weak)} solve < {MIN_BASE_ACCURACY:g}: their runs are "
            "reported but not counted for collapse"
        )
    if scale == "smoke":
        text.append("smoke checks the pipeline only; its organisms are barely trained")
    return ". ".join(text) + "."


STUDY = Study(
    name="format-collapse",
    number="6",
    claim=CLAIM,
    source="Zhao, Meterez, Kakade, Pehlevan, Jelassi & Malach 2025, Echo Chamber: RL "
    "Post-training Amplifies Behaviors Learned in Pretraining, arXiv 2504.07912",
    correction="The winner is usually, not always, the best-performing pre-RL format, and not "
    "necessarily the most frequent one; it depends on scale. The study measures which of "
    "frequency and per-format accuracy predicts it.",
    setup="Two organism sizes are pretrained on arithmetic word problems whose solutions come "
    "in three formats (equal and swapped proportions), then trained with GRPO (KL 0 and > 0); "
    "format shares and per-format accuracy are tracked over RL steps and on held-out problems.",
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
