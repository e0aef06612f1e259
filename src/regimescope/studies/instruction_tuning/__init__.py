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
inputs) says whether the seen rules were learned at all, and is the study's premise.
Examples per rule are swept. Metrics per problem: exact match (EM), label-space validity
(the answer is one of the rule's labels), the random-in-label-space baseline 1/|labels|,
and the *task component* EM - validity/|labels|, whose expectation is 0 for any model
whose valid answers ignore the input (the query's label is uniform over the label set by
construction), so it separates knowing the output space from knowing the task.
Intervals: crossed bootstrap over seeds and rules (a rule's instances are averaged first:
the claim is about unseen tasks, and instances of one rule are correlated; every model
answers the same rules, so one set of rules is drawn per resample), paired across models.

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

Scales: ``full`` (3 seeds, small organisms, 4 sweep points; about 2.9 core-hours),
``quick`` (1 seed, micro organisms, 2 sweep points; about 1.5 minutes), ``smoke`` (the
test suite). Pilots, measured costs and the rule history: ``NOTES.md`` beside this file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.sft import SFTConfig
from regimescope.sampler import SamplingConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import latent_base
from regimescope.studies.instruction_tuning import analysis, experiment, outputs
from regimescope.studies.verdict import (
    Decision,
    Effect,
    Premise,
    Verdict,
    decide_parts,
    equivalence_rule,
    fmt,
    interval_rule,
)

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
SETUP = (
    "A base organism pretrained on arithmetic text is instruction-tuned on 203 synthetic "
    "classification rules with original, simplified, empty or delusive instructions, "
    "sweeping examples per rule; each model and the untuned base are tested zero-shot on "
    "held-out rules (novel parts, and new compositions of seen parts) for exact match, "
    "label-space validity and exact match above random guessing in the label space."
)


TUNING = SFTConfig(  # the recipe every tuning run shares (one epoch over fresh examples)
    curriculum=CurriculumConfig(("rules",)),
    batch_size=16,
    lr=1e-3,
    checkpoint_every=500,
    recorder=RecorderConfig(probe_problems=0),
)
GREEDY = SamplingConfig(n=1, temperature=0.0, max_new_tokens=experiment.ANSWER_TOKENS)


@dataclass(frozen=True)
class InstructionTuningConfig:
    seeds: tuple[int, ...] = (0, 1, 2)  # training seeds: each has its own base and SFT runs
    base: PretrainConfig = latent_base("full", task="arithmetic")  # the untuned model, a
    # shared base organism pretrained on arithmetic text; its seed is set per training seed
    sft: SFTConfig = TUNING  # template of the tuning runs; model, prompt_mode, steps,
    # warmup (a tenth of the steps, at most the template's), recorder.every, seed set per run
    per_rule: tuple[float, ...] = (4, 16, 64, 256)  # examples per training rule (the sweep)
    eval: SamplingConfig = GREEDY  # how every model answers: greedy, one label and a stop
    problems: int = 1000  # test instances per split (the same for every model), over its rules
    resamples: int = 2000  # bootstrap resamples per interval


def full() -> InstructionTuningConfig:
    """The citable design: 3 seeds, small organisms, 4 sweep points, 1000 instances per
    split (about 52k SFT steps; 2.9 core-hours measured, see NOTES.md)."""
    return InstructionTuningConfig()


def quick() -> InstructionTuningConfig:
    """About 1.5 minutes on 2 cores: one seed, micro organisms, a 2-point sweep (4 and 16)."""
    return replace(
        full(),
        seeds=(0,),
        base=latent_base("quick", task="arithmetic"),
        per_rule=(4, 16),
        problems=300,
    )


def smoke() -> InstructionTuningConfig:
    """Seconds: nano organisms, a handful of SFT steps, few problems (the test suite)."""
    return replace(
        quick(),
        base=latent_base("smoke", task="arithmetic"),
        per_rule=(0.25, 0.5),
        problems=24,
        resamples=200,
    )


# The decision rule, fixed before any result: thresholds in exact-match points (fractions).
PRIMARY_SPLIT = "heldout_novel"  # the paper's unseen tasks share no rule part with training
SEEN_SPLIT = "test"  # the training rules on unseen inputs: were the seen rules learned?
UNTUNED_GAIN = 0.10  # tuned - untuned EM must exceed this (the paper reports about 0.30)
RANDOM_MARGIN = 0.05  # |tuned EM - random in label space| below this is "at random" (0.4 pts)
COMPARABLE_MARGIN = 0.05  # |perturbed - original EM| below this is "comparable"
TASK_MARGIN = 0.05  # task component above this means the task transferred
SEEN_MARGIN = TASK_MARGIN  # the premise: task component on seen rules above this (the same line)
VALIDITY_GAIN = 0.5  # validity gain over the untuned model above this: output space learned
FAMILY = 4  # parts of the verdict: their contradicting branch uses 1 - 0.05/4 intervals
SEEN_RULES = "seen rules learned"  # the premise's name
# What each part rests on. A model that learned only the label set answers at random in it
# on every split, under every condition, so parts 2-4 would support trivially. Part 1
# measures the output space itself (the claim says it transfers) and rests on no premise.
RESTS_ON = {
    "tuned beats untuned": (),
    "tuned at random in label space": (SEEN_RULES,),
    "simplified comparable to original": (SEEN_RULES,),
    "delusive comparable to original": (SEEN_RULES,),
}
RULE = (
    "At the smallest examples-per-rule point on heldout_novel, with intervals from a "
    "crossed bootstrap over seeds and rules (instances averaged within a rule): "
    f"(1) original-tuned minus untuned EM supports if its 95% interval lies above "
    f"{UNTUNED_GAIN}, contradicts if its {1 - 0.05 / FAMILY:.4g} interval lies below 0; "
    "(2) original-tuned EM minus random in label space supports if the 95% interval lies "
    f"within ±{RANDOM_MARGIN}, contradicts if the {1 - 0.05 / FAMILY:.4g} interval lies "
    "wholly outside; (3) simplified minus original and (4) delusive minus original EM "
    f"support if within ±{COMPARABLE_MARGIN}, contradict if wholly outside (same intervals). "
    f"Premise ({SEEN_RULES}): the original-tuned model's task component on the test split "
    f"(seen rules, unseen inputs) at the same point has a 95% interval above {SEEN_MARGIN}; "
    "if not, parts 2-4 are inconclusive (part 1 does not rest on it). "
    "Overall: contradicts if any part contradicts, supports if all support, else "
    "inconclusive. Where it changes (descriptive): each (split, size) cell is 'task' if "
    "the original model's task component EM - validity/|labels| lies above "
    f"{TASK_MARGIN}, 'output space' if it lies within ±{TASK_MARGIN} while validity rose "
    f"by more than {VALIDITY_GAIN} over the untuned model, 'neither' if within "
    f"±{TASK_MARGIN} and validity rose by less, else 'undecided'."
)


def seen_rules_learned(task_component: Effect) -> Premise:
    """The premise: the seen rules' task component lies above ``SEEN_MARGIN``."""
    holds = task_component.ci95[0] > SEEN_MARGIN
    where = "lies above" if holds else "does not lie above"
    return Premise(holds, f"{task_component.name} {fmt(task_component)} {where} {SEEN_MARGIN:g}")


def decide(
    beats_untuned: Effect,
    vs_random: Effect,
    simplified_gap: Effect,
    delusive_gap: Effect,
    seen_task: Effect,
) -> tuple[Decision, dict[str, Decision], dict[str, Premise]]:
    """The pre-registered rule (``RULE``): the overall decision, its four parts (gated on
    the premise) and the premise. The four effects must be built with ``family=FAMILY``."""
    parts = {
        "tuned beats untuned": interval_rule(beats_untuned, UNTUNED_GAIN, 0.0),
        "tuned at random in label space": equivalence_rule(vs_random, RANDOM_MARGIN),
        "simplified comparable to original": equivalence_rule(simplified_gap, COMPARABLE_MARGIN),
        "delusive comparable to original": equivalence_rule(delusive_gap, COMPARABLE_MARGIN),
    }
    premises = {SEEN_RULES: seen_rules_learned(seen_task)}
    overall, gated = decide_parts(parts, premises, RESTS_ON)
    return overall, gated, premises


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


def run(cfg: InstructionTuningConfig, ctx: StudyContext) -> Verdict:
    """Train and score every model, turn the scores into effects, decide, and write the
    tables and figure."""
    scores = experiment.train_and_measure(cfg, ctx)
    found = analysis.Scores(scores, cfg.resamples)
    low = min(cfg.per_rule)  # the low-resource point the rule decides at
    decided = found.decided(PRIMARY_SPLIT, low, family=FAMILY)
    seen_task = found.task_component("original", SEEN_SPLIT, low)
    overall, parts, premises = decide(**decided, seen_task=seen_task)
    validity = found.gap("original", "untuned", PRIMARY_SPLIT, low, "valid")
    where = found.where(cfg.per_rule, transfer_kind)
    outputs.save(ctx, scores, found.summary(), where)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason=outputs.reason(overall, parts, validity, where),
        rule=RULE,
        effects=[
            decided["vs_random"],
            decided["beats_untuned"],
            decided["simplified_gap"],
            decided["delusive_gap"],
            found.gap("empty", "original", PRIMARY_SPLIT, low),
            validity,
            *analysis.where_effects(where),  # the premise's task component among them
        ],
        parts=parts,
        premises=premises,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes=outputs.design_notes(len(cfg.seeds), ctx.scale),
        follow_up=outputs.follow_up(where),
    )


STUDY = Study(
    name="instruction-tuning",
    number="1",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
