"""Study 5: does RL run in two phases, execution first, then planning?

**Claim** (Wang, Xu, Liu, Wu, Lin & Chen 2025, *Emergent Hierarchical Reasoning in LLMs
through Reinforcement Learning* (HICRA), arXiv 2509.03646, ICLR 2026): RL with a
verifiable reward improves reasoning in two phases. In phase 1 the token entropy and
perplexity of *execution* tokens drop sharply and then plateau (procedural skill
consolidates); in phase 2 the gains come from *planning*, and the diversity of plans
(semantic entropy over "strategic grams") rises with accuracy. HICRA, which amplifies the
advantage on planning tokens (A + α·|A| on them, α = 0.2), beats GRPO, and token-level
entropy regularisation does not help.

**Correction** (../shared/research/findings-1-5.md, finding 5). The claim is often quoted
as "planning-token entropy rises"; the paper says no such thing. What rises in phase 2 is
the diversity of plans (semantic entropy over strategies), while the execution tokens'
entropy falls first; the aggregate token entropy falls throughout and the paper calls it a
misleading exploration signal.

**Design.** One latent countdown base (``base_organisms.latent_base``: targets are a ``plan`` line,
then ``exec`` step lines, labelled by construction), then three RL arms per seed with one
learning rate and no KL: GRPO, HICRA (α = 0.2, on the ground-truth plan tokens) and GRPO
with an entropy bonus. Each arm saves a checkpoint every ``eval_every`` steps; every
checkpoint and the base draw n samples on the same held-out problems with the same
sampling seed, giving per problem: accuracy, plan accuracy (the plan reaches the target),
execution accuracy (the steps carry out the plan), plan-choice entropy over the n plans
(the ground-truth semantic entropy), and the execution-token entropy and perplexity of
the model's own samples. The phase boundary is the knot of a two-segment linear fit of
GRPO's execution-token entropy curve (``instruments.planning.hinge_fit``), re-detected in
every bootstrap resample. A strategic n-gram miner (the real-model way to find planning
tokens) runs on GRPO's final correct samples and is scored against the true plan labels
as precision and recall. The decision reads GRPO's arc; HICRA and the entropy bonus are
decided as secondary parts.

**Departures.** The paper trains 3–8B models (Qwen2.5/3, Llama-3.1, VLMs) on maths for
hundreds of steps; here a ~200k-parameter organism trains on 3-number countdown for 60
steps (quick). Planning tokens are the task's ground-truth plan line, not mined Strategic
Grams, and semantic entropy is over exact plans per problem, not over clustered n-grams
across a batch. The countdown reward checks the plan and the final answer but not the
step lines, so execution is rewarded only through the answer it produces. The n-gram miner
ranks 3–5-token n-grams by document frequency without semantic clustering (no sentence
embedder offline). The entropy-bonus coefficient (0.01, PPO's Atari value) is not the
paper's, which reports token-entropy regularisation only in passing. Response length is
not studied (length scaling is not expected at this size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from regimescope.errors import BadInput
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.studies import two_phase_curves as curve_parts
from regimescope.studies import two_phase_effects as effect_parts
from regimescope.studies import two_phase_figures as figure_parts
from regimescope.studies import two_phase_parts as parts
from regimescope.studies import two_phase_proxy as proxy_parts
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base
from regimescope.studies.verdict import Decision, Effect, Verdict, combine, fmt, interval_rule

CLAIM = (
    "Under RL with a verifiable reward, execution-token entropy falls first and then "
    "plateaus, after which the diversity of plans (plan-choice entropy) rises; HICRA "
    "(α = 0.2) beats GRPO and an entropy bonus does not help"
)

# ---------------------------------------------------------------- pre-registered thresholds

HELP_MARGIN = 0.02  # an accuracy gain (fraction) below this does not count as "helps"

EXEC_FIRST = "execution-token entropy falls first, then plateaus"  # the decided parts
PLAN_RISES = "plan diversity rises in phase 2"
HICRA_WINS = "HICRA beats GRPO (secondary)"
BONUS_IDLE = "the entropy bonus does not help (secondary)"

RULE = (
    "Gate: GRPO's accuracy gain (last checkpoint − base) must have its 95% interval above "
    f"0, else RL moved nothing and both arc parts are inconclusive. {EXEC_FIRST!r}: on GRPO's "
    "execution-token entropy curve, the phase boundary is the knot of the best continuous "
    "two-segment linear fit; supports if the phase-1 slope and the slope difference "
    "(phase 1 − phase 2) both have intervals below 0 (it falls, and faster before the "
    "boundary); contradicts if either has its interval above 0 (it rises in phase 1, or "
    f"falls faster later); inconclusive otherwise. {PLAN_RISES!r}: the plan-choice entropy at "
    "the last checkpoint minus at the boundary; interval above 0 -> supports, below 0 -> "
    "contradicts. The verdict combines these two (any contradicts -> contradicts; both "
    f"support -> supports). Secondary parts, decided but not in the verdict: {HICRA_WINS!r}: "
    "HICRA − GRPO accuracy averaged over the checkpoints (earlier gains count), interval "
    f"above 0 -> supports, below 0 -> contradicts. {BONUS_IDLE!r}: entropy-bonus − GRPO on "
    f"the same measure, interval below +{HELP_MARGIN} -> supports, above +{HELP_MARGIN} -> "
    "contradicts. Intervals: hierarchical bootstrap over seeds, then held-out problems, "
    "recomputing curves and the boundary in every resample. An effect that cannot be "
    "measured (no labelled tokens) makes its part inconclusive. The n-gram proxy's "
    "precision and recall, aggregate entropy and perplexity are reported, not decided."
)


@dataclass(frozen=True)
class TwoPhaseConfig:
    seeds: tuple[int, ...] = (0, 1)  # RL seeds (prompt order, rollouts); the base is seed 0
    base: PretrainConfig = field(default_factory=lambda: latent_base("quick"))  # shared base
    steps: int = 60  # RL steps of every arm
    lr: float = 1e-4  # learning rate of every arm (study 3b's GRPO rate on this base)
    prompts_per_step: int = 8  # prompts per RL step (P)
    samples_per_prompt: int = 8  # rollouts per prompt (the group)
    max_new_tokens: int = 48  # token budget of rollouts and evaluation samples
    alpha: float = 0.2  # HICRA's planning-token amplification (the paper's value)
    entropy_coef: float = 0.01  # the control arm's token-entropy bonus weight
    eval_every: int = 10  # checkpoint and measure every N RL steps (step 0 is the base)
    eval_problems: int = 32  # held-out problems measured at every checkpoint
    eval_samples: int = 16  # samples per problem and checkpoint (plan-choice entropy over these)
    eval_temperature: float = 1.0  # sampling temperature of the measurements
    ngram_sizes: tuple[int, int] = (3, 5)  # n-gram lengths the miner collects, in tokens
    top_fractions: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0)  # mined shares kept, scored
    proxy_fraction: float = 0.2  # the share whose precision and recall go into the verdict
    bootstrap: int = 2000  # bootstrap resamples per effect
    band_bootstrap: int = 200  # bootstrap resamples per point of the curve bands

    def __post_init__(self):
        if self.proxy_fraction not in self.top_fractions:
            raise BadInput(f"proxy_fraction must be one of top_fractions {self.top_fractions}")
        if self.steps < 3 * self.eval_every:
            raise BadInput("need at least 3 checkpoints: steps >= 3 * eval_every")


def smoke() -> TwoPhaseConfig:
    """Seconds: nano base, four steps, a handful of problems (checks the pipeline only)."""
    return TwoPhaseConfig(
        seeds=(0,),
        base=latent_base("smoke"),
        steps=4,
        prompts_per_step=4,
        samples_per_prompt=4,
        max_new_tokens=24,
        eval_every=1,
        eval_problems=6,
        eval_samples=4,
        bootstrap=100,
        band_bootstrap=20,
    )


def quick() -> TwoPhaseConfig:
    """About two minutes on 2 cores (measured: 121 s of CPU on one thread, 77 s of it RL):
    micro base, 60 steps × 3 arms × 2 seeds, a checkpoint every 10 steps measured on
    32 problems × 16 samples."""
    return TwoPhaseConfig()


def full() -> TwoPhaseConfig:
    """Small base, 300 steps × 3 arms × 3 seeds, a checkpoint every 20 steps measured on
    100 problems × 32 samples. Measured: 75 min on one thread (OMP_NUM_THREADS=1) with a
    second study running on the other core, of which RL ~43 min (4-6 min per arm) and
    measuring ~30 min (about 3.4 min per arm)."""
    return TwoPhaseConfig(
        seeds=(0, 1, 2),
        base=latent_base("full"),
        steps=300,
        prompts_per_step=16,
        eval_every=20,
        eval_problems=100,
        eval_samples=32,
    )


# ---------------------------------------------------------------- the decision rule


def measurable(*effects: Effect) -> bool:
    return all(math.isfinite(x) for e in effects for x in (e.estimate, *e.ci95))


def exec_first_rule(slope: Effect, slope_change: Effect) -> Decision:
    """Execution entropy falls in phase 1 and faster than in phase 2 (both intervals < 0)."""
    if not measurable(slope, slope_change):
        return Decision("inconclusive", "execution-token entropy could not be measured")
    both = f"{slope.name} {fmt(slope)}; {slope_change.name} {fmt(slope_change)}"
    if slope.ci95[1] < 0 and slope_change.ci95[1] < 0:
        return Decision("supports", f"falls, then flattens: {both}")
    if slope.ci95[0] > 0 or slope_change.ci95[0] > 0:
        return Decision("contradicts", f"rises early or falls later: {both}")
    return Decision("inconclusive", f"no clear early fall: {both}")


def bonus_rule(bonus: Effect) -> Decision:
    """Entropy bonus − GRPO: interval below +HELP_MARGIN supports "does not help"."""
    if bonus.ci95[1] < HELP_MARGIN:
        return Decision("supports", f"{bonus.name} {fmt(bonus)} lies below +{HELP_MARGIN:g}")
    if bonus.ci95[0] > HELP_MARGIN:
        return Decision("contradicts", f"{bonus.name} {fmt(bonus)} lies above +{HELP_MARGIN:g}")
    return Decision("inconclusive", f"{bonus.name} {fmt(bonus)} straddles +{HELP_MARGIN:g}")


def decide(
    gain: Effect,
    slope: Effect,
    slope_change: Effect,
    plan_rise: Effect,
    hicra: Effect,
    bonus: Effect,
) -> tuple[Decision, dict[str, Decision]]:
    """The overall decision (the arc: EXEC_FIRST and PLAN_RISES) and every part, from
    GRPO's accuracy gain, the phase-1 execution-entropy slope and slope difference, the
    phase-2 plan-entropy change, and HICRA's and the bonus's accuracy against GRPO."""
    if gain.ci95[0] <= 0:
        idle = Decision("inconclusive", f"RL did not raise accuracy: {gain.name} {fmt(gain)}")
        arc = {EXEC_FIRST: idle, PLAN_RISES: idle}
    elif not measurable(plan_rise):
        arc = {
            EXEC_FIRST: exec_first_rule(slope, slope_change),
            PLAN_RISES: Decision("inconclusive", "the phase boundary could not be found"),
        }
    else:
        arc = {
            EXEC_FIRST: exec_first_rule(slope, slope_change),
            PLAN_RISES: interval_rule(plan_rise, support_above=0.0, contradict_below=0.0),
        }
    secondary = {HICRA_WINS: interval_rule(hicra, 0.0, 0.0), BONUS_IDLE: bonus_rule(bonus)}
    return combine(arc), arc | secondary


# ---------------------------------------------------------------- the experiment


def run(cfg: TwoPhaseConfig, ctx: StudyContext) -> Verdict:
    """Train the three arms, measure every checkpoint, find the phases, decide."""
    base, trained = parts.train_all(cfg, ctx)
    frame, docs = parts.measure_all(base, trained, cfg, ctx)
    ctx.progress("curves, phase boundary and intervals")
    arms = {arm: curve_parts.arm_data(frame, arm, cfg.seeds) for arm in parts.ARMS}
    proxy = pd.DataFrame(proxy_parts.proxy_scores(docs, cfg.seeds, cfg.eval_problems, cfg))
    found = effect_parts.effects(arms, proxy.to_dict("records"), cfg)
    arc = found.arc
    overall, decided = decide(
        found.gain,
        arc["slope_before"],
        arc["slope_change"],
        arc["plan_rise"],
        found.hicra,
        found.bonus,
    )
    save_results(ctx, cfg, frame, arms, proxy, trained, found)
    kept = [e for e in found.all if measurable(e)]
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason="; ".join(f"{name}: {d.verdict} ({d.reason})" for name, d in decided.items()),
        rule=RULE,
        effects=kept,
        parts=decided,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        full_design=ctx.scale != "smoke",
        notes=notes(ctx.scale, cfg, [e.name for e in found.all if not measurable(e)]),
        follow_up="Does the arc appear when the verifier also checks the step lines (so "
        "execution is rewarded directly) and runs are long enough for execution entropy to "
        "plateau, and does HICRA's edge over GRPO grow then?",
    )


def save_results(ctx: StudyContext, cfg, frame, arms, proxy, trained, found) -> None:
    """Tables and figures of the study folder."""
    curves = curve_parts.curve_table(arms, cfg.band_bootstrap)
    rollouts = parts.rollout_table(trained)
    phases = [
        {"arm": arm, **row} for arm, data in arms.items() for row in curve_parts.phase_changes(data)
    ]
    effects = pd.DataFrame(
        [(e.name, e.estimate, *e.ci95, e.unit) for e in found.all],
        columns=["effect", "estimate", "low", "high", "unit"],
    )
    for name, table in (
        ("per_problem", frame),
        ("curves", curves),
        ("phases", pd.DataFrame(phases)),
        ("effects", effects),
        ("ngram_proxy", proxy),
        ("rollouts", rollouts),
    ):
        ctx.save_table(name, table)
    boundary = found.arc["boundary"]
    ctx.save_figure(
        "arc",
        figure_parts.plot_arc(curves, boundary if measurable(boundary) else None),
        "Accuracy, plan and execution accuracy, plan-choice entropy and token entropies of "
        "each arm's checkpoints on held-out problems over RL steps (bands: 95% bootstrap over "
        "seeds and problems; dashed line and grey span: GRPO's phase boundary and its interval).",
    )
    ctx.save_figure(
        "rollouts",
        figure_parts.plot_rollouts(rollouts),
        "Token entropy of the rollout policy on training prompts at every RL step, overall and "
        "on planning and execution tokens (line: mean over seeds; band: range over seeds).",
    )
    ctx.save_figure(
        "ngram_proxy",
        figure_parts.plot_proxy(proxy),
        "Precision and recall of strategic n-grams mined from GRPO's correct samples against "
        "the true plan tokens, by the share of mined n-grams kept (95% bootstrap intervals; "
        "dashed: the share of plan tokens, the precision of a random mask).",
    )


def notes(scale: str, cfg: TwoPhaseConfig, unmeasured: list[str]) -> str:
    """What this scale leaves out of the design, and which effects could not be measured."""
    lines = []
    if scale == "smoke":
        lines.append(
            f"Smoke scale: a {cfg.base.steps}-step nano base and {cfg.steps} RL "
            "steps per arm; it checks the pipeline, not the claim."
        )
    else:
        lines.append(
            f"{len(cfg.seeds)} seeds × {cfg.steps} RL steps per arm on a "
            f"{cfg.base.organism.width}-wide organism; the paper runs hundreds of "
            "steps on 3-8B models, so phase 2 may not be reached here."
        )
    lines.append("The countdown reward checks the plan and the answer, not the step lines.")
    if unmeasured:
        lines.append(
            "Not measurable at this scale (left out of the effects): " + "; ".join(unmeasured) + "."
        )
    return " ".join(lines)


STUDY = Study(
    name="two-phase",
    number="5",
    claim=CLAIM,
    source="Wang, Xu, Liu, Wu, Lin & Chen 2025, Emergent Hierarchical Reasoning in LLMs "
    "through Reinforcement Learning (HICRA), arXiv 2509.03646",
    correction="The paper does not claim that planning-token entropy rises: execution-token "
    "entropy and perplexity fall first, then the semantic entropy over strategies (plan "
    "diversity) rises; aggregate token entropy falls and misleads.",
    setup="From one latent countdown base whose targets are [plan][execution] by "
    "construction, GRPO, HICRA (α = 0.2) and GRPO + entropy bonus train for several seeds; "
    "each checkpoint is measured on held-out problems for execution-token entropy and "
    "perplexity, plan-choice entropy, plan and execution accuracy, and a strategic n-gram "
    "miner is scored against the true plan tokens.",
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
