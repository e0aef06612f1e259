"""Render study records as one self-contained HTML page.

Figures are embedded as base64 PNGs, so the page opens anywhere; every figure, verdict and
number links to the run folder it came from (relative links, so the page and the store can
move together). No JavaScript: the page is static.
"""

from __future__ import annotations

import base64
import os
from html import escape
from pathlib import Path
from typing import Any

from regimescope.report.collect import SCALE_RANK, StudyRecord
from regimescope.report.narrative import narrative

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #ccc;padding:.4em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.supports{color:#0a6b2c;font-weight:600}
.contradicts{color:#a3121a;font-weight:600}.inconclusive{color:#8a6d00;font-weight:600}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:.9em;
color:#555}.meta{font-size:.85em;color:#555}section{border-top:2px solid #eee;margin-top:2em}
code{background:#f6f6f6;padding:0 .2em}
"""

QUESTION = (
    "What distinguishes surface mechanisms (output formats, behaviours, reasoning "
    "moves) from the training regimes that produce them, and why are the two so easy "
    "to confuse?"
)


def link(target: Path, base: Path) -> str:
    """A relative href from the report's folder to ``target``."""
    return escape(os.path.relpath(target.resolve(), base.resolve()))


def effect_text(effect: dict[str, Any] | None) -> str:
    if effect is None:
        return "—"
    low, high = effect["ci95"]
    return (
        f"{escape(effect['name'])}: {effect['estimate']:.3f} "
        f"[{low:.3f}, {high:.3f}] {escape(effect['unit'])}"
    )


def verdict_table(records: list[StudyRecord], base: Path) -> str:
    rows = []
    for r in records:
        v, s = r.verdict, r.study
        effect = v["effects"][0] if v["effects"] else None
        rows.append(
            f"<tr class='verdict-row'><td>{escape(s['number'])}</td><td>{escape(s['claim'])}</td>"
            f"<td>{escape(s['source'])}</td><td class='{escape(v['verdict'])}'>"
            f"<a href='#{escape(s['name'])}'>{escape(v['verdict'])}</a></td>"
            f"<td><a href='{link(r.folder, base)}'>{effect_text(effect)}</a></td>"
            f"<td>{len(v['seeds'])}</td><td>{escape(s['scale'])}{origin(r.source, r.stale)}"
            f"{'' if v['full_design'] else ', reduced'}</td>"
            f"<td>{other_verdicts(r, base)}</td></tr>"
        )
    head = (
        "<tr><th>#</th><th>claim</th><th>primary source</th><th>verdict</th>"
        "<th>effect, 95% interval</th><th>seeds</th><th>scale</th><th>at other scales</th></tr>"
    )
    return f"<table id='verdicts'>{head}{''.join(rows)}</table>"


def origin(source: str, stale: bool) -> str:
    """' (committed, stale)': where a verdict comes from, when not this machine's store,
    and whether the code that made it has changed since."""
    marks = (["committed"] if source == "findings" else []) + (["stale"] if stale else [])
    return f" ({', '.join(marks)})" if marks else ""


def other_verdicts(r: StudyRecord, base: Path) -> str:
    """'quick: contradicts' for each other scale the store holds, linked to its folder."""
    return (
        "; ".join(
            f"{escape(o['scale'])}: <a class='{escape(o['verdict'])}' "
            f"href='{link(Path(o['folder']), base)}'>{escape(o['verdict'])}</a>"
            f"{origin(o.get('source', 'store'), o.get('stale', False))}"
            for o in r.others
        )
        or "—"
    )


def scale_dependence(r: StudyRecord) -> str:
    """A warning paragraph when the verdict at another scale differs from this one."""
    differ = [o for o in r.others if o["verdict"] != r.verdict["verdict"]]
    if not differ:
        return ""
    then = "; ".join(
        f"at {escape(o['scale'])} scale it was <span class='{escape(o['verdict'])}'>"
        f"{escape(o['verdict'])}</span> ({effect_text(o['effect'])})"
        for o in differ
    )
    shown = SCALE_RANK.get(r.study["scale"], -1)
    if any(SCALE_RANK.get(o["scale"], -1) > shown for o in differ):
        advice = "The larger design speaks for the claim; this one does not."
    else:
        advice = "Read the smaller design as a check of the pipeline, not as evidence."
    return (
        f"<p><b>The verdict depends on scale.</b> This section shows the "
        f"{escape(r.study['scale'])} design; {then}. {advice}</p>"
    )


def figure_html(png: Path, caption: str, folder: Path, base: Path) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return (
        f"<figure><a href='{link(png, base)}'><img alt='{escape(caption or png.stem)}' "
        f"src='data:image/png;base64,{data}'></a><figcaption>{escape(caption or png.stem)} "
        f"(<a href='{link(folder, base)}'>run folder</a>)</figcaption></figure>"
    )


def study_section(r: StudyRecord, base: Path) -> str:
    s, v = r.study, r.verdict
    effects = "".join(f"<li>{effect_text(e)}</li>" for e in v["effects"])
    parts = "".join(
        f"<li>{escape(k)}: <span class='{escape(d['verdict'])}'>{escape(d['verdict'])}"
        f"</span> — {escape(d['reason'])}</li>"
        for k, d in v["parts"].items()
    )
    figures = "".join(figure_html(p, c, r.folder, base) for p, c in r.figures)
    tables = ", ".join(f"<a href='{link(t, base)}'>{escape(t.name)}</a>" for t in r.tables)
    correction = (
        f"<p><b>Correction from the primary paper.</b> {escape(s['correction'])}</p>"
        if s["correction"]
        else ""
    )
    design = "" if v["full_design"] else "<p><b>Reduced design.</b> See the notes.</p>"
    if r.stale:
        design += (
            "<p class='stale'><b>Stale.</b> The code that measures and decides this study has "
            "changed since this verdict was made; rerun the study to refresh it.</p>"
        )
    premises = "".join(
        f"<li>premise {escape(k)}: {'holds' if p['holds'] else '<b>fails</b>'} — "
        f"{escape(p['reason'])}</li>"
        for k, p in v.get("premises", {}).items()
    )
    notes = f"<p><b>Notes.</b> {escape(v['notes'])}</p>" if v["notes"] else ""
    wall = r.summary.get("wall_s")
    return (
        f"<section id='{escape(s['name'])}'><h2>{escape(s['number'])}. {escape(s['claim'])}</h2>"
        f"<p class='meta'>{escape(s['source'])} · study <code>{escape(s['name'])}</code> · "
        f"scale {escape(s['scale'])} · seeds {escape(str(v['seeds']))} · "
        f"wall time {wall:.0f} s · <a href='{link(r.folder, base)}'>"
        f"{'committed finding' if r.source == 'findings' else 'run folder'}</a></p>"
        f"{correction}<p><b>Setup.</b> {escape(s['setup'])}</p>{figures}"
        f"<p><b>Decision rule</b> (written before the data). {escape(v['rule'])}</p>"
        f"<p><b>Verdict:</b> <span class='{escape(v['verdict'])}'>{escape(v['verdict'])}</span> — "
        f"{escape(v['reason'])}</p>{scale_dependence(r)}<ul>{premises}{effects}{parts}</ul>{design}{notes}"
        f"<p class='meta'>tables: {tables or '—'}</p></section>"
    )


def next_lines(records: list[StudyRecord]) -> str:
    items = [
        f"<li><a href='#{escape(r.study['name'])}'>{escape(r.study['number'])}</a> "
        f"({escape(r.verdict['verdict'])}): "
        f"{escape(r.verdict['follow_up'] or r.verdict['reason'])}</li>"
        for r in records
        if r.verdict["verdict"] != "supports"
    ]
    body = (
        "".join(items) or "<li>Every claim was supported at this scale; rerun at full scale.</li>"
    )
    return f"<section id='next'><h2>Next inquiring lines</h2><ul>{body}</ul></section>"


def provenance(records: list[StudyRecord], wall_s: float | None) -> str:
    metas = [r.meta for r in records]
    first = metas[0] if metas else {}
    versions = first.get("versions", {})
    commits = sorted({str(m.get("git_commit")) for m in metas})
    total = wall_s if wall_s is not None else sum(r.summary.get("wall_s") or 0 for r in records)
    return (
        f"<p class='meta' id='provenance'>regimescope {escape(versions.get('regimescope', '?'))}"
        f" · torch {escape(versions.get('torch', '?'))} · transformers "
        f"{escape(versions.get('transformers', '?'))} · git {escape(', '.join(commits) or '?')}"
        f" · scale {escape(', '.join(sorted({r.study['scale'] for r in records})) or '?')}"
        f" · machine {escape(first.get('machine', '?'))}, "
        f"{escape(str(first.get('torch_threads', '?')))}"
        f" threads · wall time {total:.0f} s</p>"
    )


def render(records: list[StudyRecord], out_dir: Path, wall_s: float | None = None) -> str:
    """The whole page as a string; links are relative to ``out_dir``."""
    sections = "".join(study_section(r, out_dir) for r in records)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>regimescope report</title>"
        f"<style>{STYLE}</style></head><body><h1>regimescope report</h1>"
        f"<p><i>{escape(QUESTION)}</i></p><p>Each claim below was turned into a controlled "
        "experiment on model organisms trained here from scratch; a verdict comes from a decision "
        "rule written before the data.</p>"
        f"{narrative(records)}{next_lines(records)}"
        f"{provenance(records, wall_s)}{verdict_table(records, out_dir)}{sections}"
        "</body></html>"
    )
