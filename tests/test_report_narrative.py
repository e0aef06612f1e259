"""The report's opening argument is written from the verdicts it reads, in the essay's order."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from regimescope.report.collect import StudyRecord
from regimescope.report.html import render
from regimescope.report.narrative import ARGUMENT, narrative, premise_core


def record(number: str, verdict: str, premises: dict | None = None, **kw) -> StudyRecord:
    parts = kw.pop("parts", {"a": verdict, "b": "inconclusive"})
    return StudyRecord(
        folder=Path("/nowhere") / number,
        study={
            "name": f"study-{number}",
            "number": number,
            "claim": "c",
            "source": "s",
            "correction": "",
            "setup": "x",
            "scale": kw.pop("scale", "quick"),
        },
        verdict={
            "verdict": verdict,
            "reason": "r",
            "rule": "rule",
            "effects": [{"name": "gain", "estimate": 0.25, "ci95": [0.1, 0.4], "unit": "fraction"}],
            "parts": {k: {"verdict": v, "reason": "r"} for k, v in parts.items()},
            "premises": {k: {"holds": h, "reason": "r"} for k, h in (premises or {}).items()},
            "seeds": [0, 1, 2],
            "full_design": False,
            "notes": "",
            "follow_up": "",
        },
        meta={},
        summary={"wall_s": 1.0},
        **kw,
    )


def claim_paragraphs(html: str) -> dict[str, str]:
    found = re.findall(r"<p class='claim' data-claim='([^']+)'>(.*?)</p>", html)
    return dict(found)


def test_one_paragraph_per_claim_in_the_essays_order():
    html = narrative([record("9", "supports"), record("2", "contradicts")])
    numbers = re.findall(r"data-claim='([^']+)'", html)
    assert numbers == [step.number for step in ARGUMENT]
    paragraphs = claim_paragraphs(html)
    assert "Not measured yet" in paragraphs["1"]
    assert "Not measured yet" not in paragraphs["9"]
    assert "2 of 11 claims measured" in html


def test_a_rerun_that_moves_a_verdict_moves_its_paragraph():
    before = claim_paragraphs(narrative([record("2", "supports")]))["2"]
    after = claim_paragraphs(narrative([record("2", "contradicts")]))["2"]
    assert "class='supports'" in before and "class='contradicts'" not in before
    assert "class='contradicts'" in after
    assert "gain 0.25 [0.1, 0.4] fraction" in after
    assert "1 contradicts (a), 1 inconclusive (b)" in after


def test_failed_premises_are_named_and_the_commonest_is_counted_across_arms():
    records = [
        record("3b", "inconclusive", {"GRPO: training reward rose": False, "other": True}),
        record("4", "inconclusive", {"training reward rose (A)": False}),
        record("2", "supports", {"training reward rose": True}),
    ]
    html = narrative(records)
    paragraphs = claim_paragraphs(html)
    assert "Premise failed (GRPO: training reward rose)" in paragraphs["3b"]
    assert "Premise failed" not in paragraphs["2"]
    assert "'training reward rose' (2 of 3 studies: claims 3b, 4)" in html
    assert premise_core("GRPO + bonus: held-out pass@1 (B)") == "held-out pass@1"


def test_a_verdict_that_changes_with_scale_is_flagged_and_staleness_is_said():
    other = {"scale": "quick", "verdict": "inconclusive"}
    full = record("9", "contradicts", scale="full", others=[other], stale=True)
    paragraph = claim_paragraphs(narrative([full]))["9"]
    assert "Measured at full scale" in paragraph
    assert "The verdict depends on scale (quick: inconclusive)" in paragraph
    assert "stale" in paragraph
    agreeing = replace(full, others=[{"scale": "quick", "verdict": "contradicts"}], stale=False)
    assert "Other scales agree" in claim_paragraphs(narrative([agreeing]))["9"]


def test_the_report_opens_with_the_argument_then_the_next_lines(tmp_path):
    html = render([record("2", "contradicts")], tmp_path)
    assert html.index("id='argument'") < html.index("id='next'") < html.index("id='verdicts'")
