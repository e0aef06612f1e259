"""Study 4: is a capability created or activated by RL? Condition on the base's competence.

**Claim.** RL with a verifiable reward *activates* what the base holds (pass@1 rises, the
base catches up at large k) but *creates* where the base lacks the composition (RL solves
problems the base never solves); quoted as "RL activates for maths, creates for planning".

**Primary sources.** A synthesis (``shared/research/findings-1-5.md``, finding 4): ProRL
(Liu et al. 2025, arXiv 2505.24864: pass@k gains largest where the base's pass@128 is
low); Yuan et al. 2025, *From f(x) and g(x) to f(g(x))* (arXiv 2509.25123: after atomic
string functions, RL on depth-2 compositions generalises deeper and solves hard problems
the base fails, while on easy ones it only reranks); Zhang, Neubig & Yue 2025 (arXiv
2512.07783: pass@128 gains only with pretraining headroom and RL data at the edge of
competence).

**Correction.** No primary paper splits by domain. The evidence splits by the base's
*competence* on a problem family: RL creates where the base has the parts but not the
whole, and nothing where the parts are missing (zero reward; DELTA, arXiv 2509.21016,
needs dense rewards there). So each family's base competence is measured, not assumed.

**Design.** Twelve anonymised string functions in three families of four (``tasks.strings``).
The base organism (``cfg.base``) is trained from scratch, with the loss on the targets, on
the atomic functions of families A and B and on depth-2 compositions of family A only
(``strings-pretrain``, 20% compositions; 3% at full scale, see NOTES.md); family C's
atomic skills are never taught. Per seed, three GRPO runs (``cfg.rl``) start from the
base, each on the depth-2 compositions of one family.
Base and RL model draw n samples on P held-out problems of their family at depths 2-4
(C: depth 2), with the same sampling seed; the base draws once more with another sampling
seed (the reference), and at depth 1 (its atomic skills). Per family and depth: pass@k
curves, crossover k*, the creation rate (share of the problems the reference never solves
in n that RL solves; the base's own rate on them is below 3/n at 95%, the rule of three)
against the same rate of the base's own draw (the null), the loss rate, the net coverage
and the pass@1 gain. The decision reads depth 2, RL's training depth; depths 3-4 (never
trained) are labelled by the same rule. Family C is the design's control: with its
atomics missing, GRPO gets no reward, so its advantages are all zero and the model cannot
change. That is reported as a check, not decided.

**Departures.** Yuan et al. fine-tune an 8B model on atomic functions shown as code, then
RL with free-text reasoning; here a tiny organism learns the functions from examples, one
template line per composition step. Their base never practised compositions; ours
practised family A's (finding 4's latent family). "Edge of competence" is a measured
premise (the base solves some but at most half of B's depth-2 problems at n), not tuned
for. Evaluation samples at the rollout temperature 1.0; GRPO has no KL term.

**Scales.** Smoke: seconds, an untrained nano base (mechanics only). Quick: one seed,
micro base, 800 pretraining steps, 60 GRPO steps per family (10 for C), n = 64 on 32
problems per cell. Full: 3 seeds, small base, 3000 pretraining steps on 3% compositions,
300 GRPO steps (50 for C), n = 256 on 200 problems per cell. Costs, pilots and the
history of the rule: ``NOTES.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from regimescope.instruments.passk_run import PassKConfig
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig
from regimescope.sampler import SamplingConfig
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.base_organisms import organism_for
from regimescope.studies.capability_origin import analysis, experiment, outputs
from regimescope.studies.premises import NOT_WORSE, REWARD_ROSE, reward_rise, rl_premises
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
    "Whether RL creates or activates a capability depends on the base's competence, not "
    "on a domain label: where the base holds the compositions latently, RL activates "
    "(pass@1 rises, problems with zero base successes stay unsolved); where it holds "
    "only the atomic skills, RL creates (it solves problems the base never solved); where "
    "the atomic skills are missing, RL gets no reward and changes nothing."
)
SOURCE = (
    "ProRL (Liu et al. 2025, arXiv 2505.24864); Yuan et al. 2025, arXiv 2509.25123; "
    "Zhang, Neubig & Yue 2025, arXiv 2512.07783"
)
CORRECTION = (
    "A synthesis, not one paper: no primary source splits activation from creation by "
    "domain. The evidence conditions on the base's competence (pass@K of the base on the "
    "family) and on the RL data sitting at the edge of that competence, so families are "
    "told apart by measured base competence here."
)
SETUP = (
    "A micro organism is pretrained on atomic string functions of families A and B and on "
    "depth-2 compositions of A only (C's atomics are never taught), then GRPO runs on "
    "depth-2 compositions of each family. Base (twice, with two sampling seeds) and RL "
    "models are sampled n times on held-out compositions of depth 2-4: pass@k, crossover "
    "k*, creation against the base's own draw, loss rate, by family."
)

# Pre-registered thresholds (fixed before any result; changes in NOTES.md, Rule history).
GAIN_MIN = 0.02  # activation: the pass@1 gain's interval lies above 2 points
CREATION_MIN = 0.05  # creation: RL's creation rate exceeds the base's own draw's by >= 5%
LATENT_MAX_PASS1 = 0.8  # premise for A: the base's depth-2 pass@1 leaves room to rise ...
LATENT_MIN_PASSN = 0.5  # ... and it solves at least half of A's depth-2 problems at n
UNSEEN_MAX_PASSN = 0.5  # premise for B: the base solves at most half of its depth-2 problems
EDGE_MIN_PASSN = 0.0  # ... and more than none of them (the edge of competence: some reward)
PARTS = 2  # parts of the verdict (A, B): each contradicting branch is judged at 1 - 0.05/2
LABELS = ("activation", "creation", "stall", "undetermined")
A_LATENT = "family A is latent in the base"
B_EDGE = "family B sits at the edge of the base's competence"
C_MISSING = "family C's atomic skills are missing (a check of the design; gates no part)"
PART_A = "latent family A: activation"
PART_B = "atomic-only family B: creation"

RULE = (
    "Depth-2 held-out problems (the RL training depth), RL model against its base, 95% "
    "intervals from the crossed bootstrap over seeds and problems; a part contradicts "
    f"only on its {1 - 0.05 / PARTS:.4g} interval (Bonferroni over the {PARTS} parts). "
    "Creation excess = share of the problems a reference draw of the base (another "
    "sampling seed) never solves in n that RL solves at least once, minus the same share "
    "for the base's own draw (the null). "
    f"(A) latent family: supports if the pass@1 gain lies above {GAIN_MIN} and the creation "
    f"excess lies below {CREATION_MIN}; contradicts if the creation excess lies above "
    f"{CREATION_MIN}; otherwise inconclusive. "
    f"(B) atomic-only family: supports if the creation excess lies above {CREATION_MIN}; "
    f"contradicts if it lies below {CREATION_MIN}; otherwise inconclusive. "
    "Overall: both parts support -> supports; either contradicts -> contradicts; otherwise "
    "inconclusive. Premises (gates: a failed premise makes its part inconclusive, never "
    "contradicts): for each of A and B, GRPO's training reward on it rose (last tenth of "
    "the steps minus the first tenth, interval above 0) and its held-out pass@1 is not "
    "below the base's (interval not wholly below 0; so a fall in A's pass@1 cannot "
    f"contradict); A is latent (the base's depth-2 pass@1 at most {LATENT_MAX_PASS1} and "
    f"pass@n at least {LATENT_MIN_PASSN}); B is at the edge (the base solves more than "
    f"{EDGE_MIN_PASSN:g} and at most {UNSEEN_MAX_PASSN} of B's depth-2 problems at n). "
    "(C) atomics missing: reported as a check (the base solves none of C's depth-2 "
    "problems, so GRPO gets no reward and cannot change the model), not decided. Each "
    "family and depth also gets a label: creation if the creation excess lies above "
    f"{CREATION_MIN}; activation if the gain lies above {GAIN_MIN} and the creation excess "
    f"below {CREATION_MIN}; stall if the gain lies below {GAIN_MIN} and the creation excess "
    f"below {CREATION_MIN}; otherwise undetermined. The outcome depends on the family when "
    "A's and B's depth-2 labels are determined and differ."
)


def pretraining() -> PretrainConfig:
    """The quick base: atomic functions of A and B, depth-2 compositions of A only.

    The loss is on the targets only (the prompts are random strings): Yuan et al.'s stage
    1 is likewise fine-tuning on atomic solutions. It learns the atomics about twice as
    fast as the loss on every token (measured at 800 steps on a micro organism).
    """
    return PretrainConfig(
        task="strings-pretrain",  # A's depth-2 compositions at 20% of the mixture
        organism=organism_for("quick"),
        steps=800,
        lr=3e-3,
        loss_on="completion",
        batch_size=32,
        checkpoint_every=200,
        log_every=10,
    )


def grpo() -> RLConfig:
    """The quick GRPO run; ``model``, ``seed`` and the family's task are filled per run."""
    return RLConfig(
        curriculum=CurriculumConfig(tasks=("strings-depth2-a",)),  # replaced per family
        objective="grpo",
        steps=60,  # on families A and B (C: ``missing_rl_steps``)
        prompts_per_step=16,
        samples_per_prompt=8,
        temperature=1.0,
        max_new_tokens=experiment.eval_tokens(2),
        lr=3e-4,
        checkpoint_every=60,  # only the final model is evaluated
        recorder=RecorderConfig(  # every step's reward; no extra forward passes
            every=1, kl=False, changed=False, update_ratio=False, weight_norms=False
        ),
    )


def held_out() -> PassKConfig:
    """The quick evaluation; the token budget is filled per depth, the sampling seed per
    seed (and seed + 1 for the base's reference draw)."""
    return PassKConfig(
        split="test",
        problems=32,  # held-out problems per (family, depth)
        sampling=SamplingConfig(n=64, temperature=1.0),
        bootstrap=100,  # per-model intervals (unused: the study's are crossed)
        ppl_samples=0,
    )


@dataclass(frozen=True)
class CapabilityOriginConfig:
    seeds: tuple[int, ...] = (0,)  # training seeds: one base and three GRPO runs each
    base: PretrainConfig = field(default_factory=pretraining)  # ``seed`` filled per seed
    rl: RLConfig = field(default_factory=grpo)  # GRPO on one family's depth-2 compositions
    missing_rl_steps: int = 10  # GRPO steps on family C (zero reward is expected)
    eval: PassKConfig = field(default_factory=held_out)  # pass@k per (family, depth)
    depths: tuple[int, ...] = (2, 3, 4)  # evaluated composition depths (2 = RL's depth)
    bootstrap: int = 1000  # crossed bootstrap resamples of every interval


def smoke() -> CapabilityOriginConfig:
    """Seconds: an untrained nano base, 2 GRPO steps, 4 problems x 4 samples (mechanics)."""
    q = quick()
    return replace(
        q,
        base=replace(q.base, organism=organism_for("smoke"), steps=10, checkpoint_every=2),
        rl=replace(q.rl, steps=2, prompts_per_step=2, samples_per_prompt=2),
        missing_rl_steps=1,
        eval=replace(q.eval, problems=4, sampling=replace(q.eval.sampling, n=4)),
        depths=(2, 3),
        bootstrap=50,
    )


def quick() -> CapabilityOriginConfig:
    """About 2-3 minutes on 2 cores: one seed, micro base, n = 64 on 32 problems per cell."""
    return CapabilityOriginConfig()


def full() -> CapabilityOriginConfig:
    """The design: 3 seeds, small base (A's compositions at 3%), GRPO 300 steps, n = 256
    on 200 problems per cell."""
    q = quick()
    return replace(
        q,
        seeds=(0, 1, 2),
        base=replace(
            q.base,
            organism=organism_for("full"),
            task="strings-pretrain-sparse",
            steps=3000,
            checkpoint_every=750,
        ),
        rl=replace(q.rl, steps=300, checkpoint_every=300),
        missing_rl_steps=50,
        eval=replace(q.eval, problems=200, sampling=replace(q.eval.sampling, n=256)),
        bootstrap=2000,
    )


# ---------------------------------------------------------------- premises and the rule

RESTS_ON = {  # the premises each part needs (``premises`` names them)
    PART_A: (f"{REWARD_ROSE} (A)", f"{NOT_WORSE} (A)", A_LATENT),
    PART_B: (f"{REWARD_ROSE} (B)", f"{NOT_WORSE} (B)", B_EDGE),
}


def premises(found: dict, rises: dict[str, Effect], reward_c: float) -> dict[str, Premise]:
    """The gates from the depth-2 cells' effects, the reward rise of A's and B's GRPO runs
    and C's mean GRPO reward."""
    gates = {
        f"{name} ({family})": premise
        for family in ("A", "B")
        for name, premise in rl_premises(rises[family], found[family, 2]["gain"]).items()
    }
    a, b, c = found["A", 2], found["B", 2], found["C", 2]
    pass1_a, passn_a = a["base_pass1"].estimate, a["base_passn"].estimate
    gates[A_LATENT] = Premise(
        pass1_a <= LATENT_MAX_PASS1 and passn_a >= LATENT_MIN_PASSN,
        f"base pass@1 {pass1_a:.3f} on A's depth 2 (need <= {LATENT_MAX_PASS1}), pass@n "
        f"{passn_a:.3f} (need >= {LATENT_MIN_PASSN})",
    )
    passn_b = b["base_passn"].estimate
    gates[B_EDGE] = Premise(
        EDGE_MIN_PASSN < passn_b <= UNSEEN_MAX_PASSN,
        f"the base solves {passn_b:.3f} of B's depth-2 problems at n (need > "
        f"{EDGE_MIN_PASSN:g}, else GRPO gets no reward; and <= {UNSEEN_MAX_PASSN}, else B "
        "is latent too)",
    )
    passn_c = c["base_passn"].estimate
    gates[C_MISSING] = Premise(
        passn_c <= EDGE_MIN_PASSN,
        f"the base solves {passn_c:.3f} of C's depth-2 problems at n; mean GRPO reward on C "
        f"{reward_c:.4f}; {c['passn_gain'].name} {fmt(c['passn_gain'])} (zero reward makes "
        "every GRPO advantage 0, so no change is expected by construction)",
    )
    return gates


def label(gain: Effect, creation_excess: Effect) -> str:
    """What RL did on one family and depth: activation, creation, stall or undetermined."""
    if creation_excess.ci95[0] > CREATION_MIN:
        return "creation"
    if creation_excess.ci95[1] < CREATION_MIN:
        if gain.ci95[0] > GAIN_MIN:
            return "activation"
        if gain.ci95[1] < GAIN_MIN:
            return "stall"
    return "undetermined"


def decide_latent(gain: Effect, creation: Effect) -> Decision:
    """Part A: activation without creation. (A fall in pass@1 fails A's RL premise.)"""
    both = f"{gain.name} {fmt(gain)}; {creation.name} {fmt(creation)}"
    if creation.contradict_interval[0] > CREATION_MIN:
        reason = f"RL creates on A: {creation.name} {fmt(creation, wide=True)}"
        return Decision("contradicts", reason, creation.family)
    if gain.ci95[0] > GAIN_MIN and creation.ci95[1] < CREATION_MIN:
        return Decision("supports", both)
    return Decision("inconclusive", both)


def decide(
    gain_a: Effect, creation_a: Effect, creation_b: Effect, gates: dict[str, Premise]
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``): (overall decision, each part after its gates).
    ``creation_a`` and ``creation_b`` are creation excesses; effects are built with
    ``family=PARTS``."""
    parts = {
        PART_A: decide_latent(gain_a, creation_a),
        PART_B: interval_rule(creation_b, CREATION_MIN, CREATION_MIN),
    }
    return decide_parts(parts, gates, RESTS_ON)


def run(cfg: CapabilityOriginConfig, ctx: StudyContext) -> Verdict:
    """Train, measure, tabulate, plot and decide (see the module docstring)."""
    runs = [experiment.train_seed(cfg, seed, ctx.store, ctx.progress) for seed in cfg.seeds]
    measured = [experiment.measure_seed(cfg, r, ctx.progress) for r in runs]
    cell_counts, reference, atomic = experiment.pooled(measured, cfg)
    n, resamples = cfg.eval.sampling.n, cfg.bootstrap
    ctx.progress("bootstrap, tables and figures")
    decided = {("A", 2): PARTS, ("B", 2): PARTS}
    found = analysis.all_effects(cell_counts, reference, n, resamples, decided)
    rises = {f: reward_rise(experiment.training_rewards(runs, f), resamples) for f in "AB"}
    reward_c = float(np.mean([r for seed in experiment.training_rewards(runs, "C") for r in seed]))
    gates = premises(found, rises, reward_c)
    labels = {cell: label(e["gain"], e["creation_excess"]) for cell, e in found.items()}
    primary = primary_effects(found, rises) | analysis.atomic_effects(atomic, n, resamples)
    decision, parts = decide(
        primary["gain_a"], primary["creation_excess_a"], primary["creation_excess_b"], gates
    )
    training = outputs.training_table(runs)
    measured = (training, cell_counts, reference, atomic)
    outputs.save(ctx, cfg, measured, found, labels, primary, (CREATION_MIN, GAIN_MIN))
    needed = {name for names in RESTS_ON.values() for name in names}
    failed = [name for name in gates if name in needed and not gates[name].holds]
    gated = f" (premises failed: {', '.join(failed)})" if failed else ""
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=decision.verdict,
        reason=f"{decision.reason}{gated}. {summary(found, labels, primary, training, n)}",
        rule=RULE,
        effects=list(primary.values()),
        parts=parts,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        notes="smoke scale: an untrained nano base, checks the mechanics only"
        if ctx.scale == "smoke"
        else "",
        follow_up=follow_up(labels),
        premises=gates,
    )


def primary_effects(found: dict, rises: dict[str, Effect]) -> dict[str, Effect]:
    """The decision's effects first, then what stands beside them, the premises' inputs
    and the deeper cells' creation excesses."""
    a2, b2, c2 = found["A", 2], found["B", 2], found["C", 2]
    primary = {
        "gain_a": a2["gain"],
        "creation_excess_a": a2["creation_excess"],
        "creation_excess_b": b2["creation_excess"],
    }
    for family, cell in (("a", a2), ("b", b2)):
        for key in ("creation", "creation_null", "loss", "loss_null", "net_coverage"):
            primary[f"{key}_{family}"] = cell[key]
    primary |= {
        "gain_b": b2["gain"],
        "passn_gain_c": c2["passn_gain"],
        "base_pass1_a": a2["base_pass1"],
        "base_passn_a": a2["base_passn"],
        "base_passn_b": b2["base_passn"],
        "base_passn_c": c2["base_passn"],
        "reward_rise_a": rises["A"],
        "reward_rise_b": rises["B"],
    }
    for family, depth in found:
        if depth > 2:
            primary[f"creation_excess_{family.lower()}{depth}"] = found[family, depth][
                "creation_excess"
            ]
    return primary


def summary(found: dict, labels: dict, primary: dict[str, Effect], training, n: int) -> str:
    """The headline numbers in a few sentences."""
    text = ", ".join(
        f"{f}{d}: {labels[f, d]} (pass@1 {e['base_pass1'].estimate:.3f} -> "
        f"{e['rl_pass1'].estimate:.3f}, creation {e['creation'].estimate:.2f} against the "
        f"base's own {e['creation_null'].estimate:.2f}, loss {e['loss'].estimate:.2f})"
        for (f, d), e in found.items()
    )
    depends = depends_on_family(labels)
    atomic = ", ".join(f"{f} {primary[f'atomic_{f.lower()}'].estimate:.2f}" for f in "ABC")
    reward = training.groupby("family")["reward"].mean()
    rewards = ", ".join(f"{f} {r:.4f}" for f, r in reward.items())
    return (
        f"Labels by family and depth: {text}. Depends on the family at depth 2: {depends}. "
        f"Base pass@1 on atomic functions: {atomic}. Mean GRPO rollout reward: {rewards}. "
        f"n = {n}; the base's rate on problems it never solved is < 3/n = {3 / n:.3f}"
    )


def depends_on_family(labels: dict) -> str:
    a, b = labels["A", 2], labels["B", 2]
    if "undetermined" in (a, b):
        return f"undetermined (A {a}, B {b})"
    return f"{'yes' if a != b else 'no'} (A {a}, B {b})"


def follow_up(labels: dict) -> str:
    """The question the outcome opens (labels rest on the creation excess)."""
    if labels["B", 2] == "stall":
        return (
            "GRPO found too few rewards on B's compositions to climb from atomic skills: do "
            "dense partial rewards (one per correct step line, as DELTA), a longer run or a "
            "larger organism lift B off the floor?"
        )
    if labels["B", 2] == "creation":
        return (
            "RL created B's compositions from atomic skills, beyond the base's sampling "
            "noise: does the creation carry to depths RL never trained (3-4), and to B after "
            "RL on A only?"
        )
    return (
        "Would n = 256 and more seeds separate activation from creation here, and where on "
        "the competence axis does the switch happen?"
    )


STUDY = Study(
    name="capability-origin",
    number="4",
    claim=CLAIM,
    source=SOURCE,
    correction=CORRECTION,
    setup=SETUP,
    scales={"smoke": smoke, "quick": quick, "full": full},
    run=run,
)
