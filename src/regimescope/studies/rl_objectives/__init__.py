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

**Design.** One latent countdown base (``base_organisms.latent_base``, seed 0: low pass@1,
solved somewhere in many samples), then GRPO, PSR, NSR and W-REINFORCE (λ = 0.1), all with
no KL, no entropy bonus and the same learning rate (``rl.lr``), for each seed. Every
model, base included, draws n samples per held-out problem with the same sampling seed;
from the counts come unbiased pass@k for k = 1 .. n, the fully-solved ratio (all n samples
correct), and paired differences per (seed, problem). Intervals resample seeds and
problems crossed (every seed is scored on the same problems, and the one base sample is
indexed by the same problem columns as the seeds). The recorder logs the rollout reward
and entropy at every step. The decision reads pass@1 and pass@n, each part gated on the
RL premise of the objectives it speaks about.

**Departures.** Zhu et al. train Qwen models on MATH with 1,024 prompts × 8 rollouts per
step, four mini-batch updates, lr 1e-6, and evaluate with n = 256 at T = 0.6; here a
~200k-parameter organism trains on countdown with 8 × 8 rollouts, one update per batch,
and evaluates at T = 1 with n = 64 (256 at full scale). Their entropy is measured on the
test set; here it is the entropy of the rollout policy on training prompts (the
recorder's figure), and the fully-solved ratio is the share of held-out problems with all
n samples correct, not of training batches. REINFORCE (λ = 1) and PPO are not run. The
learning rate is one for all objectives, chosen for GRPO on the quick base on countdown's
``validation`` split (1e-4; NOTES.md: the first choice, 3e-5, read the test problems).

**Scales.** ``smoke`` checks the pipeline in seconds (a nano base that earns no reward,
so every part is gated inconclusive); ``quick`` is micro base, 40 steps, 2 seeds, 48
problems × 64 samples, a few minutes on 2 cores; ``full`` is small base, 300 steps (long
enough for NSR's late degradation to show), 3 seeds, 140 problems × 256 samples, about
80 min. At both scales the GRPO runs are two-phase's (same configs: the store trains them
once). Costs and pilots: NOTES.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from regimescope.instruments.passk_run import PassKConfig
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig
from regimescope.sampler import SamplingConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base
from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE, rl_premises
from regimescope.studies.rl_objectives import analysis, experiment, outputs
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
    "Negative-sample reinforcement alone (NSR) carries RL's pass@1 gain (at least half of "
    "GRPO's) while keeping pass@k at the largest k, whereas positive-sample reinforcement "
    "(PSR) falls below the base at the largest k"
)
SOURCE = (
    "Zhu, Xia, Wei, Chen, Chen & Meng 2025, The Surprising Effectiveness of Negative "
    "Reinforcement in LLM Reasoning, arXiv 2506.01347"
)
CORRECTION = ""
SETUP = (
    "From one latent countdown base, GRPO, PSR, NSR and W-REINFORCE (λ = 0.1) train with one "
    "learning rate and no KL for several seeds; pass@k up to k = n on held-out problems, the "
    "fully-solved ratio and the rollout entropy over training compare them."
)


# ---------------------------------------------------------------- the config and its scales


def rl_recipe() -> RLConfig:
    """Every objective's run at quick scale: no KL, no entropy bonus, one learning rate,
    a metrics line (reward, entropy) every step. The GRPO run is two-phase's GRPO arm
    (same base, steps, rate, checkpoints and recorder), so the two studies share it."""
    return RLConfig(
        steps=40,
        prompts_per_step=8,
        samples_per_prompt=8,
        max_new_tokens=48,
        lr=1e-4,  # GRPO's best validation pass@1 on the quick base (pilot in NOTES.md)
        lam=0.1,  # W-REINFORCE: advantage of a correct sample (a wrong one gets −1)
        checkpoint_every=10,  # two-phase's: only the last model is measured here
        recorder=RecorderConfig(
            every=1, kl=False, formats=False, update_ratio=False, changed=False, weight_norms=False
        ),
    )


def eval_recipe() -> PassKConfig:
    """pass@k of every model at quick scale: 48 test problems × 64 samples, one sampling seed."""
    sampling = SamplingConfig(n=64, temperature=1.0, max_new_tokens=48, seed=0)
    return PassKConfig(split="test", problems=48, sampling=sampling, ppl_samples=0, bootstrap=100)


@dataclass(frozen=True)
class RLObjectivesConfig:
    seeds: tuple[int, ...] = (0, 1)  # RL seeds (prompt order, rollouts); the base is seed 0
    base: PretrainConfig = field(default_factory=lambda: latent_base("quick"))  # shared base
    # the template of every RL run; per run the objective, start model, seed, curriculum
    # (the base's task) and checkpoint_every (the last step) are filled in
    rl: RLConfig = field(default_factory=rl_recipe)
    # held-out pass@k of every model (sampling.n is the n of pass@n; its bootstrap is unused)
    eval: PassKConfig = field(default_factory=eval_recipe)
    bootstrap: int = 2000  # crossed bootstrap resamples per interval


def quick() -> RLObjectivesConfig:
    """A few minutes on 2 cores: micro base, 40 steps, two seeds, 48 problems × 64 samples."""
    return RLObjectivesConfig()


def smoke() -> RLObjectivesConfig:
    """Seconds: nano base, a few steps, few problems (checks the pipeline, not the claim)."""
    cfg = quick()
    return replace(
        cfg,
        base=latent_base("smoke"),
        rl=replace(cfg.rl, steps=3, prompts_per_step=4, samples_per_prompt=4, max_new_tokens=24),
        eval=replace(
            cfg.eval, problems=6, sampling=replace(cfg.eval.sampling, n=8, max_new_tokens=24)
        ),
        bootstrap=200,
    )


def full() -> RLObjectivesConfig:
    """Small base, 300 steps, three seeds, all 140 distinct test problems × 256 samples
    (about 80 min; the design's 200 problems were 98 distinct ones, counted with repeats)."""
    cfg = quick()
    return replace(
        cfg,
        seeds=(0, 1, 2),
        base=latent_base("full"),
        rl=replace(cfg.rl, steps=300, prompts_per_step=16, checkpoint_every=20),
        eval=replace(cfg.eval, problems=140, sampling=replace(cfg.eval.sampling, n=256)),
    )


# ---------------------------------------------------------------- pre-registered thresholds

CARRY_SHARE = 0.5  # "carries the gain": NSR's pass@1 gain exceeds this share of GRPO's
PASSK_MARGIN = 0.05  # pass@n within this of the base counts as "kept"; a drop beyond it does not

CARRY = "NSR carries the pass@1 gain"  # the decided parts
KEEPS = "NSR keeps pass@k at the largest k"
FALLS = "PSR falls below the base at the largest k"
PARTS = 3  # parts combined into the verdict: the k of the family-wise correction

GRPO_GAINED = "GRPO raised held-out pass@1"  # premises beside the shared RL ones
ROOM = "the base's pass@n leaves room to fall"


def arm(objective: str) -> tuple[str, str]:
    """The names of one objective's shared RL premises."""
    label = experiment.LABELS[objective]
    return f"{label}: {REWARD_ROSE}", f"{label}: {NOT_WORSE}"


RESTS_ON = {  # each part's premises: the RL premise of every objective it speaks about
    CARRY: (GRPO_GAINED, *arm("grpo"), *arm("nsr")),
    KEEPS: (ROOM, *arm("nsr")),
    FALLS: (ROOM, *arm("psr")),
}

RULE = (
    f"Premises (gates: a part whose premise fails is inconclusive, never contradicts). For "
    f"GRPO, NSR and PSR each: its training reward rose (last tenth of steps minus first "
    f"tenth, 95% interval above 0) and its held-out pass@1 is not below the base's (the "
    f"interval of the gain is not wholly below 0). {GRPO_GAINED}: GRPO − base at pass@1, "
    f"interval above 0 (else there is no gain to carry). {ROOM}: the base's pass@n has its "
    f"interval above {PASSK_MARGIN}. {CARRY} rests on GRPO's and NSR's premises and "
    f"{GRPO_GAINED!r}; {KEEPS} on NSR's and {ROOM!r}; {FALLS} on PSR's and {ROOM!r}. "
    f"Parts: {CARRY}: the per-problem effect (NSR − base) − {CARRY_SHARE}·(GRPO − base) at "
    f"pass@1, interval above 0 -> supports, below 0 -> contradicts. {KEEPS}: NSR − base at "
    f"pass@n (n = samples per problem), interval above −{PASSK_MARGIN} -> supports, below "
    f"−{PASSK_MARGIN} -> contradicts. {FALLS}: PSR − base at pass@n, interval below 0 -> "
    f"supports; otherwise interval above −{PASSK_MARGIN} -> contradicts; otherwise "
    f"inconclusive. The verdict combines the three: all support -> supports; any contradicts "
    f"-> contradicts, where a contradiction is read on the part's (1 − 0.05/{PARTS}) interval "
    f"(Bonferroni over the {PARTS} parts) and supporting on the 95% interval; otherwise "
    f"inconclusive. Intervals: bootstrap over seeds and problems, crossed (one set of "
    f"problem columns per resample for every seed and for the one base sample), of paired "
    f"differences (same problems, same sampling seed). Entropy, fully-solved ratios and "
    f"W-REINFORCE are reported, not decided."
)


# ---------------------------------------------------------------- the decision rule


def premises(
    grpo_gain: Effect, base_passk: Effect, rises: dict[str, Effect], gains: dict[str, Effect]
) -> dict[str, Premise]:
    """Every premise of ``RESTS_ON`` from GRPO's pass@1 gain, the base's pass@n, and each
    objective's training-reward rise and held-out pass@1 gain (objective -> Effect)."""
    held = {
        GRPO_GAINED: Premise(bool(grpo_gain.ci95[0] > 0), f"{grpo_gain.name} {fmt(grpo_gain)}"),
        ROOM: Premise(
            bool(base_passk.ci95[0] > PASSK_MARGIN), f"{base_passk.name} {fmt(base_passk)}"
        ),
    }
    for objective in ("grpo", "nsr", "psr"):
        shared = rl_premises(rises[objective], gains[objective])
        rose, not_worse = arm(objective)
        held |= {rose: shared[REWARD_ROSE], not_worse: shared[NOT_WORSE]}
    return held


def falls_rule(psr: Effect) -> Decision:
    """PSR − base at pass@n: significantly below 0 supports; no drop beyond the margin on
    the family-wise interval contradicts (checked second, so a small but clear drop still
    supports)."""
    if psr.ci95[1] < 0:
        return Decision("supports", f"{psr.name} {fmt(psr)} lies below 0")
    if psr.contradict_interval[0] > -PASSK_MARGIN:
        why = f"{psr.name} {fmt(psr, wide=True)} drops less than {PASSK_MARGIN:g}"
        return Decision("contradicts", why, psr.family)
    return Decision("inconclusive", f"{psr.name} {fmt(psr)} straddles [−{PASSK_MARGIN:g}, 0]")


def decide(
    carry: Effect, nsr_passk: Effect, psr_passk: Effect, held: dict[str, Premise]
) -> tuple[Decision, dict[str, Decision]]:
    """(overall decision, gated parts) from NSR's pass@1 gain minus ``CARRY_SHARE`` of
    GRPO's, NSR's and PSR's pass@n minus the base's, and the premises (``premises``)."""
    parts = {
        CARRY: interval_rule(carry, support_above=0.0, contradict_below=0.0),
        KEEPS: interval_rule(nsr_passk, -PASSK_MARGIN, -PASSK_MARGIN),
        FALLS: falls_rule(psr_passk),
    }
    return decide_parts(parts, held, RESTS_ON)


# ---------------------------------------------------------------- the experiment


def run(cfg: RLObjectivesConfig, ctx: StudyContext) -> Verdict:
    """Train every objective from the base, sample every model, decide."""
    base_dir, trained = experiment.train_all(cfg, ctx.store, ctx.progress)
    ctx.progress("sampling every model on the held-out problems")
    counts = experiment.evaluate(base_dir, trained, cfg, ctx.progress)
    curves = {key: experiment.training_curves(trained, key) for key in ("reward", "entropy")}
    found = analysis.effects(counts, curves, CARRY_SHARE, PARTS, cfg.bootstrap)
    held = premises(found.grpo_gain, found.base_passk, found.rises, found.pass1_gains)
    overall, decided = decide(found.carry, found.nsr_passk, found.psr_passk, held)
    outputs.save(ctx, counts, trained, found, cfg.bootstrap)
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
        notes=outputs.notes(ctx.scale, counts, trained, cfg.rl.steps * len(cfg.seeds)),
        follow_up="Does NSR's advantage at large k survive longer runs, where Zhu et al. see "
        "it degrade, and does it hold on a base whose pass@1 is already high?",
        premises=held,
    )


STUDY = Study(
    name="rl-objectives",
    number="3b",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
