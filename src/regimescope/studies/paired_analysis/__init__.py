"""Study 7: a representation is only a candidate until an intervention confirms it.

Claim (seed note 7). Representational analysis alone finds correlates, not causes; causal
analysis alone shows effects without saying what carries them; only the pair (locate a
candidate by probing, then verify it by intervening) makes a mechanistic claim. Sources:
Ku et al. 2025, *Levels of Analysis for Large Language Models* (arXiv 2503.13401); Hewitt
& Liang 2019 (control-task selectivity, arXiv 1909.03368); Zhang & Nanda 2024 and
Heimersheim & Nanda 2024 (activation patching with symmetric token replacement and the
normalised logit difference, arXiv 2309.16042, 2404.15255); Geiger et al. (DAS and IIA,
arXiv 2303.02536). Details: ``shared/research/findings-6-10.md`` §7.

Design. An organism (a 2-block ``LlamaForCausalLM``, ``regimes.distractor``) learns
``x1x2x3x4=`` → Y iff x1 > x2 (``tasks.distractor``): the causal variable C = [x1 > x2]
decides the answer; the distractor D = [x3 > x4] agrees with C on 98% of the training
prompts but never decides the answer. Pilots (NOTES.md) show the trained organism carries
D at the answer position as well as C (held-out probes on prompts where C and D are
independent read both at 1.0) while answering from C alone. On prompts where C and D are
independent, per seed: linear probes for C and D at every layer of the final position,
with Hewitt & Liang's control task (a random label per digit pair) and the same probes on
a random-init copy; the mean-difference direction of each variable at the decision site
(the residual stream after the last block, final position), swapped in from the prompt
with that variable flipped by exchanging its two digits; whole-site activation patching of
every site and position; DAS interchange on C's subspace (k = 1..4) against the
random-init copy (``experiment``, ``analysis``).

Departures from the sources: a planted distractor instead of a natural one, so "unused"
is known by construction and checked by behaviour; the decision site is fixed in advance
(where the answer is read) rather than chosen as the best-probing layer; the DAS search is
a short Adam run (``das_steps``). Not built yet: the same pipeline on a base organism and
its RL-trained descendant (issue 17's last step), see NOTES.md.

Scales: ``full`` (5 seeds, 1500 training steps, 1000 probe prompts, 500 pairs), ``quick``
(3 seeds, 800 steps, 400 probe prompts, 200 pairs), ``smoke`` (the test suite).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from regimescope.regimes.distractor import DistractorRunConfig, default_loop
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.paired_analysis import analysis, experiment, outputs
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
    "Only representational and causal analysis together make a mechanistic claim: a probe "
    "rates a decodable but unused feature like the variable the model computes with, and "
    "an intervention on the direction the probe locates tells them apart."
)
SOURCE = (
    "Ku et al. 2025, arXiv 2503.13401 (seed note 7); Hewitt & Liang 2019, arXiv 1909.03368; "
    "Zhang & Nanda 2024, arXiv 2309.16042; Geiger et al., arXiv 2303.02536"
)
CORRECTION = (
    "Ku et al. argue the pairing as a methodological position, not a measured result; the "
    "measured cautions are Belinkov 2022 and Elazar et al. 2021 (decodable is not used) "
    "and the DAS sanity checks (IIA rises with subspace size even in random networks)."
)
SETUP = (
    "A 2-block transformer learns x1x2x3x4= -> Y iff x1 > x2, with D = [x3 > x4] agreeing "
    "with the answer on 98% of training prompts; on prompts where C and D are independent, "
    "probes with a control task, direction swaps from counterfactual prompts, whole-site "
    "patching and DAS, each beside a random-init copy."
)


@dataclass(frozen=True)
class PairedConfig:
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # training seeds (one organism each)
    run: DistractorRunConfig = field(default_factory=DistractorRunConfig)  # the organism recipe
    probe_prompts: int = 1000  # decorrelated prompts for probes and directions (30% held out)
    pairs: int = 500  # decorrelated prompts for the interventions (and the accuracies)
    das_ks: tuple[int, ...] = (1, 2, 3, 4)  # subspace sizes of the interchange search
    das_steps: int = 200  # Adam steps of each DAS rotation
    resamples: int = 2000  # bootstrap resamples per interval


def full() -> PairedConfig:
    """The citable design: 5 seeds, 1500 steps of 64 prompts, 1000 probe prompts, 500 pairs."""
    return PairedConfig()


def quick() -> PairedConfig:
    """A few minutes on 2 cores: 3 seeds, 800 training steps, 400 probe prompts, 200 pairs."""
    run = DistractorRunConfig(loop=replace(default_loop(), steps=800))
    return replace(full(), seeds=(0, 1, 2), run=run, probe_prompts=400, pairs=200, das_steps=100)


def smoke() -> PairedConfig:
    """Seconds: width 32, 200 steps, 2 seeds (the test suite)."""
    loop = default_loop()
    loop = replace(loop, organism=replace(loop.organism, width=32), steps=200, batch_size=32)
    run = DistractorRunConfig(loop=loop)
    return replace(
        full(),
        seeds=(0, 1),
        run=run,
        probe_prompts=120,
        pairs=60,
        das_ks=(1, 2),
        das_steps=20,
        resamples=200,
    )


# The decision rule, fixed before any study run (2026-12-07; pilots in NOTES.md).
SELECTIVITY_SAME = 0.1  # |sel_C − sel_D| below this: probing rates D like C
SELECTIVITY_APART = 0.2  # sel_C − sel_D above this: probing alone tells them apart
SEPARATION = 0.5  # E_C − E_D above this: the intervention tells them apart
NO_SEPARATION = 0.2  # E_C − E_D below this: it does not
IIA_GAIN = 0.3  # IIA (k = 1) trained minus random-init above this: beats the baseline
NO_IIA_GAIN = 0.1  # below this: the subspace is no better than random features
ACCURACY = 0.95  # premises: accuracy on the test and on the decorrelated prompts
PRESENCE = 0.1  # premise: probe accuracy at the decision site above the random copy's by this
FAMILY = 3
SOLVES = "the organism solves the task"
UNUSED = "the distractor is unused"
PRESENT = "both variables are present"
RULE = (
    "At the decision site (the residual stream after the last block, final position), on "
    "prompts where C and D are independent, seeds and examples resampled crossed: "
    f"(1) probing alone: selectivity of C minus selectivity of D (held-out accuracy minus "
    f"control-task accuracy) supports if its 95% interval lies below {SELECTIVITY_SAME}, "
    f"contradicts if its {1 - 0.05 / FAMILY:.4g} interval lies above {SELECTIVITY_APART} "
    "(probing alone would have told the used variable from the unused one); "
    "(2) the intervention: the answer's logit difference moved by swapping C's "
    "mean-difference direction in from the C-flipped prompt, minus that moved by swapping "
    "D's in from the D-flipped prompt, as a share of the answer's whole swing when C flips, "
    f"supports above {SEPARATION}, contradicts below {NO_SEPARATION}; (3) the random-init "
    f"baseline: IIA of C's learned 1-d subspace (DAS; an interchange counts when the "
    "intervened choice between the two answer tokens is the counterfactual's), trained "
    f"minus random-init copy, supports "
    f"above {IIA_GAIN}, contradicts below {NO_IIA_GAIN}. Premises: ({SOLVES}) every seed's "
    f"accuracy on the test prompts is at least {ACCURACY}; ({UNUSED}) every seed's accuracy "
    f"on the decorrelated prompts is at least {ACCURACY}; ({PRESENT}) probe accuracy at "
    f"the decision site beats the random-init copy's by at least {PRESENCE} for C and for "
    "D (mean over seeds). Parts 1 and 2 rest on all three, part 3 on the first. Overall: "
    "contradicts if any part contradicts, supports if all support, else inconclusive."
)
RESTS_ON = {
    "probing alone rates D like C": (SOLVES, UNUSED, PRESENT),
    "the intervention tells them apart": (SOLVES, UNUSED, PRESENT),
    "C's subspace beats the random-init copy": (SOLVES,),
}


def premises(measures) -> dict[str, Premise]:
    """The three gates of ``RULE``."""
    low = {s: float(min(m.accuracy[s].mean() for m in measures)) for s in ("test", "decorrelated")}
    present = {v: analysis.presence(measures, v) for v in ("causal", "distractor")}
    held_present = bool(min(present.values()) >= PRESENCE)
    return {
        SOLVES: Premise(bool(low["test"] >= ACCURACY), f"lowest test accuracy {low['test']:.3f}"),
        UNUSED: Premise(
            bool(low["decorrelated"] >= ACCURACY),
            f"lowest accuracy on decorrelated prompts {low['decorrelated']:.3f}",
        ),
        PRESENT: Premise(
            held_present,
            f"probe accuracy over the random-init copy's: C {present['causal']:+.3f}, "
            f"D {present['distractor']:+.3f}",
        ),
    }


def decide(
    selectivity: Effect, separation: Effect, interchange: Effect, gates: dict[str, Premise]
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``) on effects built with ``family=FAMILY``."""
    parts = {
        "probing alone rates D like C": upper_rule(
            selectivity, SELECTIVITY_SAME, SELECTIVITY_APART
        ),
        "the intervention tells them apart": interval_rule(separation, SEPARATION, NO_SEPARATION),
        "C's subspace beats the random-init copy": interval_rule(
            interchange, IIA_GAIN, NO_IIA_GAIN
        ),
    }
    return decide_parts(parts, gates, RESTS_ON)


def run(cfg: PairedConfig, ctx: StudyContext) -> Verdict:
    """Train every organism, run the pipeline, decide, and write tables and figures."""
    measures = experiment.train_and_measure(cfg, ctx)
    effects = {
        "selectivity": analysis.selectivity_gap(measures, cfg.resamples, FAMILY),
        "separation": analysis.separation(measures, cfg.resamples, FAMILY),
        "interchange": analysis.interchange_gain(measures, cfg.resamples, FAMILY),
    }
    reported = [
        analysis.direction_effect(measures, v, cfg.resamples) for v in ("causal", "distractor")
    ]
    gates = premises(measures)
    overall, parts = decide(**effects, gates=gates)
    outputs.save(ctx, measures, cfg)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=overall.verdict,
        reason=outputs.reason(overall, measures),
        rule=RULE,
        effects=[*effects.values(), *reported],
        parts=parts,
        premises=gates,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes=outputs.design_notes(cfg),
        follow_up=outputs.follow_up(parts),
    )


def check(cfg: PairedConfig) -> None:
    """BadInput for a design the rule cannot score."""
    from regimescope.errors import BadInput

    if len(cfg.seeds) < 2:
        raise BadInput("the study needs at least 2 seeds: its intervals resample seeds")
    if 1 not in cfg.das_ks:
        raise BadInput("das_ks must include 1, the subspace size the rule decides on")
    if min(cfg.probe_prompts, cfg.pairs) < 20:
        raise BadInput("probe_prompts and pairs must be at least 20 each")


STUDY = Study(
    name="paired-analysis",
    number="7",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
    check=check,
)
