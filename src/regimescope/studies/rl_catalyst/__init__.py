"""Study 2: RL as catalyst. RL with a verifiable reward surfaces what pretraining already holds.

**Claim.** RL with verifiable rewards reweights the base model's own samples: it
raises pass@1, but at large k the base overtakes the RL model (there is a crossover
k*), and RL solves almost no problem the base never solves in n samples.

**Primary source.** Yue et al. 2025, "Does Reinforcement Learning Really Incentivize
Reasoning Capacity in LLMs Beyond the Base Model?", arXiv 2504.13837 (NeurIPS 2025).
Qwen2.5-7B base on Omni-MATH test: pass@1 / pass@256 = 10.2 / 69.1; after GRPO for
150 -> 450 steps: 25.1 / 68.3 -> 28.3 / 63.9. So pass@1 rises and pass@256 falls as RL
goes on. On AIME24 at the largest k, the RL solved set is a strict subset of the base
set. Notes: ``shared/research/findings-1-5.md``, findings 2 and 4.

**Corrections.** (1) The paper's text gives the sampling-efficiency gap as "GRPO 43.9 ...
RLOO 42.6". Its own Table 2 gives 44.0 and 41.0, so every number here is recomputed from
raw counts. (2) Whether RL can *create* depends on the base's competence (finding 4:
ProRL, arXiv 2505.24864; Yuan et al., 2509.25123). Yue et al. claim reweighting for a
base that already holds the task. So this study builds such a base on purpose (the
*latent* base of ``studies.base_organisms``: low pass@1, high pass@n) and checks it as a
premise. It reports the creation rate against a null (a second draw of the base), with
the loss rate and net coverage beside it, and the gap Delta SE = pass@n(base) -
pass@1(RL).

**Design.** For each seed:

- pretrain a micro (quick) or small (full) organism on countdown (``cfg.base``);
- run GRPO on the train split (8 rollouts per prompt, temperature 1, no KL; ``cfg.rl``),
  saving a checkpoint every ``rl.checkpoint_every`` steps and logging the rollout
  reward of every step;
- draw n samples for each of P held-out test problems (countdown's test split; no key
  of it occurs in pretraining or RL; ``cfg.eval``), from the base and from every
  checkpoint, with the same sampling seed, and from the base once more with another
  sampling seed (the reference draw: creation is counted on the problems it leaves
  unsolved, and RL's creation is set against the base's own);
- verify them; compute unbiased pass@k, the crossover k*, coverage sets, creation and
  loss rates against the null, accuracy histograms, and the perplexity of each model's
  samples under the base.

The decision compares the final checkpoint with its base. Intervals come from the crossed
bootstrap over seeds and problems (every seed sees the same problems).

**Departures from the paper.**

- The task is synthetic. The reward checks the plan (it must reach the target with the
  given numbers) and the answer, but not the written arithmetic lines. So a lucky
  answer with a wrong plan cannot score, and the paper's CoT validity check is not
  needed for plans.
- Evaluation runs at the rollout temperature 1.0 with top-p 1. The paper uses 0.6 and
  top-p 0.95 for evaluation.
- Prompt batch: 16 prompts per step, not 128.
- Seeds: 1 (quick) or 3 (full), not pooled vLLM seeds.
- Problems: countdown's test split holds 140 distinct problems, so full scale scores all
  of them, not 200; quick scores 100 with n = 64, below the design's 256.

**Scales.** Smoke takes seconds and runs in the test suite: an untrained nano organism,
so it checks the mechanics only. Quick: one seed, micro base, GRPO 150 steps, n = 64 on
100 problems (about 3 minutes on 2 cores). Full: 3 seeds, small base, GRPO 400 steps,
n = 256 on 140 problems (about an hour from an empty store). The learning rate, the
pilots and the measured costs are in ``NOTES.md``, with the history of the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from regimescope.instruments.passk_run import PassKConfig
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig
from regimescope.sampler import SamplingConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base
from regimescope.studies.premises import reward_rise, rl_premises
from regimescope.studies.rl_catalyst import analysis, experiment, outputs
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
    "RL with a verifiable reward raises pass@1, but the base overtakes it at large k and "
    "RL solves almost nothing the base never solves: RL surfaces what pretraining holds."
)
SOURCE = "Yue et al. 2025, arXiv 2504.13837 (NeurIPS 2025)"
CORRECTION = (
    "The paper's sampling-efficiency gaps (GRPO 43.9, RLOO 42.6) disagree with its own "
    "Table 2 (44.0, 41.0), so gaps are recomputed from raw counts. Whether RL creates "
    "depends on the base's competence (ProRL 2505.24864, Yuan et al. 2509.25123). The "
    "claim is tested on a base that holds the task latently, and the creation rate is "
    "reported against a second draw of the base, with the loss rate beside it."
)
SETUP = (
    "A countdown organism is pretrained until the task is latent (low pass@1, high "
    "pass@n), then trained with GRPO. The base (twice, with two sampling seeds) and the RL "
    "checkpoints are sampled n times on held-out problems, giving pass@k curves, crossover "
    "k*, creation and loss against the null, accuracy histograms and the perplexity of the "
    "samples under the base."
)

# Pre-registered thresholds (fixed before any result; changes in NOTES.md, Rule history).
PASS1_MIN_GAIN = 0.02  # RL raises pass@1: the interval of the gain lies above 2 points
OVERTAKE_MARGIN = 0.0  # base overtakes: the interval of base - RL at k = n lies above 0
NEW_MAX = 0.05  # "almost nothing new": the RL-only share beyond noise lies below 5 points
LATENT_MAX_PASS1 = 0.5  # premise: the base's pooled pass@1 is at most this ...
LATENT_MIN_PASSN = 0.5  # ... and its pooled pass@n at least this; else nothing is latent
PARTS = 3  # parts of the verdict: each contradicting branch is judged at 1 - 0.05/3
LATENT = "the base holds the task latently"

RULE = (
    "Final RL checkpoint against its base, on held-out problems, with 95% intervals from "
    "the crossed bootstrap over seeds and problems; a part contradicts only on its "
    f"{1 - 0.05 / PARTS:.4g} interval (Bonferroni over the {PARTS} parts). "
    f"(1) pass@1 gain RL - base: supports if the interval lies above {PASS1_MIN_GAIN}; "
    "contradicts if it lies below 0; otherwise inconclusive. "
    "(2) base - RL pass@k at the largest k (k = n; the share of problems with a correct "
    f"sample): supports if the interval lies above {OVERTAKE_MARGIN} (the base overtakes); "
    f"contradicts if it lies below {OVERTAKE_MARGIN} (RL stays above); otherwise "
    "inconclusive. "
    "(3) RL-only excess: the share of problems that RL solves and a reference draw of the "
    "base (another sampling seed) never solves, minus the same share for the base's own "
    f"draw (the noise): supports if the interval lies below {NEW_MAX}; contradicts if it "
    f"lies at or above {NEW_MAX}; otherwise inconclusive. "
    "Overall: all three support -> supports; any contradicts -> contradicts; otherwise "
    "inconclusive. Premises (gates: a failed premise makes every part inconclusive, never "
    "contradicts): the training reward rose (last tenth of the GRPO steps minus the first "
    "tenth, interval above 0); held-out pass@1 is not below the base's (the gain's "
    "interval is not wholly below 0; so part 1 cannot contradict once its premise holds); "
    f"the base is latent (pooled pass@1 at most {LATENT_MAX_PASS1} and pass@n at least "
    f"{LATENT_MIN_PASSN})."
)


def grpo() -> RLConfig:
    """The quick GRPO run; ``model`` and ``seed`` are filled per seed."""
    return RLConfig(
        curriculum=CurriculumConfig(tasks=("countdown",)),
        objective="grpo",
        steps=150,
        prompts_per_step=16,
        samples_per_prompt=8,  # the paper's 8 rollouts per prompt
        temperature=1.0,
        max_new_tokens=48,  # a gold countdown completion is ~35 tokens
        lr=1e-4,  # constant; 3e-4 and above wreck a micro base (NOTES.md)
        checkpoint_every=50,  # every checkpoint is evaluated
        recorder=RecorderConfig(  # every step's reward (the premise), entropy and KL
            every=1, changed=False, update_ratio=False, weight_norms=False
        ),
    )


def held_out() -> PassKConfig:
    """The quick evaluation; the sampling seed is filled per seed (and seed + 1)."""
    return PassKConfig(
        split="test",  # held-out problem keys
        problems=100,
        sampling=SamplingConfig(n=64, temperature=1.0, max_new_tokens=48),
        bootstrap=2000,  # per-seed intervals over problems (the pass@k table)
        ppl_samples=16,  # samples per problem scored for perplexity under the base
    )


@dataclass(frozen=True)
class RLCatalystConfig:
    seeds: tuple[int, ...] = (0,)  # training seeds: one latent base and one GRPO run each
    base: PretrainConfig = field(default_factory=lambda: latent_base("quick"))  # the latent
    # base's recipe (``base_organisms.latent_base``); ``seed`` is filled per seed
    rl: RLConfig = field(default_factory=grpo)  # the GRPO run; its task is the study's task
    eval: PassKConfig = field(default_factory=held_out)  # pass@k on held-out problems
    bootstrap: int = 2000  # crossed bootstrap resamples of every interval of the verdict


def smoke() -> RLCatalystConfig:
    """Seconds: an untrained nano base, 2 GRPO steps, 4 problems x 4 samples (mechanics only)."""
    q = quick()
    return replace(
        q,
        base=latent_base("smoke"),
        rl=replace(
            q.rl,
            steps=2,
            checkpoint_every=1,
            prompts_per_step=2,
            samples_per_prompt=2,
            max_new_tokens=24,
        ),
        eval=replace(
            q.eval,
            problems=4,
            sampling=replace(q.eval.sampling, n=4, max_new_tokens=24),
            bootstrap=100,
            ppl_samples=2,
        ),
        bootstrap=100,
    )


def quick() -> RLCatalystConfig:
    """About 3 minutes on 2 cores: one seed, micro base, GRPO 150 steps, n = 64 on 100
    problems."""
    return RLCatalystConfig()


def full() -> RLCatalystConfig:
    """The design: 3 seeds, small base, GRPO 400 steps, n = 256 (the paper's) on all 140
    distinct test problems (the 200 of v1 were 98 distinct ones; cost in NOTES.md)."""
    q = quick()
    return replace(
        q,
        seeds=(0, 1, 2),
        base=latent_base("full"),
        rl=replace(q.rl, steps=400, checkpoint_every=100),
        eval=replace(q.eval, problems=140, sampling=replace(q.eval.sampling, n=256)),
    )


def latent_premise(base_pass1: float, base_passn: float) -> Premise:
    """The base holds the task latently: low pooled pass@1, high pooled pass@n."""
    holds = base_pass1 <= LATENT_MAX_PASS1 and base_passn >= LATENT_MIN_PASSN
    return Premise(
        holds,
        f"base pass@1 {base_pass1:.3f} (need <= {LATENT_MAX_PASS1}), pass@n {base_passn:.3f} "
        f"(need >= {LATENT_MIN_PASSN})",
    )


def premises(rise: Effect, pass1_gain: Effect, base_pass1: float, base_passn: float):
    """Every gate of the verdict: the shared RL premises and the latent base."""
    return {**rl_premises(rise, pass1_gain), LATENT: latent_premise(base_pass1, base_passn)}


def decide_nothing_new(excess: Effect) -> Decision:
    """Part 3: one-sided, since RL solving *fewer* of the hard problems than the base's own
    draw (a negative excess) is what the claim expects, not evidence against it."""
    if excess.ci95[1] < NEW_MAX:
        return Decision("supports", f"{excess.name} {fmt(excess)} lies below {NEW_MAX:g}")
    if excess.contradict_interval[0] >= NEW_MAX:
        reason = f"{excess.name} {fmt(excess, wide=True)} lies at or above {NEW_MAX:g}"
        return Decision("contradicts", reason, excess.family)
    return Decision("inconclusive", f"{excess.name} {fmt(excess)} straddles {NEW_MAX:g}")


def decide(
    pass1_gain: Effect, large_k_gap: Effect, only_excess: Effect, gates: dict[str, Premise]
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``): (overall decision, each part after the gates).
    Every part rests on every premise; effects are built with ``family=PARTS``."""
    parts = {
        "RL raises pass@1": interval_rule(pass1_gain, PASS1_MIN_GAIN, 0.0),
        "base overtakes at large k": interval_rule(large_k_gap, OVERTAKE_MARGIN, OVERTAKE_MARGIN),
        "RL solves almost nothing new": decide_nothing_new(only_excess),
    }
    return decide_parts(parts, gates)


def run(cfg: RLCatalystConfig, ctx: StudyContext) -> Verdict:
    """Train, measure, tabulate, plot and decide (see the module docstring)."""
    runs = [experiment.run_seed(cfg, seed, ctx.store, ctx.progress) for seed in cfg.seeds]
    counts = experiment.pooled_counts(runs)  # (S, M, P)
    reference = experiment.reference_counts(runs)  # (S, P)
    n = cfg.eval.sampling.n
    ctx.progress("bootstrap, tables and figures")
    found = analysis.effects(counts, reference, n, cfg.bootstrap, PARTS)
    found["reward_rise"] = reward_rise(experiment.training_rewards(runs), cfg.bootstrap)
    gates = premises(
        found["reward_rise"],
        found["pass1_gain"],
        found["base_pass1"].estimate,
        found["base_passn"].estimate,
    )
    decision, parts = decide(found["pass1_gain"], found["large_k_gap"], found["only_excess"], gates)
    outputs.save(ctx, runs, counts, reference, found, cfg.eval.problems, cfg.bootstrap)
    ppl = outputs.median_ppl(runs)  # (base samples, final RL samples), under the base
    drift = outputs.class_drift(outputs.class_perplexity_table(runs))  # class -> ratio
    failed = [name for name, premise in gates.items() if not premise.holds]
    gated = f" (premises failed: {', '.join(failed)})" if failed else ""
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=decision.verdict,
        reason=f"{decision.reason}{gated}. {summary(found, n, ppl)}",
        rule=RULE,
        effects=list(found.values()),
        parts=parts,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes="smoke scale: an untrained nano base, checks the mechanics only"
        if ctx.scale == "smoke"
        else "",
        follow_up=follow_up(parts, found, ppl, drift),
        premises=gates,
    )


def summary(found: dict[str, Effect], n: int, ppl: tuple[float, float]) -> str:
    """The headline numbers in one sentence."""
    k_star = found["crossover"].estimate
    crossed = f"k* = {k_star:g}" if k_star <= n else f"no crossover up to k = {n}"
    return (
        f"pass@1 {found['base_pass1'].estimate:.3f} -> {found['rl_pass1'].estimate:.3f}, "
        f"pass@{n} {found['base_passn'].estimate:.3f} -> {found['rl_passn'].estimate:.3f}, "
        f"{crossed}; creation rate {found['creation'].estimate:.3f} against the base's own "
        f"{found['creation_null'].estimate:.3f} (excess {found['creation_excess'].estimate:.3f}"
        f"), loss rate {found['loss'].estimate:.3f} against {found['loss_null'].estimate:.3f}, "
        f"net coverage {found['net_coverage'].estimate:+.3f}; median perplexity under the "
        f"base of base samples {ppl[0]:.2f}, of final RL samples {ppl[1]:.2f}"
    )


def follow_up(
    parts: dict[str, Decision],
    found: dict[str, Effect],
    ppl: tuple[float, float],
    drift: dict[str, float],
) -> str:
    """The question the outcome opens; ``drift``: token class -> final/base PPL ratio."""
    if parts["RL solves almost nothing new"].verdict == "contradicts":  # decided on the excess
        excess = found["only_excess"]
        return (
            f"RL created coverage here beyond sampling noise (RL-only excess {fmt(excess)}). "
            "Does the creation follow the base's competence per problem family, as finding "
            "4 predicts?"
        )
    if ppl[1] > ppl[0]:
        return (
            f"The RL samples are less typical under the base than the base's own (median "
            f"perplexity {ppl[1]:.2f} vs {ppl[0]:.2f}), against Yue et al.'s low-perplexity "
            f"finding. {outputs.drift_text(drift)}"
        )
    if parts["base overtakes at large k"].verdict == "supports":
        return (
            "Does k* move left as RL continues, and does a KL penalty or "
            "negative-sample training (NSR, Study 3b) keep pass@n at the base's level?"
        )
    return (
        "Would more seeds, more samples (n = 256) or a longer RL run separate the base and "
        "RL at large k, or is the sharpening too weak at this scale?"
    )


STUDY = Study(
    name="rl-catalyst",
    number="2",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
