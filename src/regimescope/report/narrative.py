"""The report's opening: the seed essay's argument, rebuilt claim by claim from the lab's
own verdicts.

The seed essay asks what distinguishes surface mechanisms from the training regimes that
produce them, and answers by chaining ten claims. ``ARGUMENT`` holds the fixed part of
that chain: the step each claim takes in the argument, and what a tiny organism cannot
say about it whatever the result (the design's limit, known before any run). Everything
else in a paragraph is written from the study folders the report reads: the verdict at
the scale shown, the headline effect and its interval, which registered parts held,
which premises failed, and whether another scale disagrees. A rerun that moves a verdict
moves its paragraph; a claim with no finished study says so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from html import escape

from regimescope.report.collect import StudyRecord


@dataclass(frozen=True)
class Step:
    number: str  # the claim's number in DESIGN.md ("3a")
    role: str  # the step this claim takes in the seed's argument
    limit: str  # what the tiny design cannot say, whatever its verdict


ARGUMENT = (
    Step(
        "1",
        "Start at the surface: does instruction tuning teach the task, or only the space "
        "of outputs? If tuning on wrong or delusive instructions scores like tuning on "
        "right ones, what was installed is a format, not an understanding.",
        "Organisms of about 0.2M parameters on synthetic rule tasks; the paper's gap was "
        "measured on 7B models in low-resource classification.",
    ),
    Step(
        "2",
        "Then RL: does it add reasoning, or re-weight what pretraining already held? If "
        "the base model overtakes the RL model at large k, RL surfaced rather than created.",
        "Tiny bases hold far less latent skill than a pretrained LLM, so 'nothing new' is "
        "tested where there is little to surface.",
    ),
    Step(
        "3a",
        "If RL only re-weights, its footprint on the weights should be small: the claim "
        "that RL updates a sparse subnetwork, which may be an artefact of reading weights "
        "in bf16.",
        "Sparsity in bf16 depends on weight magnitudes and step sizes that differ at 7B.",
    ),
    Step(
        "3b",
        "Which samples move the weights: suppressing wrong answers (NSR) or reinforcing "
        "right ones (PSR)?",
        "Short runs; the paper sees NSR's advantage fade in long training, which the quick "
        "design cannot reach.",
    ),
    Step(
        "4",
        "When does RL create rather than activate? The answer should turn on where the "
        "task sits against the base's competence.",
        "Competence is set by construction (which skills pretraining held), not found in "
        "a pretrained model.",
    ),
    Step(
        "5",
        "How does the re-weighting unfold in time: execution tokens first, planning later?",
        "Entropy by token class needs long RL runs; the quick design stops early.",
    ),
    Step(
        "6",
        "What the surface shows at the end: RL collapses onto one pretraining format, "
        "chosen by scale. A format is the residue of a regime, not a capability.",
        "Scale here spans organisms of tens of thousands to a few million parameters.",
    ),
    Step(
        "7",
        "A claim about mechanism needs both readings of the model: a representation found "
        "by probing, confirmed by an intervention.",
        "A planted variable in a small organism is easier to find than one in an LLM.",
    ),
    Step(
        "8",
        "The same score can sit on different internals, and a gain in one capability can "
        "cost another: a score alone does not identify what training built.",
        "Part A's one-layer modular-arithmetic models are the Clock and the Pizza's own "
        "setting; part B's shortcut is planted and trained from scratch, where McCoy et al. "
        "fine-tuned a pretrained model; part C's costs of an RL gain are read on a tiny "
        "countdown organism whose confidence is a whole scratchpad's probability, where the "
        "GPT-4 report read a forced-choice answer token.",
    ),
    Step(
        "9",
        "The dynamics themselves may obey aggregate laws that predict a run before it runs.",
        "MLP students of a random teacher: laws that hold here need not hold for "
        "transformers on language.",
    ),
    Step(
        "10",
        "And the order of training may leave its own fingerprint: structured before open-ended.",
        "A programmatic judge (constrained letters plus novelty) stands in for the "
        "paper's creative-writing reward; the structured pretraining corpus has 30% of its "
        "targets from other problems, so structured RL has something to re-weight and its "
        "entropy fall is expected; three domains on a 0.1M-parameter organism.",
    ),
)


def narrative(records: list[StudyRecord]) -> str:
    """The opening section: one paragraph per claim in the essay's order, then a tally."""
    by_number = {r.study.get("number", ""): r for r in records}
    paragraphs = [paragraph(step, by_number.get(step.number)) for step in ARGUMENT]
    return (
        "<section id='argument'><h2>The argument, from the evidence</h2>"
        f"{''.join(paragraphs)}{tally(records)}</section>"
    )


def paragraph(step: Step, record: StudyRecord | None) -> str:
    """One claim: its step in the argument, what the lab measured, and the limits."""
    head = f"<b>Claim {escape(step.number)}.</b> {escape(step.role)}"
    if record is None:
        found = "Not measured yet: no study of this claim has finished here or in findings/."
        return f"<p class='claim' data-claim='{escape(step.number)}'>{head} {found}</p>"
    body = " ".join(filter(None, [measured(record), parts_line(record), premise_line(record)]))
    limits = " ".join(filter(None, [other_scales(record), f"Limit: {escape(step.limit)}"]))
    return f"<p class='claim' data-claim='{escape(step.number)}'>{head} {body} {limits}</p>"


def measured(r: StudyRecord) -> str:
    """'Measured at quick scale (3 seeds, reduced design): inconclusive; effect …'."""
    v, s = r.verdict, r.study
    n = len(v["seeds"])
    marks = [f"{n} seed{'s' if n != 1 else ''}"]
    marks += [] if v["full_design"] else ["reduced design"]
    marks += ["committed finding"] if r.source == "findings" else []
    marks += ["stale: the code has changed since"] if r.stale else []
    verdict = escape(v["verdict"])
    line = (
        f"Measured at {escape(s['scale'])} scale ({', '.join(marks)}): "
        f"<a class='{verdict}' href='#{escape(s['name'])}'>{verdict}</a>"
    )
    if v["effects"]:
        e = v["effects"][0]
        low, high = e["ci95"]
        line += (
            f"; {escape(e['name'])} {e['estimate']:.3g} [{low:.3g}, {high:.3g}] {escape(e['unit'])}"
        )
    return line + "."


def parts_line(r: StudyRecord) -> str:
    """Which registered parts held: 'Of 6 parts, 4 support (…), 1 contradicts (…), …'."""
    parts = r.verdict.get("parts", {})
    if len(parts) < 2:
        return ""
    groups: dict[str, list[str]] = {}
    for name, decision in parts.items():
        groups.setdefault(decision["verdict"], []).append(name)
    counts = []
    for verdict, plural in (("supports", "support"), ("contradicts", "contradict")):
        names = groups.get(verdict, [])
        if names:
            said = verdict if len(names) == 1 else plural
            counts.append(f"{len(names)} {said} ({escape('; '.join(names))})")
    undecided = groups.get("inconclusive", [])
    if undecided:
        counts.append(f"{len(undecided)} inconclusive ({escape('; '.join(undecided))})")
    return f"Of its {len(parts)} registered parts, " + ", ".join(counts) + "."


def failed_premises(r: StudyRecord) -> list[str]:
    """Names of the premises that failed (a design check that gates no part included)."""
    return [k for k, p in r.verdict.get("premises", {}).items() if not p["holds"]]


def premise_core(name: str) -> str:
    """A premise's name without the arm it was checked on: 'GRPO: training reward rose'
    and 'training reward rose (A)' are both 'training reward rose'."""
    core = name.rsplit(": ", 1)[-1]
    if core.endswith(")") and " (" in core:
        core = core[: core.rindex(" (")]
    return core


def premise_line(r: StudyRecord) -> str:
    failed = failed_premises(r)
    if not failed:
        return ""
    names = "; ".join(failed)
    return (
        f"Premise failed ({escape(names)}): where a part rests on it, the verdict speaks "
        "of the pipeline at this scale, not of the claim."
    )


def other_scales(r: StudyRecord) -> str:
    """The verdicts at other scales, flagged when they disagree with the one shown."""
    if not r.others:
        return ""
    shown = r.verdict["verdict"]
    items = [f"{escape(o['scale'])}: {escape(o['verdict'])}" for o in r.others]
    if any(o["verdict"] != shown for o in r.others):
        return f"The verdict depends on scale ({'; '.join(items)})."
    return f"Other scales agree ({'; '.join(items)})."


def tally(records: list[StudyRecord]) -> str:
    """What the evidence says so far: verdicts counted, and the premise that most often
    stood between a design and its claim."""
    if not records:
        return "<p>No study has finished yet: run <code>regimescope demo</code>.</p>"
    counts = Counter(r.verdict["verdict"] for r in records)
    said = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    line = f"<p><b>So far.</b> {len(records)} of {len(ARGUMENT)} claims measured: {escape(said)}."
    cores = {r.study["name"]: {premise_core(p) for p in failed_premises(r)} for r in records}
    blocked = Counter(core for found in cores.values() for core in found)
    if blocked:
        premise, n = blocked.most_common(1)[0]
        claims = [r.study["number"] for r in records if premise in cores[r.study["name"]]]
        line += (
            f" The premise that fails most often is '{escape(premise)}' "
            f"({n} of {len(records)} studies: claims {escape(', '.join(claims))}): until "
            "it holds, those verdicts test the pipeline, not the claims."
        )
    return line + "</p>"
