"""Study 1: does instruction tuning transfer the output space rather than the task?

Claim (as corrected by the primary paper). Kung & Peng 2023, *Do Models Really Learn to
Follow Instructions? An Empirical Study of Instruction Tuning* (ACL 2023, arXiv
2305.11383). The often-quoted "43% vs 42.6%" does not compare corrupted with correct
instructions: it compares the instruction-tuned model (43% exact match) with guessing
uniformly in each task's label space (42.6%), zero-shot on unseen classification tasks,
in the low-resource setting (under five instances per task); both beat the untuned model
by about 30 points. The separate claim is that models tuned on simplified (output space
only) or delusive (wrong input-output mapping) instructions do about as well as models
tuned on the original ones. Details: ``shared/research/findings-1-5.md``, Finding 1.

Design. Task ``rules``: a rule maps a string over ``abcdef`` to a label from a small set;
the prompt holds an instruction, the label list and two demonstrations. A base organism
(the *untuned* model) is fine-tuned on the 203 training rules under four conditions
(``prompt_mode`` of SFT): original, simplified (labels and demonstrations, no rule),
empty (demonstrations only) and delusive (demonstrations with wrong labels). Each tuned
model is tested zero-shot on rules it never saw, in two held-out splits: rules with a
part no training rule has (``heldout_novel``, the paper's unseen tasks) and new
combinations of seen parts (``heldout_composable``); ``test`` (training rules, unseen
inputs) says whether the seen rules were learned at all. Examples per rule are swept.
Metrics per problem: exact match (EM), label-space validity (the answer is one of the
rule's labels), the random-in-label-space baseline 1/|labels|, and the *task component*
EM - validity/|labels|, whose expectation is 0 for any model whose valid answers ignore
the input (the query's label is uniform over the label set by construction), so it
separates knowing the output space from knowing the task. Intervals: hierarchical
bootstrap over seeds and rules (a rule's instances are averaged first: the claim is about
unseen tasks, and instances of one rule are correlated), paired across models.

The untuned model. The paper's untuned model is T5-LM-adapt: a language model
pretrained on generic text that never saw the instruction tasks. Ours is the shared base
organism pretrained on arithmetic word problems (``base_organisms.latent_base(scale, seed,
"arithmetic")``, shared with any study that asks for the same base): generic English-like
text that never shows a rule, a label word or an ``input -> label`` demonstration. A base
pretrained on unlabeled strings of the rules domain would need a task the registry lacks.

Departures from the paper: synthetic rules instead of Super-NaturalInstructions, tiny
organisms trained from scratch instead of T5 (770M), EM only (no ROUGE-L), one epoch over
a fresh example stream (so "examples per rule" also sets the number of steps),
deterministic delusive labels (the next label of the set). Each model is tested in the
prompt format it was tuned in (the simplified and empty models never see a rule
description), with correct demonstrations (delusive labels are a training corruption);
the untuned model is tested on the original prompts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.sft import SFTConfig, sft
from regimescope.studies import instruction_tuning_parts as parts
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base, trained_base
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Verdict,
    combine,
    equivalence_rule,
    interval_rule,
)
from regimescope.tasks import MODES, get_task

CLAIM = (
    "In the low-resource setting, instruction tuning brings a model to about random "
    "guessing in the label space on unseen tasks (well above the untuned model), and "
    "tuning on simplified or delusive instructions does about as well as on the original "
    "ones: what transfers is the output space, not the task."
)
SOURCE = "Kung & Peng 2023, ACL, arXiv 2305.11383"
CORRECTION = (
    "43% vs 42.6% EM is the instruction-tuned model vs random guessing in the label space, "
    "zero-shot, low-resource (< 5 instances per task); it is not delusive vs original "
    "instructions. That these train about as well as the original is a separate claim."
)

# The decision rule, fixed before any result: thresholds in exact-match points (fractions).
SPLITS = ("test", "heldout_composable", "heldout_novel")  # test = seen rules, unseen inputs
PRIMARY_SPLIT = "heldout_novel"  # the paper's unseen tasks share no rule part with training
UNTUNED_GAIN = 0.10  # tuned - untuned EM must exceed this (the paper reports about 0.30)
RANDOM_MARGIN = 0.05  # |tuned EM - random in label space| below this is "at random" (0.4 pts)
COMPARABLE_MARGIN = 0.05  # |perturbed - original EM| below this is "comparable"
TASK_MARGIN = 0.05  # task component above this means the task transferred
VALIDITY_GAIN = 0.5  # validity gain over the untuned model above this: output space learned
FULL_SEEDS = 3  # the full design: at least this many seeds ...
FULL_SIZES = 3  # ... and this many points of the examples-per-rule sweep
RULE = (
    "At the smallest examples-per-rule point on heldout_novel, with 95% intervals from a "
    "bootstrap over seeds and rules (instances averaged within a rule): "
    f"(1) original-tuned minus untuned EM supports if the interval lies above "
    f"{UNTUNED_GAIN}, contradicts if below 0; "
    "(2) original-tuned EM minus random in label space supports if the interval lies "
    f"within ±{RANDOM_MARGIN}, contradicts if wholly outside; "
    "(3) simplified minus original and (4) delusive minus original EM support if within "
    f"±{COMPARABLE_MARGIN}, contradict if wholly outside. "
    "Overall: contradicts if any part contradicts, supports if all support, else "
    "inconclusive. Where it changes (descriptive): each (split, size) cell is 'task' if "
    "the original model's task component EM - validity/|labels| lies above "
    f"{TASK_MARGIN}, 'output space' if it lies within ±{TASK_MARGIN} while validity rose "
    f"by more than {VALIDITY_GAIN} over the untuned model, 'neither' if within "
    f"±{TASK_MARGIN} and validity rose by less, else 'undecided'."
)


@dataclass(frozen=True)
class InstructionTuningConfig:
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds: each has its own base and SFT runs
    base_scale: str = "full"  # scale of the shared base organism (base_organisms.latent_base)
    per_rule: tuple[float, ...] = (4, 16, 64, 256)  # examples per training rule (the sweep)
    batch_size: int = 16  # SFT sequences per step
    lr: float = 1e-3  # SFT peak learning rate
    problems: int = 1000  # test instances per split (the same for every model), over its rules
    resamples: int = 2000  # bootstrap resamples per interval


def smoke() -> InstructionTuningConfig:
    """Seconds: nano organisms, a handful of SFT steps, few problems (the test suite)."""
    return InstructionTuningConfig(
        seeds=(0,), base_scale="smoke", per_rule=(0.25, 0.5), problems=24, resamples=200
    )


def quick() -> InstructionTuningConfig:
    """A few minutes on 2 cores: one seed, micro organisms, a 2-point sweep (4 and 32)."""
    return InstructionTuningConfig(seeds=(0,), base_scale="quick", per_rule=(4, 32), problems=400)


def full() -> InstructionTuningConfig:
    """The citable design: 3 seeds, small organisms, 4 sweep points, 1000 instances per split.

    About 52k SFT steps of the small organism (4 modes x 3 seeds x 4314 steps, batch 16)
    plus three 400-step bases, and 51 models scored on 2 x 1000 problems. Measured: about
    2.9 core-hours on one thread per process (0.15-0.25 s per SFT step; the 256-per-rule
    runs are 3248 steps, 4-13 min each). One process takes about 2.5-3 hours; training a
    seed's runs in a second process first (runs are locked, so the study reuses them) cut
    the study's own wall time to 107 min.
    """
    return InstructionTuningConfig()


def decide(
    beats_untuned: Effect, vs_random: Effect, simplified_gap: Effect, delusive_gap: Effect
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``): the overall decision and its four parts."""
    decisions = {
        "tuned beats untuned": interval_rule(beats_untuned, UNTUNED_GAIN, 0.0),
        "tuned at random in label space": equivalence_rule(vs_random, RANDOM_MARGIN),
        "simplified comparable to original": equivalence_rule(simplified_gap, COMPARABLE_MARGIN),
        "delusive comparable to original": equivalence_rule(delusive_gap, COMPARABLE_MARGIN),
    }
    return combine(decisions), decisions


def transfer_kind(task_component: Effect, validity_gain: Effect) -> str:
    """What transferred in one (split, size) cell: task, output space, neither or undecided."""
    low, high = task_component.ci95
    if low > TASK_MARGIN:
        return "task"
    if low > -TASK_MARGIN and high < TASK_MARGIN:
        if validity_gain.ci95[0] > VALIDITY_GAIN:
            return "output space"
        if validity_gain.ci95[1] < VALIDITY_GAIN:
            return "neither"
    return "undecided"


def untuned_base(scale: str, seed: int) -> PretrainConfig:
    """The untuned model: the shared base pretrained on arithmetic text (no rule ever seen)."""
    return latent_base(scale, seed, task="arithmetic")


def tuning_config(
    cfg: InstructionTuningConfig, base_dir: str, mode: str, per_rule: float, seed: int, n_rules: int
) -> SFTConfig:
    """SFT of the base on ``per_rule`` examples per training rule (one epoch, fresh examples)."""
    steps = max(1, math.ceil(per_rule * n_rules / cfg.batch_size))
    return SFTConfig(
        model=base_dir,
        curriculum=CurriculumConfig(("rules",)),
        prompt_mode=mode,
        steps=steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        warmup_steps=max(1, min(10, steps // 10)),
        seed=seed,
        checkpoint_every=500,
        recorder=RecorderConfig(every=max(1, steps // 10), probe_problems=0),
    )


def train_and_measure(cfg: InstructionTuningConfig, ctx: StudyContext):
    """Per-problem scores of every model: (seed, condition, per_rule, split, problem) rows."""
    task = get_task("rules")
    n_rules = len(task.rules["train"])
    bench = parts.Bench(task, SPLITS, cfg.problems)
    frames = []
    for seed in cfg.seeds:
        base = str(trained_base(untuned_base(cfg.base_scale, seed), ctx.store).model_dir)
        frames.append(bench.score(base, "original", seed=seed, condition="untuned", per_rule=0))
        for per_rule in cfg.per_rule:
            for mode in MODES:
                ctx.progress(f"seed {seed}: SFT {mode}, {per_rule} examples per rule")
                tuned = sft(tuning_config(cfg, base, mode, per_rule, seed, n_rules), ctx.store)
                keys = {"seed": seed, "condition": mode, "per_rule": per_rule}
                frames.append(bench.score(str(tuned.model_dir), parts.tested_in(mode), **keys))
    return parts.concat(frames)


def run(cfg: InstructionTuningConfig, ctx: StudyContext) -> Verdict:
    scores = train_and_measure(cfg, ctx)
    ctx.save_table("problems", scores)
    stats = parts.Stats(scores, cfg.resamples)
    summary = stats.summary()
    ctx.save_table("summary", summary)
    ctx.save_figure("transfer", parts.plot_transfer(summary), parts.CAPTION)
    low = min(cfg.per_rule)
    primary = {
        "beats_untuned": stats.gap("original", "untuned", PRIMARY_SPLIT, low),
        "vs_random": stats.vs_random("original", PRIMARY_SPLIT, low),
        "simplified_gap": stats.gap("simplified", "original", PRIMARY_SPLIT, low),
        "delusive_gap": stats.gap("delusive", "original", PRIMARY_SPLIT, low),
    }
    overall, decisions = decide(**primary)
    validity = stats.gap("original", "untuned", PRIMARY_SPLIT, low, "valid")
    where = stats.where(cfg.per_rule, transfer_kind)
    ctx.save_table("where", where)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason=parts.reason(overall, decisions, validity, where),
        rule=RULE,
        effects=[
            primary["vs_random"],
            primary["beats_untuned"],
            primary["simplified_gap"],
            primary["delusive_gap"],
            stats.gap("empty", "original", PRIMARY_SPLIT, low),
            validity,
            *parts.where_effects(where),
        ],
        parts=decisions,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        full_design=len(cfg.seeds) >= FULL_SEEDS and len(cfg.per_rule) >= FULL_SIZES,
        notes=parts.design_notes(cfg, FULL_SEEDS, FULL_SIZES),
        follow_up=parts.follow_up(where),
    )


STUDY = Study(
    name="instruction-tuning",
    number="1",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=(
        "A base organism pretrained on arithmetic text is instruction-tuned on 203 synthetic "
        "classification rules with original, simplified, empty or delusive instructions, "
        "sweeping examples per rule; each model and the untuned base are tested zero-shot on "
        "held-out rules (novel parts, and new compositions of seen parts) for exact match, "
        "label-space validity and exact match above random guessing in the label space."
    ),
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
