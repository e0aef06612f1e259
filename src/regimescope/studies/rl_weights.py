"""Study 3a: does RL update a sparse subnetwork, or does the bf16 view make it look so?

**Claim** (Mukherjee et al. 2025, arXiv 2505.11711, "Reinforcement Learning Finetunes
Small Subnetworks in Large Language Models"): RL updates only 5-30% of the parameters
(update sparsity 70-95%), while SFT updates most of them (sparsity 6-15%); the updated
subnetwork is nevertheless full rank (>99%), and its mask overlaps across seeds more
than chance. The authors credit on-policy (in-distribution) data for the sparsity.

**Correction.** The paper's code loads both checkpoints in bf16 (and counts |Δ| > 1e-5).
bf16 keeps 8 significant bits, so a change smaller than about |w|·2⁻⁸ rounds back to the
same value; at RL's learning rates (1e-6) most Adam steps are that small. RL's Razor
(arXiv 2509.04259) reports that the sparsity vanishes in fp32, and PULSE (arXiv
2602.03839) finds about 99% of per-step updates invisible after the bf16 cast. So the
claim is tested here on the fp32 weights, with the bf16 view (the paper's) reported
beside it, and "RL is sparser than SFT" is tested at equal drift ‖Δ‖/‖W‖, not at equal
learning rate.

**Design.** One latent countdown base (``base_organisms.latent_base``, seed 0). From it, three
regimes with the same optimizer (AdamW, betas, no weight decay, no warmup, constant
learning rate, gradient clip 1, fp32 weights, same steps and sequences per step): gold
SFT, GRPO, and self-SFT on the base's own verified-correct samples (the paper's
in-distribution conjecture). Each regime runs at every learning rate of a sweep and for
every seed. The diff instrument measures each tuned checkpoint against the base: changed
fraction exact in fp32, after a bf16 cast, beyond each tolerance τ, the predicted
bf16-invisible share, ‖Δ‖/‖W‖, rank and stable rank of every update matrix, and the
overlap of the changed-masks of two seeds against chance. Embedding rows that got no
gradient are taken out of the parameter count (the diff instrument reports them apart).
Intervals are a hierarchical bootstrap over seeds and then tensors (matrices for the
ranks): the tensors are the units over which a changed fraction is pooled.

**Departures.** The paper analyses released 7B-70B checkpoints trained for hundreds of
steps; here a ~200k-parameter organism is tuned for tens of steps, with no KL and no
clipping (one update per batch). GRPO stands for "RL"; PPO, DPO and PRIME are not run.
The paper's subnetwork-only retraining is not reproduced.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from regimescope.regimes.pretrain import PretrainConfig
from regimescope.studies import rl_weights_effects as effect_parts
from regimescope.studies import rl_weights_figures as figure_parts
from regimescope.studies import rl_weights_parts as parts
from regimescope.studies import rl_weights_tables as table_parts
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base
from regimescope.studies.verdict import Decision, Effect, Verdict, combine, fmt, interval_rule

CLAIM = (
    "RL fine-tuning updates a sparse subnetwork of the fp32 weights (at most half of the "
    "parameters change), meaningfully sparser than SFT at equal drift ‖Δ‖/‖W‖, and the "
    "update matrices are nearly full rank"
)

# ---------------------------------------------------------------- pre-registered thresholds

SPARSE_AT = 0.5  # "sparse": changed fraction (unused embedding rows excluded) at most this
SPARSER_BY = 0.05  # "sparser than SFT": at equal drift, RL changes this share fewer parameters
FULL_RANK_ABOVE = 0.95  # "nearly full rank": mean rank fraction of update matrices above this
LOW_RANK_BELOW = 0.5  # "low rank": below this
OVERLAP_EXCESS = 0.02  # masks overlap "beyond chance": Jaccard above chance by this much

SPARSE_FP32 = "sparse in fp32"  # part names that the reason quotes
SPARSE_BF16 = "sparse in bf16 (the view of the paper)"
EQUAL_DRIFT = "sparser than SFT at equal drift (bf16)"
EQUAL_RATE = "sparser than SFT at equal learning rate (bf16, lowest rate)"

RULE = (
    f"Sparse in a view: RL's changed fraction (unused embedding rows excluded), with its 95% "
    f"interval, lies at or below {SPARSE_AT} at every learning rate of the sweep -> supports; "
    f"above {SPARSE_AT} at every learning rate -> contradicts; otherwise (sparse at some rates "
    f"only) inconclusive. Sparser than SFT: at equal drift ‖Δ‖/‖W‖ (gold SFT's bf16 changed "
    f"fraction interpolated in log drift at each RL drift inside SFT's range), RL's sparsity "
    f"advantage has its interval above {SPARSER_BY} -> supports, below {SPARSER_BY} -> "
    f"contradicts. Full rank: the mean rank fraction of RL's update matrices (pooled over the "
    f"sweep) has its interval above {FULL_RANK_ABOVE} -> supports, below {LOW_RANK_BELOW} -> "
    f"contradicts. The verdict combines sparse-in-fp32, sparser-than-SFT and full-rank (any "
    f"contradicts -> contradicts; all support -> supports). Reported beside it, not combined: "
    f"sparse in the bf16 view (the paper's); RL's advantage over gold SFT at equal learning "
    f"rate (the lowest where both moved) and self-SFT's at equal drift (same thresholds); and "
    f"the overlap of two RL seeds' bf16 masks at the lowest learning rate (every pair's Jaccard "
    f"above chance per tensor by {OVERLAP_EXCESS} -> supports, every pair within "
    f"{OVERLAP_EXCESS} of chance -> contradicts)."
)


@dataclass(frozen=True)
class RLWeightsConfig:
    seeds: tuple[int, ...] = (0, 1)  # fine-tuning seeds (data order, rollouts); base is seed 0
    base: PretrainConfig = field(default_factory=lambda: latent_base("quick"))  # shared base
    lrs: tuple[float, ...] = (1e-6, 1e-5, 1e-4)  # learning-rate sweep, the same for every regime
    steps: int = 30  # optimizer steps of every run
    objective: str = "grpo"  # the RL regime's objective (regimes.objectives.OBJECTIVES)
    prompts_per_step: int = 8  # GRPO: prompts per step (P)
    samples_per_prompt: int = 8  # GRPO: group size (n); SFT steps take P * n sequences too
    max_new_tokens: int = 48  # token budget of GRPO rollouts and self-SFT samples
    self_problems: int = 128  # self-SFT: training prompts sampled for the pool
    self_samples: int = 8  # self-SFT: completions per prompt (correct ones are kept)
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW moments, shared by every regime
    tolerances: tuple[float, ...] = (1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)  # "changed: |Δ| > τ"
    bootstrap: int = 2000  # bootstrap resamples per interval


def smoke() -> RLWeightsConfig:
    """Seconds: nano base, two rates, three steps. The nano base earns no reward, so GRPO
    would not move and the self-SFT pool is empty: RL runs NSR, which moves on wrong
    samples. The smoke run checks the pipeline, not the claim."""
    return RLWeightsConfig(
        seeds=(0, 1),
        base=latent_base("smoke"),
        lrs=(1e-5, 1e-3),
        steps=3,
        objective="nsr",
        prompts_per_step=4,
        samples_per_prompt=4,
        max_new_tokens=24,
        self_problems=8,
        self_samples=4,
        bootstrap=200,
    )


def quick() -> RLWeightsConfig:
    """About 5 minutes on 2 cores: micro base, three rates, two seeds, 30 steps."""
    return RLWeightsConfig()


def full() -> RLWeightsConfig:
    """Small base, seven rates, three seeds, 150 steps, RL long enough to raise its reward
    at the upper rates. Measured on one thread per process: 63 runs, about 2.1 core-hours
    (gold SFT 1.7 min, RL 2.2 min, self-SFT 3 min with its pool sampling, per run); the
    diffs and bootstrap take about a minute. The study process took 66 min with a second
    process training the sweep from the other end (folder ``rl-weights-59ec5b7f8d7c``)."""
    return RLWeightsConfig(
        seeds=(0, 1, 2),
        base=latent_base("full"),
        lrs=(1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3),
        steps=150,
        prompts_per_step=16,
        samples_per_prompt=8,
        self_problems=256,
    )


# ---------------------------------------------------------------- the decision rule


def sparse_rule(by_lr: list[Effect]) -> Decision:
    """Sparse at every rate -> supports; dense at every rate -> contradicts; else inconclusive.

    ``by_lr``: RL's changed fraction at each rate where RL moved the weights at all.
    """
    if not by_lr:
        return Decision("inconclusive", "RL left the weights unchanged at every rate")
    sparse = [e for e in by_lr if e.ci95[1] <= SPARSE_AT]
    dense = [e for e in by_lr if e.ci95[0] > SPARSE_AT]
    listed = "; ".join(f"{e.name} {fmt(e)}" for e in by_lr)
    if len(sparse) == len(by_lr):
        return Decision("supports", f"at most {SPARSE_AT} changed at every rate: {listed}")
    if len(dense) == len(by_lr):
        return Decision("contradicts", f"more than {SPARSE_AT} changed at every rate: {listed}")
    return Decision("inconclusive", f"sparse at {len(sparse)} of {len(by_lr)} rates: {listed}")


def sparser_rule(advantage: Effect | None, regime: str = "RL") -> Decision:
    """A regime's sparsity advantage over gold SFT at equal drift against ``SPARSER_BY``."""
    if advantage is None:
        return Decision("inconclusive", f"no {regime} drift falls inside gold SFT's drift range")
    return interval_rule(advantage, support_above=SPARSER_BY, contradict_below=SPARSER_BY)


def rank_rule(rank: Effect | None) -> Decision:
    """Nearly full rank / low rank from the mean rank fraction of the update matrices."""
    if rank is None:
        return Decision("inconclusive", "RL left every matrix unchanged")
    return interval_rule(rank, support_above=FULL_RANK_ABOVE, contradict_below=LOW_RANK_BELOW)


def overlap_rule(excess: list[float]) -> Decision:
    """Jaccard minus chance (per tensor) of RL seed pairs: all above / all near chance."""
    if not excess:
        return Decision("inconclusive", "overlap needs two seeds whose RL runs changed weights")
    listed = ", ".join(f"{x:+.3f}" for x in excess)
    if min(excess) > OVERLAP_EXCESS:
        return Decision("supports", f"every seed pair above chance by > {OVERLAP_EXCESS}: {listed}")
    if max(abs(x) for x in excess) <= OVERLAP_EXCESS:
        return Decision("contradicts", f"every pair within {OVERLAP_EXCESS} of chance: {listed}")
    return Decision("inconclusive", f"seed pairs differ from chance by {listed}")


def decide(
    fp32: list[Effect],
    bf16: list[Effect],
    advantage: Effect | None,
    same_rate: Effect | None,
    self_advantage: Effect | None,
    rank: Effect | None,
    overlap_excess: list[float],
) -> tuple[Decision, dict[str, Decision]]:
    """The overall decision and every part, from RL's changed fractions per rate in fp32 and
    bf16, the sparsity advantages over gold SFT (at equal drift; at equal rate, for
    contrast), the rank fraction and the overlap excess of RL seed pairs."""
    decided = {
        SPARSE_FP32: sparse_rule(fp32),
        EQUAL_DRIFT: sparser_rule(advantage),
        "nearly full rank": rank_rule(rank),
    }
    reported = {
        SPARSE_BF16: sparse_rule(bf16),
        EQUAL_RATE: sparser_rule(same_rate),
        "self-SFT sparser than gold SFT at equal drift (bf16)": sparser_rule(
            self_advantage, "self-SFT"
        ),
        "RL masks overlap beyond chance (bf16, lowest rate)": overlap_rule(overlap_excess),
    }
    return combine(decided), decided | reported


# ---------------------------------------------------------------- the experiment


def run(cfg: RLWeightsConfig, ctx: StudyContext) -> Verdict:
    """Train the sweep, diff every checkpoint against the base, decide."""
    base_dir, tuned = parts.train_sweep(cfg, ctx)
    ctx.progress("diffing every tuned checkpoint against the base")
    measured = parts.measure(base_dir, tuned, cfg)
    changed = effect_parts.changed_table(measured, cfg.bootstrap)
    ranks = effect_parts.rank_table(measured, cfg.bootstrap)
    found = effect_parts.effects(measured, changed, cfg.bootstrap)
    overlap = table_parts.overlap_frame(measured)
    excess = table_parts.lowest_rate_excess(overlap, cfg.lrs)
    overall, decisions = decide(
        found.fp32,
        found.bf16,
        found.advantage,
        found.same_rate,
        found.self_advantage,
        found.rank,
        excess,
    )
    save(ctx, measured, changed, ranks, overlap, found)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason=f"{overall.reason}. fp32: {decisions[SPARSE_FP32].reason}. bf16: "
        f"{decisions[SPARSE_BF16].reason}. Equal drift: {decisions[EQUAL_DRIFT].reason}; "
        f"equal learning rate: {decisions[EQUAL_RATE].reason}.",
        rule=RULE,
        effects=found.all,
        parts=decisions,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        full_design=ctx.scale != "smoke",
        notes=table_parts.notes(ctx.scale, measured),
        follow_up="If bf16 sparsity follows drift alone, does a mask chosen by weight magnitude "
        "(small |w| first) match RL's bf16 mask as well as another RL seed does?",
    )


def save(ctx: StudyContext, measured, changed, ranks, overlap, found) -> None:
    """The study's tables and figures."""
    ctx.save_table("runs", table_parts.runs_frame(measured))
    ctx.save_table("changed", changed)
    ctx.save_table("ranks", ranks)
    ctx.save_table("overlap", overlap)
    ctx.save_table("effects", table_parts.effects_frame(found.all))
    ctx.save_table("tensors", measured.result.tensor_frame())
    ctx.save_figure(
        "changed_vs_drift",
        figure_parts.plot_changed_vs_drift(changed, measured, SPARSE_AT),
        "Changed fraction of parameters against relative drift ‖Δ‖/‖W‖ per regime (one point per "
        "learning rate), exact in fp32, after a bf16 cast and beyond τ = 1e-5, with 95% intervals "
        "over seeds and tensors.",
    )
    ctx.save_figure(
        "tolerance_sweep",
        figure_parts.plot_tolerances(changed, measured),
        "Changed fraction against the tolerance τ in |Δ| > τ per regime and learning rate (bands: "
        "95% intervals), with the bf16-cast fraction dotted.",
    )
    ctx.save_figure(
        "structure",
        figure_parts.plot_structure(ranks, overlap, measured.lrs),
        "Rank fraction and stable rank of the update matrices per regime and learning rate (95% "
        "intervals), and the Jaccard overlap of two seeds' bf16 changed-masks against chance.",
    )


STUDY = Study(
    name="rl-weights",
    number="3a",
    claim=CLAIM,
    source="Mukherjee, Yuan, Hakkani-Tür & Peng 2025, Reinforcement Learning Finetunes Small "
    "Subnetworks in Large Language Models, arXiv 2505.11711",
    correction="The 70-95% sparsity was measured on bf16 checkpoints; RL's Razor (arXiv "
    "2509.04259) and PULSE (arXiv 2602.03839) report that it vanishes in fp32, so the claim is "
    "tested on fp32 weights with the bf16 view beside it, and at equal drift rather than equal "
    "learning rate.",
    setup="From one latent countdown base, gold SFT, GRPO and self-SFT run with one optimizer "
    "over a learning-rate sweep and several seeds; the diff instrument measures every update in "
    "fp32, bf16 and at tolerances, with ranks and seed-to-seed mask overlap against chance.",
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
