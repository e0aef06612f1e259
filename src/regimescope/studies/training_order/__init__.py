"""Study 10: does training order leave a fingerprint? Structured before creative, entropy
by domain, and backward transfer.

Claim (seed note 10; Omni-Thinker, Li et al., arXiv 2507.14783 v3). RL on structured
domains lowers output entropy while RL on creative writing raises it; a schedule chosen by
backward transfer (BWT), structured tasks first, beats joint multi-task RL (by 6.2% in the
paper's average relative performance); the schedule comes from pairwise transfer under
"simple assumptions on accuracy transfer" (pairwise effects independent of history and
additive: ``instruments.transfer``). Details and what could be verified (no public code):
``shared/research/findings-6-10.md`` §10.

Correction: the seed reads the entropy result as "structured first prevents an entropy
collapse that would damage open-ended ability"; the paper uses entropy to explain where
generative tasks deviate from the accuracy-transfer prediction. The study tests the
paper's parts and reports the seed's reading as part (iv).

Design. One base organism pretrained on three domains (``regimes.multidomain``): string
functions (``strings-atomic-a``, exact), countdown with two numbers up to 29 (exact), and a
creative domain with a programmatic judge (``tasks.creative``: constraints plus novelty
against the group). A share (0.3) of the structured domains' pretraining targets belong to
another problem (``tasks.noisy``), so the base holds those skills without emitting them
reliably, as RL finds a pretrained model in the lab's other studies; on clean targets a
tiny base either cannot solve a structured problem or solves it every time, and GRPO did
not raise its structured reward within the budget (NOTES.md, the 2026-12-08 redesign).
Per seed, GRPO stages chained in every order: the 3 single-domain runs, the 6
pairwise runs (the pairwise transfer matrix) and the 6 full orders, plus the joint
mixed-batch run with as many steps as an order (``experiment``). Every model is scored
and its token entropy measured on the same held-out problems of each domain.

Departures: organisms of 0.1M parameters and tens of RL steps per stage; a structured
pretraining corpus with 30% of its targets from other problems (a stand-in for noisy web
solutions; it gives structured RL something to re-weight, so a fall of structured entropy
under RL is expected and the creative domain's direction is the informative half of (i));
"normalised score" is each domain's reward in [0, 1] (the paper's normalisation was not
retrievable); three domains, not four (no QA); the creative judge rewards constrained
diversity, not writing (its gaming and limits: ``tasks.creative``); no model merging
baseline.

Scales: ``full`` (3 seeds, a width-64 1500-step base, 60 GRPO steps per stage, 24
held-out problems per domain, about 30 core-minutes alone; more seeds with ``--seeds``),
``quick`` (2 seeds, a width-48 600-step base, 12 steps per stage, 16 problems: bound by
the demo's budget of about 90 core-seconds of training, too small a base and too short a
stage for the structured domains' reward to rise, so its premises are expected to fail:
NOTES.md), ``smoke`` (the test suite).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from regimescope.organisms.presets import OrganismConfig
from regimescope.regimes.multidomain import DOMAINS, MultiBaseConfig
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE, reward_rise, rl_premises
from regimescope.studies.training_order import analysis, experiment, outputs
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Premise,
    Verdict,
    decide_parts,
    interval_rule,
    upper_rule,
)

CLAIM = (
    "Training order leaves a fingerprint: RL on structured domains lowers output entropy "
    "and RL on a creative domain raises it; structured-first beats joint multi-task RL; "
    "the BWT-additive prediction ranks the training orders; and the creative domain's "
    "score and entropy survive better when it is trained last."
)
SOURCE = (
    "Li et al. 2025, Omni-Thinker: Scaling Multi-Task RL in LLMs with Hybrid Reward and "
    "Task Scheduling, arXiv 2507.14783 (v3); BWT: Lopez-Paz & Ranzato 2017, arXiv 1706.08840"
)
CORRECTION = (
    "The paper uses entropy to explain where generative tasks deviate from the "
    "accuracy-transfer prediction; 'structured first prevents an entropy collapse' is a "
    "secondary reading, tested here as part (iv) rather than taken from the paper."
)
SETUP = (
    "One base pretrained on string functions, 2-number countdown (30% of their targets "
    "from other problems) and a creative domain (constraints plus novelty against the "
    "group); per seed GRPO stages in all 6 orders "
    "(prefixes shared: singles, pairs, orders) and a joint mixed-batch run; held-out "
    "score and token entropy of every model on every domain."
)

RECORDER = RecorderConfig(
    every=1, kl=False, update_ratio=False, changed=False, weight_norms=False, formats=False
)


def stage_rl(steps: int, samples: int, lr: float) -> RLConfig:
    """The RL template of every stage (start model and seed filled in per run)."""
    return RLConfig(
        objective="grpo",
        steps=steps,
        prompts_per_step=8,
        samples_per_prompt=samples,
        max_new_tokens=24,
        lr=lr,
        checkpoint_every=10**6,  # only the final checkpoint (runs are short)
        recorder=RECORDER,
    )


NOISY_SHARE = 0.3  # share of structured pretraining targets from other problems (NOTES.md)


def base_loop(width: int, steps: int) -> PretrainConfig:
    """The base's pretraining on the equal mixture of the domains (calibration: NOTES.md)."""
    organism = OrganismConfig(width=width, depth=2, context=64)
    return PretrainConfig(
        task="multidomain", organism=organism, steps=steps, batch_size=32, lr=3e-3
    )


@dataclass(frozen=True)
class OrderConfig:
    seeds: tuple[int, ...] = (0, 1, 2)  # RL seeds (one base for all)
    base: MultiBaseConfig = field(
        default_factory=lambda: MultiBaseConfig(DOMAINS, base_loop(64, 1500), NOISY_SHARE)
    )
    rl: RLConfig = field(default_factory=lambda: stage_rl(60, 8, 3e-4))  # one stage's RL
    problems: int = 24  # held-out problems per domain (distinct prompts)
    samples: int = 8  # samples per problem at evaluation (the creative group size)
    resamples: int = 2000  # bootstrap resamples per interval


def full() -> OrderConfig:
    """3 seeds, a width-64 1500-step base (30% noisy structured targets), 60 GRPO steps
    per stage (8 prompts x 8 samples), 24 held-out problems per domain (the premise
    pilots: NOTES.md)."""
    return OrderConfig()


def quick() -> OrderConfig:
    """Cost-bound (about 90 core-seconds of training): 2 seeds, a width-48 600-step base,
    12 GRPO steps per stage, 16 problems per domain."""
    base = MultiBaseConfig(DOMAINS, base_loop(48, 600), NOISY_SHARE)
    return replace(full(), seeds=(0, 1), base=base, rl=stage_rl(12, 8, 3e-4), problems=16)


def smoke() -> OrderConfig:
    """Seconds: width 16, 30 base steps, 2 RL steps per stage (the test suite)."""
    base = MultiBaseConfig(DOMAINS, replace(base_loop(16, 30), warmup_steps=5), NOISY_SHARE)
    rl = replace(stage_rl(2, 2, 3e-4), prompts_per_step=2, max_new_tokens=10)
    return replace(full(), seeds=(0, 1), base=base, rl=rl, problems=6, samples=2, resamples=200)


# The decision rule, fixed before any study run (2026-12-08; see NOTES.md).
ENTROPY_SHIFT = 0.05  # relative entropy change (of the base's) beyond which a direction counts
MARGIN = 0.02  # reward: structured-first must beat joint by more than this (mean over domains)
RANK_SUPPORT = 0.4  # Spearman over the 6 orders above this: the prediction ranks them
RANK_FAIL = 0.2  # below this: it does not
SURVIVAL = 0.02  # reward: creative-last's creative score above creative-first's by this
FAMILY = 4
PARTS = (
    "(i) structured RL lowers entropy, creative RL raises it",
    "(ii) structured-first beats joint training",
    "(iii) the BWT-additive prediction ranks the orders",
    "(iv) the creative domain survives better when last",
)
RULE = (
    "Held-out scores (each domain's reward in [0, 1]) and token entropies of every model "
    "on the same problems per domain, seeds and problems resampled crossed; each part's "
    f"contradicting branch on its {1 - 0.05 / FAMILY:.4g} interval (k = {FAMILY}). "
    f"(i) the relative entropy change under single-domain RL, mean of the two structured "
    f"domains, supports if its 95% interval lies below -{ENTROPY_SHIFT}, contradicts if "
    f"above 0; the creative domain's supports above +{ENTROPY_SHIFT}, contradicts below 0; "
    "the part supports if both support and contradicts if either contradicts. (ii) the mean "
    "normalised final score of the two structured-first orders minus the joint run's "
    f"supports above {MARGIN}, contradicts below 0. (iii) the Spearman correlation over the "
    "6 orders between the additive prediction (single-domain scores plus the pairwise "
    f"transfers of the tasks trained later) and the measured mean final score supports "
    f"above {RANK_SUPPORT}, contradicts below {RANK_FAIL}. (iv) the creative domain's final "
    "score, creative-last orders minus creative-first orders, supports above "
    f"{SURVIVAL}, contradicts below 0; its entropy (same contrast, relative to the base's) "
    "supports above 0, contradicts below 0; the part supports if both support and "
    "contradicts if either contradicts. Premises, per domain: its training reward rose in "
    "its single-domain runs and its held-out score after them is not below the base's; "
    "every part rests on all of them. Overall: contradicts if a part contradicts, supports "
    "if all support, else inconclusive."
)


def both(name: str, decisions: list[Decision]) -> Decision:
    """A part made of several checks: supports if all support, contradicts if any does."""
    verdicts = [d.verdict for d in decisions]
    reason = "; ".join(d.reason for d in decisions)
    if "contradicts" in verdicts:
        family = min(d.family for d in decisions if d.verdict == "contradicts")
        return Decision("contradicts", reason, family)
    if all(v == "supports" for v in verdicts):
        return Decision("supports", reason)
    return Decision("inconclusive", reason)


def decide(
    effects: dict[str, Effect], gates: dict[str, Premise]
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``) on effects built with ``family=FAMILY``."""
    parts = {
        PARTS[0]: both(
            PARTS[0],
            [
                upper_rule(effects["structured_entropy"], -ENTROPY_SHIFT, 0.0),
                interval_rule(effects["creative_entropy"], ENTROPY_SHIFT, 0.0),
            ],
        ),
        PARTS[1]: interval_rule(effects["structured_first"], MARGIN, 0.0),
        PARTS[2]: interval_rule(effects["ranking"], RANK_SUPPORT, RANK_FAIL),
        PARTS[3]: both(
            PARTS[3],
            [
                interval_rule(effects["creative_score_last"], SURVIVAL, 0.0),
                interval_rule(effects["creative_entropy_last"], 0.0, 0.0),
            ],
        ),
    }
    return decide_parts(parts, gates)


def premises(rises: dict[str, Effect], gains: dict[str, Effect]) -> dict[str, Premise]:
    """Per domain, the shared RL premises (``premises.rl_premises``)."""
    found = {}
    for domain in DOMAINS:
        for name, premise in rl_premises(rises[domain], gains[domain]).items():
            label = {REWARD_ROSE: REWARD_ROSE, NOT_WORSE: "held-out score not below the base's"}
            found[f"{domain}: {label[name]}"] = premise
    return found


def measure_effects(d: analysis.Draws) -> dict[str, Effect]:
    """The registered effects, each with its family-wise interval."""
    score_last, entropy_last = analysis.creative_position(d, FAMILY)
    return {
        "structured_entropy": analysis.structured_entropy(d, FAMILY),
        "creative_entropy": analysis.creative_entropy(d, FAMILY),
        "structured_first": analysis.structured_first_gain(d, FAMILY),
        "ranking": analysis.ranking(d, FAMILY),
        "creative_score_last": score_last,
        "creative_entropy_last": entropy_last,
    }


def run(cfg: OrderConfig, ctx: StudyContext) -> Verdict:
    """Train every chain, measure every model, decide, and write tables and figures."""
    base, runs = experiment.train_all(cfg, ctx.store, ctx.progress)
    measures = experiment.measure_all(base, runs, cfg, ctx.progress)
    curves = experiment.training_curves(runs)
    d = analysis.draws(measures, cfg.resamples)
    effects = measure_effects(d)
    rises = {
        domain: reward_rise(
            [
                curves[(curves.model == domain) & (curves.seed == s)].sort_values("step").reward
                for s in cfg.seeds
            ],
            cfg.resamples,
        )
        for domain in DOMAINS
    }
    gains = {domain: analysis.score_gain(d, domain) for domain in DOMAINS}
    gates = premises(rises, gains)
    overall, parts = decide(effects, gates)
    outputs.save(ctx, measures, curves, d)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason=outputs.reason(overall, d),
        rule=RULE,
        effects=[*effects.values(), *gains.values(), *rises.values()],
        parts=parts,
        premises=gates,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes=outputs.design_notes(cfg),
        follow_up=outputs.follow_up(parts),
    )


def check(cfg: OrderConfig) -> None:
    """BadInput for a design the rule cannot score."""
    from regimescope.errors import BadInput

    if len(cfg.seeds) < 2:
        raise BadInput("the study needs at least 2 seeds: its intervals resample seeds")
    if cfg.samples < 2:
        raise BadInput("samples must be at least 2: the creative reward compares a group")
    if not 4 <= cfg.problems <= 28:
        raise BadInput("problems must lie in 4..28 (the creative test split holds 28)")
    if cfg.rl.steps < 2:
        raise BadInput("each stage needs at least 2 RL steps (the reward premise compares tenths)")


STUDY = Study(
    name="training-order",
    number="10",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
    check=check,
)
