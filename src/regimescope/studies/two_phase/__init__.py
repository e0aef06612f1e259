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
misleading exploration signal. Plan diversity is measured over *valid* plans: the
entropy of the plan choice over all samples also falls when a model merely stops writing
wrong plans (ordinary sharpening), which is not a loss of strategies (NOTES.md, rule
history).

**Design.** One latent countdown base (``base_organisms.latent_base``: targets are a
``plan`` line, then ``exec`` step lines, labelled by construction), then three RL arms per
seed with one learning rate and no KL: GRPO, HICRA (α = 0.2, on the ground-truth plan
tokens) and GRPO with an entropy bonus. Each arm saves a checkpoint every
``rl.checkpoint_every`` steps; every checkpoint and the base draw n samples on the same
held-out problems with the same sampling seed, giving per problem: accuracy, plan
accuracy (the plan reaches the target), execution accuracy (the steps carry out the
plan), valid-plan coverage (distinct valid plans found among the n samples over the valid
plans the problem has), the valid samples' plan diversity (Gini-Simpson), the plan-choice
entropy over all n samples (the pre-v2 measure), and the execution-token entropy and
perplexity of the model's own samples. The phase boundary is the knot of a two-segment
linear fit of GRPO's execution-token entropy curve (``instruments.planning.hinge_fit``),
re-detected in every bootstrap resample; resamples draw seeds and one set of problem
columns shared by every seed and by the base (crossed). A strategic n-gram miner (the
real-model way to find planning tokens) runs on GRPO's final correct samples and is
scored against the true plan labels as precision and recall. The decision reads GRPO's
arc, gated on the RL premise (GRPO's training reward rose, its held-out accuracy rose);
HICRA and the entropy bonus are decided as secondary parts, each gated on the RL premise
of the two arms it compares.

**Departures.** The paper trains 3–8B models (Qwen2.5/3, Llama-3.1, VLMs) on maths for
hundreds of steps; here a ~200k-parameter organism trains on 3-number countdown for 40
steps (quick). Planning tokens are the task's ground-truth plan line, not mined Strategic
Grams, and plan diversity is over exact valid plans per problem, not over clustered
n-grams across a batch. The countdown reward checks the plan and the final answer but not
the step lines, so execution is rewarded only through the answer it produces. The n-gram
miner ranks 3–5-token n-grams by document frequency without semantic clustering (no
sentence embedder offline). The entropy-bonus coefficient (0.01, PPO's Atari value) is not
the paper's, which reports token-entropy regularisation only in passing. Response length
is not studied (length scaling is not expected at this size).

**Scales.** ``smoke`` checks the pipeline in seconds (nano base, 4 steps); ``quick`` is
micro base, 40 steps × 3 arms × 2 seeds, a checkpoint every 10 steps on 24 problems × 16
samples, about two minutes on 2 cores; ``full`` is small base, 300 steps × 3 arms × 3
seeds, a checkpoint every 20 steps on 100 problems × 32 samples, about 75 minutes.
Measured costs: NOTES.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from regimescope.errors import BadInput
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig
from regimescope.sampler import SamplingConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base
from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE, rl_premises
from regimescope.studies.two_phase import analysis, experiment, outputs
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
    "Under RL with a verifiable reward, execution-token entropy falls first and then "
    "plateaus, after which the diversity of valid plans rises; HICRA (α = 0.2) beats GRPO "
    "and an entropy bonus does not help"
)
SOURCE = (
    "Wang, Xu, Liu, Wu, Lin & Chen 2025, Emergent Hierarchical Reasoning in LLMs through "
    "Reinforcement Learning (HICRA), arXiv 2509.03646"
)
CORRECTION = (
    "The paper does not claim that planning-token entropy rises: execution-token entropy and "
    "perplexity fall first, then the semantic entropy over strategies (plan diversity) rises; "
    "aggregate token entropy falls and misleads. Plan diversity is read over valid plans, "
    "since entropy over all samples also falls when wrong plans vanish."
)
SETUP = (
    "From one latent countdown base whose targets are [plan][execution] by construction, "
    "GRPO, HICRA (α = 0.2) and GRPO + entropy bonus train for several seeds; each checkpoint "
    "is measured on held-out problems for execution-token entropy and perplexity, valid-plan "
    "coverage and diversity, plan and execution accuracy, and a strategic n-gram miner is "
    "scored against the true plan tokens."
)


# ---------------------------------------------------------------- the config and its scales


def rl_recipe() -> RLConfig:
    """Every arm's run at quick scale: one learning rate, no KL, a checkpoint (measured)
    every 10 steps, a metrics line (reward, entropy by token class) every step."""
    return RLConfig(
        steps=40,
        prompts_per_step=8,
        samples_per_prompt=8,
        max_new_tokens=48,
        lr=1e-4,  # the rate of every arm (NOTES.md: how it was chosen)
        alpha=0.2,  # HICRA's planning-token amplification (the paper's value)
        checkpoint_every=10,  # every checkpoint is measured (step 0 is the base)
        recorder=RecorderConfig(
            every=1, kl=False, formats=False, update_ratio=False, changed=False, weight_norms=False
        ),
    )


@dataclass(frozen=True)
class TwoPhaseConfig:
    seeds: tuple[int, ...] = (0, 1)  # RL seeds (prompt order, rollouts); the base is seed 0
    base: PretrainConfig = field(default_factory=lambda: latent_base("quick"))  # shared base
    # the template of every RL run; per run the objective, the entropy bonus, the start
    # model, the seed and the curriculum (the base's task) are filled in
    rl: RLConfig = field(default_factory=rl_recipe)
    entropy_coef: float = 0.01  # the control arm's token-entropy bonus weight
    # sampling of every measurement: n samples per problem and checkpoint, one seed
    eval: SamplingConfig = SamplingConfig(n=16, temperature=1.0, max_new_tokens=48, seed=0)
    problems: int = 24  # held-out (test) problems measured at every checkpoint
    ngram_sizes: tuple[int, int] = (3, 5)  # n-gram lengths the miner collects, in tokens
    top_fractions: tuple[float, ...] = (0.05, 0.1, 0.2, 0.5, 1.0)  # mined shares kept, scored
    proxy_fraction: float = 0.2  # the share whose precision and recall are reported as effects
    bootstrap: int = 2000  # crossed bootstrap resamples per effect
    band_bootstrap: int = 200  # crossed bootstrap resamples of the curve bands

    def __post_init__(self):
        if self.proxy_fraction not in self.top_fractions:
            raise BadInput(f"proxy_fraction must be one of top_fractions {self.top_fractions}")
        if self.rl.steps < 3 * self.rl.checkpoint_every:
            raise BadInput("need at least 3 checkpoints: rl.steps >= 3 * rl.checkpoint_every")


def quick() -> TwoPhaseConfig:
    """About two minutes on 2 cores: micro base, 40 steps × 3 arms × 2 seeds, a checkpoint
    every 10 steps measured on 24 problems × 16 samples."""
    return TwoPhaseConfig()


def smoke() -> TwoPhaseConfig:
    """Seconds: nano base, four steps, a handful of problems (checks the pipeline only)."""
    cfg = quick()
    return replace(
        cfg,
        seeds=(0,),
        base=latent_base("smoke"),
        rl=replace(
            cfg.rl,
            steps=4,
            prompts_per_step=4,
            samples_per_prompt=4,
            max_new_tokens=24,
            checkpoint_every=1,
        ),
        eval=replace(cfg.eval, n=4, max_new_tokens=24),
        problems=6,
        bootstrap=100,
        band_bootstrap=20,
    )


def full() -> TwoPhaseConfig:
    """Small base, 300 steps × 3 arms × 3 seeds, a checkpoint every 20 steps measured on
    100 problems × 32 samples (about 75 minutes; NOTES.md)."""
    cfg = quick()
    return replace(
        cfg,
        seeds=(0, 1, 2),
        base=latent_base("full"),
        rl=replace(cfg.rl, steps=300, prompts_per_step=16, checkpoint_every=20),
        eval=replace(cfg.eval, n=32),
        problems=100,
    )


# ---------------------------------------------------------------- pre-registered thresholds

HELP_MARGIN = 0.02  # an accuracy gain (fraction) below this does not count as "helps"
PLAN_MARGIN = 0.05  # a change in valid-plan coverage within ±this is no rise and no fall

EXEC_FIRST = "execution-token entropy falls first, then plateaus"  # the decided parts
PLAN_RISES = "plan diversity rises in phase 2"
HICRA_WINS = "HICRA beats GRPO (secondary)"
BONUS_IDLE = "the entropy bonus does not help (secondary)"
ARC_TESTS = 3  # contradicting tests of the verdict (2 in EXEC_FIRST, 1 in PLAN_RISES): its k

GRPO_GAINED = "GRPO raised held-out accuracy"  # premise beside the shared RL ones


def arm(key: str) -> tuple[str, str]:
    """The names of one arm's shared RL premises."""
    label = experiment.ARMS[key].label
    return f"{label}: {REWARD_ROSE}", f"{label}: {NOT_WORSE}"


RESTS_ON = {  # each part's premises: the RL premise of every arm it speaks about
    EXEC_FIRST: (GRPO_GAINED, *arm("grpo")),
    PLAN_RISES: (GRPO_GAINED, *arm("grpo")),
    HICRA_WINS: (*arm("grpo"), *arm("hicra")),
    BONUS_IDLE: (*arm("grpo"), *arm("entropy")),
}

RULE = (
    "Premises (gates: a part whose premise fails is inconclusive, never contradicts). For "
    "each arm: its training reward rose (last tenth of steps minus first tenth, 95% "
    "interval above 0) and its held-out accuracy at the last checkpoint is not below the "
    f"base's (the gain's interval is not wholly below 0). {GRPO_GAINED}: GRPO's gain has "
    f"its interval above 0. The arc parts rest on GRPO's premises and {GRPO_GAINED!r}; "
    f"{HICRA_WINS!r} on GRPO's and HICRA's; {BONUS_IDLE!r} on GRPO's and the bonus arm's. "
    f"{EXEC_FIRST!r}: on GRPO's execution-token entropy curve, the phase boundary is the "
    "knot of the best continuous two-segment linear fit; supports if the phase-1 slope and "
    "the slope difference (phase 1 − phase 2) both have 95% intervals below 0 (it falls, "
    "and faster before the boundary); contradicts if either has its family-wise interval "
    "above 0 (it rises in phase 1, or falls faster later); inconclusive otherwise. "
    f"{PLAN_RISES!r}: valid-plan coverage (distinct valid plans among the n samples of a "
    "problem over the valid plans it has, mean over problems) at the last checkpoint minus "
    f"at the boundary; 95% interval above +{PLAN_MARGIN} -> supports, family-wise interval "
    f"below −{PLAN_MARGIN} -> contradicts, otherwise inconclusive. The verdict combines "
    "these two: both support -> supports; any contradicts -> contradicts; otherwise "
    f"inconclusive. Family-wise intervals are (1 − 0.05/{ARC_TESTS}), Bonferroni over the "
    f"verdict's {ARC_TESTS} contradicting tests. Secondary parts, decided but not in the "
    f"verdict: {HICRA_WINS!r}: HICRA − GRPO accuracy averaged over the checkpoints (earlier "
    f"gains count), interval above 0 -> supports, below 0 -> contradicts. {BONUS_IDLE!r}: "
    f"entropy-bonus − GRPO on the same measure, interval below +{HELP_MARGIN} -> supports, "
    f"above +{HELP_MARGIN} -> contradicts. Intervals: bootstrap over seeds and held-out "
    "problems, crossed (one set of problem columns per resample, shared by every seed and "
    "the base), recomputing curves and the boundary in every resample. An effect that "
    "cannot be measured (no labelled tokens) makes its part inconclusive. The valid plans' "
    "Gini-Simpson diversity, the plan-choice entropy over all samples, the n-gram proxy's "
    "precision and recall, aggregate entropy and perplexity are reported, not decided."
)


# ---------------------------------------------------------------- the decision rule


def measurable(*effects: Effect) -> bool:
    return all(math.isfinite(x) for e in effects for x in (e.estimate, *e.ci95))


def premises(gains: dict[str, Effect], rises: dict[str, Effect]) -> dict[str, Premise]:
    """Every premise of ``RESTS_ON`` from each arm's held-out accuracy gain over the base
    and training-reward rise (arm -> Effect)."""
    grpo = gains["grpo"]
    held = {GRPO_GAINED: Premise(bool(grpo.ci95[0] > 0), f"{grpo.name} {fmt(grpo)}")}
    for key in experiment.ARMS:
        shared = rl_premises(rises[key], gains[key])
        rose, not_worse = arm(key)
        held |= {rose: shared[REWARD_ROSE], not_worse: shared[NOT_WORSE]}
    return held


def exec_first_rule(slope: Effect, slope_change: Effect) -> Decision:
    """Execution entropy falls in phase 1 and faster than in phase 2 (both 95% intervals
    below 0); either family-wise interval above 0 contradicts."""
    if not measurable(slope, slope_change):
        return Decision("inconclusive", "execution-token entropy could not be measured")
    both = f"{slope.name} {fmt(slope)}; {slope_change.name} {fmt(slope_change)}"
    if slope.ci95[1] < 0 and slope_change.ci95[1] < 0:
        return Decision("supports", f"falls, then flattens: {both}")
    if slope.contradict_interval[0] > 0 or slope_change.contradict_interval[0] > 0:
        wide = f"{fmt(slope, wide=True)}; {fmt(slope_change, wide=True)}"
        family = min(slope.family, slope_change.family)
        return Decision("contradicts", f"rises early or falls later: {wide}", family)
    return Decision("inconclusive", f"no clear early fall: {both}")


def plan_rule(plan_rise: Effect) -> Decision:
    """Valid-plan coverage over phase 2: a rise beyond +PLAN_MARGIN supports, a fall
    beyond −PLAN_MARGIN (family-wise interval) contradicts."""
    if not measurable(plan_rise):
        return Decision("inconclusive", "the phase boundary could not be found")
    return interval_rule(plan_rise, support_above=PLAN_MARGIN, contradict_below=-PLAN_MARGIN)


def bonus_rule(bonus: Effect) -> Decision:
    """Entropy bonus − GRPO: interval below +HELP_MARGIN supports "does not help"."""
    if bonus.ci95[1] < HELP_MARGIN:
        return Decision("supports", f"{bonus.name} {fmt(bonus)} lies below +{HELP_MARGIN:g}")
    if bonus.ci95[0] > HELP_MARGIN:
        return Decision("contradicts", f"{bonus.name} {fmt(bonus)} lies above +{HELP_MARGIN:g}")
    return Decision("inconclusive", f"{bonus.name} {fmt(bonus)} straddles +{HELP_MARGIN:g}")


def decide(
    slope: Effect,
    slope_change: Effect,
    plan_rise: Effect,
    hicra: Effect,
    bonus: Effect,
    held: dict[str, Premise],
) -> tuple[Decision, dict[str, Decision]]:
    """The overall decision (the arc: EXEC_FIRST and PLAN_RISES) and every gated part,
    from GRPO's phase-1 execution-entropy slope and slope difference, its phase-2 change
    in valid-plan coverage, HICRA's and the bonus's accuracy against GRPO, and the
    premises (``premises``)."""
    arc = {EXEC_FIRST: exec_first_rule(slope, slope_change), PLAN_RISES: plan_rule(plan_rise)}
    secondary = {HICRA_WINS: interval_rule(hicra, 0.0, 0.0), BONUS_IDLE: bonus_rule(bonus)}
    overall, arc = decide_parts(arc, held, RESTS_ON)
    return overall, arc | gate(secondary, held, RESTS_ON)


# ---------------------------------------------------------------- the experiment


def run(cfg: TwoPhaseConfig, ctx: StudyContext) -> Verdict:
    """Train the three arms, measure every checkpoint, find the phases, decide."""
    base, trained = experiment.train_all(cfg, ctx.store, ctx.progress)
    frame, docs = experiment.measure_all(base, trained, cfg, ctx.progress)
    ctx.progress("curves, phase boundary and intervals")
    arms = {key: analysis.arm_data(frame, key, cfg.seeds) for key in experiment.ARMS}
    rollouts = experiment.rollout_table(trained)
    proxy = pd.DataFrame(analysis.proxy_scores(docs, cfg.seeds, cfg.problems, cfg))
    found = analysis.effects(arms, rollouts, proxy.to_dict("records"), cfg, ARC_TESTS)
    held = premises(found.gains, found.rises)
    arc = found.arc
    overall, decided = decide(
        arc["slope_before"], arc["slope_change"], arc["plan_rise"], found.hicra, found.bonus, held
    )
    outputs.save(ctx, cfg, frame, arms, proxy, rollouts, found)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason="; ".join(f"{name}: {d.verdict} ({d.reason})" for name, d in decided.items()),
        rule=RULE,
        effects=[e for e in found.all if measurable(e)],
        parts=decided,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes=outputs.notes(ctx.scale, cfg, [e.name for e in found.all if not measurable(e)]),
        follow_up="Does the arc appear when the verifier also checks the step lines (so "
        "execution is rewarded directly) and runs are long enough for execution entropy to "
        "plateau, and does HICRA's edge over GRPO grow then?",
        premises=held,
    )


STUDY = Study(
    name="two-phase",
    number="5",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
