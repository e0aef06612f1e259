"""Study 3b: do negative samples carry RL's gain (PSR vs NSR vs W-REINFORCE vs GRPO)?

**Claim** (Zhu, Xia, Wei, Chen, Chen & Meng 2025, arXiv 2506.01347, "The Surprising
Effectiveness of Negative Reinforcement in LLM Reasoning"): the RLVR objective splits into
positive-sample reinforcement (PSR: raise the likelihood of correct samples) and
negative-sample reinforcement (NSR: lower that of wrong ones). NSR alone gives nearly all
of the pass@1 gain of full RL (MATH, Qwen2.5-Math-7B: base 63.2, GRPO 76.3, NSR 75.7) while
keeping pass@k at the largest k (pass@256: base 96.9, NSR 96.9), because it redistributes
probability in proportion to the model's prior; PSR sharpens the distribution, collapses
entropy and falls below the base at large k (91.2; below the base for k > 8).
W-REINFORCE (+λ on correct samples, −1 on wrong, λ = 0.1) keeps both.

**Correction.** None to the claim itself; the authors note that NSR degrades after
hundreds of steps (W-REINFORCE does not), so the run length is part of the result.

**Design.** One latent countdown base (``base_organisms.latent_base``, seed 0: low pass@1, solved
somewhere in many samples), then GRPO, PSR, NSR and W-REINFORCE (λ = 0.1), all with no KL,
no entropy bonus and the same learning rate (tuned once for GRPO on this base), for each
seed. Every model, base included, draws n samples per held-out problem with the same
sampling seed; from the counts come unbiased pass@k for k = 1 .. n, the fully-solved
ratio (all n samples correct), and paired differences per (seed, problem) with a
hierarchical bootstrap over seeds and problems. The recorder logs the rollout entropy at
every step. The decision reads pass@1 and pass@n.

**Departures.** Zhu et al. train Qwen models on MATH with 1,024 prompts × 8 rollouts per
step, four mini-batch updates, lr 1e-6, and evaluate with n = 256 at T = 0.6; here a
~200k-parameter organism trains on countdown with 8 × 8 rollouts, one update per batch,
and evaluates at T = 1 with n = 64 (256 at full scale). Their entropy is measured on the
test set; here it is the entropy of the rollout policy on training prompts (the
recorder's figure), and the fully-solved ratio is the share of held-out problems with all
n samples correct, not of training batches. REINFORCE (λ = 1) and PPO are not run. The
learning rate was tuned once, for GRPO only, on the quick base and the same held-out
problems (60 steps): 3e-5 raised pass@1 most, 1e-4 less, 3e-4 collapsed the policy.
Full scale keeps 3e-5 untuned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regimescope.regimes.pretrain import PretrainConfig
from regimescope.studies import rl_objectives_parts as parts
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base
from regimescope.studies.verdict import Decision, Effect, Verdict, combine, fmt, interval_rule

CLAIM = (
    "Negative-sample reinforcement alone (NSR) carries RL's pass@1 gain (at least half of "
    "GRPO's) while keeping pass@k at the largest k, whereas positive-sample reinforcement "
    "(PSR) falls below the base at the largest k"
)

# ---------------------------------------------------------------- pre-registered thresholds

CARRY_SHARE = 0.5  # "carries the gain": NSR's pass@1 gain exceeds this share of GRPO's
PASSK_MARGIN = 0.05  # pass@n within this of the base counts as "kept"; a drop beyond it does not

CARRY = "NSR carries the pass@1 gain"  # the decided parts
KEEPS = "NSR keeps pass@k at the largest k"
FALLS = "PSR falls below the base at the largest k"

RULE = (
    f"Gate: GRPO's pass@1 gain over the base must have its 95% interval above 0, else there "
    f"is no gain to carry and {CARRY!r} is inconclusive. {CARRY}: the per-problem effect "
    f"(NSR − base) − {CARRY_SHARE}·(GRPO − base) at pass@1, interval above 0 -> supports, "
    f"below 0 -> contradicts. {KEEPS}: NSR − base at pass@n (n = samples per problem), "
    f"interval above −{PASSK_MARGIN} -> supports, below −{PASSK_MARGIN} -> contradicts. "
    f"{FALLS}: PSR − base at pass@n, interval below 0 -> supports; otherwise interval above "
    f"−{PASSK_MARGIN} -> contradicts; otherwise inconclusive. Both pass@n parts are "
    f"inconclusive when the base's pass@n has its interval at or below {PASSK_MARGIN} (no room "
    f"to fall). The verdict combines the three "
    f"(any contradicts -> contradicts; all support -> supports). Intervals: hierarchical "
    f"bootstrap over seeds, then problems, of paired differences (same problems, same "
    f"sampling seed). Entropy, fully-solved ratios and W-REINFORCE are reported, not decided."
)


@dataclass(frozen=True)
class RLObjectivesConfig:
    seeds: tuple[int, ...] = (0, 1)  # RL seeds (prompt order, rollouts); the base is seed 0
    base: PretrainConfig = field(default_factory=lambda: latent_base("quick"))  # shared base
    steps: int = 60  # RL steps of every objective
    lr: float = 3e-5  # learning rate of every objective (tuned once, for GRPO, on this base)
    prompts_per_step: int = 8  # prompts per step (P)
    samples_per_prompt: int = 8  # rollouts per prompt (n of the group)
    max_new_tokens: int = 48  # token budget of rollouts and evaluation samples
    lam: float = 0.1  # W-REINFORCE: advantage of a correct sample (a wrong one gets −1)
    eval_problems: int = 48  # held-out (test) problems for pass@k
    eval_samples: int = 64  # samples per problem: pass@k for k up to this
    eval_temperature: float = 1.0  # sampling temperature of the evaluation
    bootstrap: int = 2000  # bootstrap resamples per interval


def smoke() -> RLObjectivesConfig:
    """Seconds: nano base, a few steps, few problems (checks the pipeline, not the claim)."""
    return RLObjectivesConfig(
        base=latent_base("smoke"),
        steps=3,
        prompts_per_step=4,
        samples_per_prompt=4,
        max_new_tokens=24,
        eval_problems=6,
        eval_samples=8,
        bootstrap=200,
    )


def quick() -> RLObjectivesConfig:
    """A few minutes on 2 cores: micro base, 60 steps, two seeds, 48 problems × 64 samples."""
    return RLObjectivesConfig()


def full() -> RLObjectivesConfig:
    """Small base, 300 steps (long enough for NSR's late degradation to show), three seeds,
    200 problems × 256 samples. Measured on one thread (OMP_NUM_THREADS=1), another study
    on the other core: 4.5 min per RL run (12 runs, 54 min) and 18 min sampling 13 models
    (666k samples); about 80 min from an empty store."""
    return RLObjectivesConfig(
        seeds=(0, 1, 2),
        base=latent_base("full"),
        steps=300,
        prompts_per_step=16,
        eval_problems=200,
        eval_samples=256,
    )


# ---------------------------------------------------------------- the decision rule


def carry_rule(grpo_gain: Effect, carry: Effect) -> Decision:
    """NSR's pass@1 gain against ``CARRY_SHARE`` of GRPO's, gated on GRPO gaining at all."""
    if grpo_gain.ci95[0] <= 0:
        return Decision("inconclusive", f"no GRPO gain to carry: {grpo_gain.name} {fmt(grpo_gain)}")
    return interval_rule(carry, support_above=0.0, contradict_below=0.0)


def falls_rule(psr: Effect) -> Decision:
    """PSR − base at pass@n: significantly below 0 supports; no drop beyond the margin
    contradicts (checked second, so a small but clear drop still supports)."""
    low, high = psr.ci95
    if high < 0:
        return Decision("supports", f"{psr.name} {fmt(psr)} lies below 0")
    if low > -PASSK_MARGIN:
        return Decision("contradicts", f"{psr.name} {fmt(psr)} drops less than {PASSK_MARGIN:g}")
    return Decision("inconclusive", f"{psr.name} {fmt(psr)} straddles [−{PASSK_MARGIN:g}, 0]")


def decide(
    grpo_gain: Effect, carry: Effect, base_passk: Effect, nsr_passk: Effect, psr_passk: Effect
) -> tuple[Decision, dict[str, Decision]]:
    """The overall decision and its parts from GRPO's pass@1 gain, NSR's gain minus
    ``CARRY_SHARE`` of GRPO's, the base's pass@n, and NSR's and PSR's pass@n minus the base's."""
    decided = {CARRY: carry_rule(grpo_gain, carry)}
    if base_passk.ci95[0] <= PASSK_MARGIN:  # a base that solves (almost) nothing cannot fall
        floor = Decision("inconclusive", f"no room below {base_passk.name} {fmt(base_passk)}")
        decided |= {KEEPS: floor, FALLS: floor}
    else:
        decided[KEEPS] = interval_rule(nsr_passk, -PASSK_MARGIN, -PASSK_MARGIN)
        decided[FALLS] = falls_rule(psr_passk)
    return combine(decided), decided


# ---------------------------------------------------------------- the experiment


def run(cfg: RLObjectivesConfig, ctx: StudyContext) -> Verdict:
    """Train every objective from the base, sample every model, decide."""
    base_dir, runs = parts.train_all(cfg, ctx)
    ctx.progress("sampling every model on the held-out problems")
    counts = parts.evaluate(base_dir, runs, cfg, ctx.progress)
    found = parts.effects(counts, runs, CARRY_SHARE, cfg.bootstrap)
    overall, decided = decide(
        found.grpo_gain, found.carry, found.base_passk, found.nsr_passk, found.psr_passk
    )
    curves = parts.curve_table(counts, cfg.bootstrap)
    training = parts.training_table(runs)
    ctx.save_table("counts", parts.counts_table(counts))
    ctx.save_table("passk", curves)
    ctx.save_table("training", training)
    ctx.save_table("effects", parts.effects_table(found.all))
    ctx.save_figure(
        "passk",
        parts.plot_passk(curves),
        "pass@k against k for the base and each objective (mean over seeds; bands: 95% "
        "bootstrap over seeds and problems), on held-out problems.",
    )
    ctx.save_figure(
        "training",
        parts.plot_training(training),
        "Rollout token entropy (nats) and rollout accuracy per RL step for each objective "
        "(line: mean over seeds; band: range over seeds; both smoothed over 5 steps).",
    )
    ctx.save_figure(
        "summary",
        parts.plot_summary(found),
        "pass@1, pass@n and fully-solved ratio of each objective minus the base, with 95% "
        "intervals over seeds and problems.",
    )
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason="; ".join(f"{name}: {d.verdict} ({d.reason})" for name, d in decided.items()),
        rule=RULE,
        effects=found.all,
        parts=decided,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        full_design=ctx.scale != "smoke",
        notes=parts.notes(ctx.scale, counts, runs, cfg),
        follow_up="Does NSR's advantage at large k survive longer runs, where Zhu et al. see "
        "it degrade, and does it hold on a base whose pass@1 is already high?",
    )


STUDY = Study(
    name="rl-objectives",
    number="3b",
    claim=CLAIM,
    source="Zhu, Xia, Wei, Chen, Chen & Meng 2025, The Surprising Effectiveness of Negative "
    "Reinforcement in LLM Reasoning, arXiv 2506.01347",
    correction="",
    setup="From one latent countdown base, GRPO, PSR, NSR and W-REINFORCE (λ = 0.1) train "
    "with one learning rate and no KL for several seeds; pass@k up to k = n on held-out "
    "problems, the fully-solved ratio and the rollout entropy over training compare them.",
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
