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
The base organism is trained from scratch, with the loss on the targets, on the atomic
functions of families A and B and on depth-2 compositions of family A only
(``strings-pretrain``, 20% compositions; 3% at full scale, see Scales); family C's atomic
skills are never taught. Per seed, three GRPO runs start from the base, each on the
depth-2 compositions of one family.
Base and RL model draw n samples on P held-out problems of their family at depths 2-4
(C: depth 2), with the same sampling seed; the base also at depth 1 (its atomic skills).
Per family and depth: pass@k curves, crossover k*, the creation rate (share of problems
with zero base successes in n that RL solves; the base's own rate on them is below 3/n at
95%, the rule of three) and the pass@1 gain. The decision reads depth 2, RL's training
depth; depths 3-4 (never trained) are labelled by the same rule.

**Departures.** Yuan et al. fine-tune an 8B model on atomic functions shown as code, then
RL with free-text reasoning; here a tiny organism learns the functions from examples, one
template line per composition step. Their base never practised compositions; ours
practised family A's (finding 4's latent family). "Edge of competence" is a measured
premise (the base solves some but at most half of B's depth-2 problems at n), not tuned
for. Evaluation samples at the rollout temperature 1.0; GRPO has no KL term.

**Scales.** Smoke: seconds, an untrained nano base (mechanics only). Quick: one seed,
micro base, 800 pretraining steps, 80 GRPO steps per family (10 for C), n = 64 on 48
problems per cell (about 100 s of CPU). Full: 3 seeds, small base, 3000 pretraining steps
on 3% compositions, 300 GRPO steps (50 for C), n = 256 on 200 problems per cell (about
1.5 core-hours: per seed 5-7 min pretraining, 1-4 min per GRPO run, 15 min sampling).
At 20% the small base *solved* A (depth-2 pass@1 0.998, ``capability-origin-923f6d57c9d0``):
activation was untestable. A premise-only pilot at 3% (seed 0, 100 problems x 64): A's
pass@1 0.57, pass@64 0.86 (latent, like quick's 0.44, 0.83); B's pass@64 0.02.
"""

from __future__ import annotations

from dataclasses import dataclass

from regimescope.studies import capability_origin_figures as figure_parts
from regimescope.studies import capability_origin_parts as parts
from regimescope.studies import capability_origin_tables as table_parts
from regimescope.studies.base import Study, StudyContext
from regimescope.studies.verdict import Decision, Effect, Verdict, combine, fmt

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
    "depth-2 compositions of each family. Base and RL models are sampled n times on "
    "held-out compositions of depth 2-4: pass@k, crossover k*, creation rate, by family."
)

# Pre-registered thresholds (fixed before any result).
GAIN_MIN = 0.02  # activation: the pass@1 gain's interval lies above 2 points
CREATION_MIN = 0.05  # creation: RL solves >= 5% of the base-unsolved problems (interval)
UNSEEN_MAX_PASSN = 0.5  # premise for B: the base solves at most half of its depth-2 problems
EDGE_MIN_PASSN = 0.0  # ... and more than none of them (the edge of competence: some reward)
STALL_MAX = 0.02  # stall: C's pass@n gain lies within +-2 points
DESIGN_N, DESIGN_PROBLEMS, DESIGN_SEEDS = 256, 200, 3  # the full design (finding 4: n = 256)
LABELS = ("activation", "creation", "stall", "undetermined")

RULE = (
    "Depth-2 held-out problems (the RL training depth), RL model against its base, 95% "
    "intervals from the bootstrap over seeds and problems. Creation rate = share of "
    "problems with 0 of n base successes that RL solves at least once. "
    f"(A) latent family: supports if the pass@1 gain lies above {GAIN_MIN} and the creation "
    f"rate lies below {CREATION_MIN}; contradicts if the creation rate lies above "
    f"{CREATION_MIN} or the gain lies below 0; otherwise inconclusive. "
    f"(B) atomic-only family: supports if the creation rate lies above {CREATION_MIN}; "
    f"contradicts if it lies below {CREATION_MIN}; otherwise inconclusive. Premise: the base "
    f"solves more than {EDGE_MIN_PASSN:g} and at most {UNSEEN_MAX_PASSN} of B's depth-2 "
    "problems at n (B sits at the edge of competence: reachable, not latent); if not, part "
    "B is inconclusive whatever the rate. "
    f"(C) atomics missing: supports if the pass@n gain lies within +-{STALL_MAX}; contradicts "
    f"if it lies wholly outside; otherwise inconclusive. Overall: all parts support -> "
    "supports; any contradicts -> contradicts; otherwise inconclusive. Each family and "
    "depth also gets a label: creation if the creation rate lies above "
    f"{CREATION_MIN}; activation if the gain lies above {GAIN_MIN} and the creation rate "
    f"below {CREATION_MIN}; stall if the gain lies below {GAIN_MIN} and the creation rate "
    f"below {CREATION_MIN}; otherwise undetermined. The outcome depends on the family when "
    "A's and B's depth-2 labels are determined and differ."
)


@dataclass(frozen=True)
class CapabilityOriginConfig:
    seeds: tuple[int, ...] = (0,)  # training seeds: one base and three GRPO runs each
    organism_scale: str = "quick"  # organism size of ``bases.organism_for`` (nano/micro/small)
    pretrain_task: str = "strings-pretrain"  # base mixture: A's depth-2 compositions at 20%
    pretrain_steps: int = 800  # base pretraining steps on it (batch 32)
    pretrain_lr: float = 3e-3  # base peak learning rate
    rl_steps: int = 80  # GRPO steps on families A and B
    missing_rl_steps: int = 10  # GRPO steps on family C (zero reward is expected)
    prompts_per_step: int = 16  # GRPO prompts per step
    samples_per_prompt: int = 8  # GRPO group size
    rl_lr: float = 3e-4  # GRPO learning rate (constant)
    temperature: float = 1.0  # rollout and evaluation temperature
    depths: tuple[int, ...] = (2, 3, 4)  # evaluated composition depths (2 = RL's depth)
    problems: int = 48  # held-out problems per (family, depth)
    n: int = 64  # samples per problem and model (pass@k for k <= n)
    bootstrap: int = 1000  # bootstrap resamples of every interval


def smoke() -> CapabilityOriginConfig:
    """Seconds: an untrained nano base, 2 GRPO steps, 4 problems x 4 samples (mechanics)."""
    return CapabilityOriginConfig(
        organism_scale="smoke",
        pretrain_steps=10,
        rl_steps=2,
        missing_rl_steps=1,
        prompts_per_step=2,
        samples_per_prompt=2,
        depths=(2, 3),
        problems=4,
        n=4,
        bootstrap=50,
    )


def quick() -> CapabilityOriginConfig:
    """About 1.5-2 minutes on 2 cores: one seed, micro base, n = 64 on 48 problems per cell."""
    return CapabilityOriginConfig()


def full() -> CapabilityOriginConfig:
    """The design: 3 seeds, small base (A's compositions at 3%), GRPO 300 steps, n = 256
    on 200 problems per cell."""
    return CapabilityOriginConfig(
        seeds=(0, 1, 2),
        organism_scale="full",
        pretrain_task="strings-pretrain-sparse",
        pretrain_steps=3000,
        rl_steps=300,
        missing_rl_steps=50,
        problems=DESIGN_PROBLEMS,
        n=DESIGN_N,
        bootstrap=2000,
    )


def label(gain: Effect, creation: Effect) -> str:
    """What RL did on one family and depth: activation, creation, stall or undetermined."""
    if creation.ci95[0] > CREATION_MIN:
        return "creation"
    if creation.ci95[1] < CREATION_MIN:
        if gain.ci95[0] > GAIN_MIN:
            return "activation"
        if gain.ci95[1] < GAIN_MIN:
            return "stall"
    return "undetermined"


def decide(
    gain_a: Effect, creation_a: Effect, creation_b: Effect, base_passn_b: float, stall_c: Effect
) -> tuple[Decision, dict[str, Decision]]:
    """The pre-registered rule (``RULE``): (overall decision, decision of each part)."""
    decisions = {
        "latent family A: activation": decide_latent(gain_a, creation_a),
        "atomic-only family B: creation": decide_unseen(creation_b, base_passn_b),
        "atomics missing, family C: no reward, no change": decide_missing(stall_c),
    }
    return combine(decisions), decisions


def decide_latent(gain: Effect, creation: Effect) -> Decision:
    if creation.ci95[0] > CREATION_MIN:
        return Decision("contradicts", f"RL creates on A: {creation.name} {fmt(creation)}")
    if gain.ci95[1] < 0:
        return Decision("contradicts", f"RL lowers A's pass@1: {gain.name} {fmt(gain)}")
    if gain.ci95[0] > GAIN_MIN and creation.ci95[1] < CREATION_MIN:
        return Decision("supports", f"{gain.name} {fmt(gain)}; {creation.name} {fmt(creation)}")
    return Decision("inconclusive", f"{gain.name} {fmt(gain)}; {creation.name} {fmt(creation)}")


def decide_unseen(creation: Effect, base_passn: float) -> Decision:
    if base_passn > UNSEEN_MAX_PASSN:
        return Decision(
            "inconclusive",
            f"premise failed: the base already solves {base_passn:.3f} of B's depth-2 problems "
            f"(> {UNSEEN_MAX_PASSN}), so B is latent too",
        )
    if base_passn <= EDGE_MIN_PASSN:
        return Decision(
            "inconclusive",
            "premise failed: the base solves none of B's depth-2 problems in n samples, so B "
            "is beyond the edge of competence and GRPO can get no reward (as for C)",
        )
    if creation.ci95[0] > CREATION_MIN:
        return Decision("supports", f"{creation.name} {fmt(creation)} lies above {CREATION_MIN}")
    if creation.ci95[1] < CREATION_MIN:
        return Decision("contradicts", f"{creation.name} {fmt(creation)} lies below {CREATION_MIN}")
    return Decision("inconclusive", f"{creation.name} {fmt(creation)} straddles {CREATION_MIN}")


def decide_missing(gain: Effect) -> Decision:
    low, high = gain.ci95
    if low > -STALL_MAX and high < STALL_MAX:
        return Decision("supports", f"{gain.name} {fmt(gain)} lies within ±{STALL_MAX}")
    if low >= STALL_MAX or high <= -STALL_MAX:
        return Decision("contradicts", f"{gain.name} {fmt(gain)} lies outside ±{STALL_MAX}")
    return Decision("inconclusive", f"{gain.name} {fmt(gain)} crosses ±{STALL_MAX}")


def run(cfg: CapabilityOriginConfig, ctx: StudyContext) -> Verdict:
    """Train, measure, tabulate, plot and decide (see the module docstring)."""
    runs = [parts.train_seed(cfg, seed, ctx.store, ctx.progress) for seed in cfg.seeds]
    measured = [parts.measure_seed(cfg, r, ctx.progress) for r in runs]
    cell_counts, atomic = parts.pooled(measured, cfg)
    ctx.progress("bootstrap, tables and figures")
    found = parts.all_effects(cell_counts, cfg.n, cfg.bootstrap)
    labels = {cell: label(e["gain"], e["creation"]) for cell, e in found.items()}
    primary = primary_effects(found, atomic, cfg)
    decision, decisions = decide(
        primary["gain_a"],
        primary["creation_a"],
        primary["creation_b"],
        primary["base_passn_b"].estimate,
        primary["stall_c"],
    )
    training = table_parts.training_table(runs)
    save_outputs(cfg, ctx, training, cell_counts, atomic, found, labels, primary)
    shortfalls = design_shortfalls(cfg, ctx.scale)
    return Verdict(
        study=STUDY.name,
        claim=CLAIM,
        verdict=decision.verdict,
        reason=f"{decision.reason}. {summary(found, labels, primary, training, cfg.n)}",
        rule=RULE,
        effects=list(primary.values()),
        parts=decisions,
        scale=ctx.scale,
        seeds=list(cfg.seeds),
        full_design=not shortfalls,
        notes="; ".join(shortfalls),
        follow_up=follow_up(labels),
    )


def primary_effects(found: dict, atomic: dict, cfg: CapabilityOriginConfig) -> dict[str, Effect]:
    """The decision's effects first, then the premises and the deeper cells' effects."""
    a2, b2, c2 = found["A", 2], found["B", 2], found["C", 2]
    primary = {
        "gain_a": a2["gain"],
        "creation_a": a2["creation"],
        "creation_b": b2["creation"],
        "stall_c": c2["passn_gain"],
        "gain_b": b2["gain"],
        "base_passn_a": a2["base_passn"],
        "base_passn_b": b2["base_passn"],
        "base_passn_c": c2["base_passn"],
    }
    for family, counts in atomic.items():
        primary[f"atomic_{family.lower()}"] = parts.mean_effect(
            f"base pass@1 on atomic functions ({family})", counts / cfg.n, cfg.bootstrap
        )
    for family, depth in found:
        if depth > 2:
            primary[f"creation_{family.lower()}{depth}"] = found[family, depth]["creation"]
    return primary


def save_outputs(cfg, ctx: StudyContext, training, cell_counts, atomic, found, labels, primary):
    """Tables and figures of the study folder."""
    n = cfg.n
    passk = table_parts.passk_table(cell_counts, n, cfg.bootstrap)
    creation = table_parts.creation_table(found, cell_counts, n, labels)
    competence = table_parts.competence_table(cell_counts, atomic, n, cfg.bootstrap)
    ctx.save_table("passk", passk)
    ctx.save_table("per_problem", table_parts.per_problem_table(cfg.seeds, cell_counts, atomic, n))
    ctx.save_table("creation", creation)
    ctx.save_table("competence", competence)
    ctx.save_table("rl_training", training)
    ctx.save_table("effects", table_parts.effects_frame(primary, found))
    ctx.save_figure(
        "passk_curves",
        figure_parts.figure_passk(passk, creation, cfg.depths, n),
        f"pass@k of the base and of GRPO on the same family, on {cfg.problems} held-out "
        "problems per family and depth; bands are 95% bootstrap intervals.",
    )
    ctx.save_figure(
        "creation",
        figure_parts.figure_creation(creation, n, CREATION_MIN, GAIN_MIN),
        "Creation rate (base-unsolved problems RL solves) and pass@1 gain per family and "
        "depth, with 95% bootstrap intervals.",
    )
    ctx.save_figure(
        "rl_rewards",
        figure_parts.figure_rewards(training),
        "Mean rollout reward during GRPO on depth-2 compositions of each family; family C "
        "lacks the atomic skills.",
    )
    ctx.save_figure(
        "competence",
        figure_parts.figure_competence(competence, creation, n),
        f"Base pass@{n} by family and depth (left) and the creation rate of each cell "
        "against the base's competence on it (right), 95% intervals.",
    )


def summary(found: dict, labels: dict, primary: dict[str, Effect], training, n: int) -> str:
    """The headline numbers in a few sentences."""
    text = ", ".join(
        f"{f}{d}: {labels[f, d]} (pass@1 {e['base_pass1'].estimate:.3f} -> "
        f"{e['rl_pass1'].estimate:.3f}, creation {e['creation'].estimate:.2f})"
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


def design_shortfalls(cfg: CapabilityOriginConfig, scale: str) -> list[str]:
    """Where this run falls short of the full design (empty when it runs it all)."""
    gaps = []
    if scale == "smoke":
        gaps.append("smoke scale: an untrained nano base, checks the mechanics only")
    if cfg.n < DESIGN_N:
        gaps.append(f"n = {cfg.n} samples per problem, below the design's {DESIGN_N}")
    if cfg.problems < DESIGN_PROBLEMS:
        gaps.append(f"{cfg.problems} problems per cell, below the design's {DESIGN_PROBLEMS}")
    if len(cfg.seeds) < DESIGN_SEEDS:
        gaps.append(f"{len(cfg.seeds)} seed(s), below the design's {DESIGN_SEEDS}")
    if tuple(cfg.depths) != (2, 3, 4):
        gaps.append(f"depths {cfg.depths}, not the design's 2-4")
    return gaps


def follow_up(labels: dict) -> str:
    """The question the outcome opens."""
    if labels["B", 2] == "stall":
        return (
            "GRPO found too few rewards on B's compositions to climb from atomic skills: do "
            "dense partial rewards (one per correct step line, as DELTA), a longer run or a "
            "larger organism lift B off the floor?"
        )
    if labels["B", 2] == "creation":
        return (
            "RL created B's compositions from atomic skills: does the creation carry to "
            "depths RL never trained (3-4), and to B after RL on A only?"
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
