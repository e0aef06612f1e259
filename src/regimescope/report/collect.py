"""Read finished study folders from the run store and from ``findings/`` (and nothing else).

The report imports no training or study code: everything it shows comes from the files a
study wrote (``study.json``, ``verdict.json``, ``tables/``, ``figures/``, ``meta.json``,
``complete.json``; a finding is a copy of them, see ``regimescope/findings.py``), so a
report can be re-rendered anywhere the store or the findings are.

A folder is **stale** when the fingerprint of the code that made it (``study.json``'s
``code``) is not today's: the caller passes today's fingerprints (``current``, computed in
``commands/``), since computing them means reading study code. A stale verdict is never
chosen over a current one, and is marked wherever it is shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class StudyRecord:
    folder: Path  # the study's run folder
    study: dict[str, Any]  # study.json: name, number, claim, source, correction, setup, scale
    verdict: dict[str, Any]  # verdict.json
    meta: dict[str, Any]  # meta.json: versions, git commit, machine, times
    summary: dict[str, Any]  # complete.json: verdict and wall_s
    figures: list[tuple[Path, str]] = field(default_factory=list)  # (png, caption)
    tables: list[Path] = field(default_factory=list)  # csv files
    others: list[dict[str, Any]] = field(default_factory=list)  # verdicts at other scales
    stale: bool = False  # made by code whose fingerprint is not today's
    source: str = "store"  # "store" (this machine's runs) or "findings" (committed results)

    @property
    def sort_key(self) -> tuple:
        number = self.study.get("number", "")
        digits = "".join(c for c in number if c.isdigit())
        return (int(digits) if digits else 99, number, self.study.get("name", ""))


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def read_study(folder: Path) -> StudyRecord:
    """One complete study folder as a record."""
    figures_dir = folder / "figures"
    captions_file = figures_dir / "captions.json"
    captions = read_json(captions_file) if captions_file.is_file() else {}
    figures = [(p, captions.get(p.stem, "")) for p in sorted(figures_dir.glob("*.png"))]
    return StudyRecord(
        folder=folder,
        study=read_json(folder / "study.json"),
        verdict=read_json(folder / "verdict.json"),
        meta=read_json(folder / "meta.json"),
        summary=read_json(folder / "complete.json"),
        figures=figures,
        tables=sorted((folder / "tables").glob("*.csv")),
    )


SCALE_RANK = {"smoke": 0, "quick": 1, "full": 2}  # a larger design speaks for the study


def collect_studies(
    store: str | Path,
    scale: str | None = None,
    current: dict[str, str] | None = None,
    findings: str | Path | None = None,
) -> list[StudyRecord]:
    """Every complete study under ``<store>/study/``, one per study name, in claim order:
    the newest at the largest scale present (full over quick over smoke), or at ``scale``
    when given. Each record lists the newest verdict at every other scale in ``others``,
    so a verdict that changes with scale is shown, not hidden.

    With ``current`` (study name -> today's code fingerprint), stale folders are marked,
    and at each scale a current folder is preferred to a newer stale one; the largest
    scale is chosen among current folders, and a stale one is chosen only where no
    current one exists (it is then marked stale).

    With ``findings`` (a findings folder), its committed folders join the store's; at
    equal staleness and scale the one that finished last is shown.
    """
    chosen = []
    for group in _by_name(store, current, findings).values():
        newest = newest_per_scale(group)
        fresh = {k: r for k, r in newest.items() if not r.stale}
        pool = fresh or newest
        picked = newest.get(scale) if scale is not None else pool[max(pool, key=_rank)]
        if picked is not None:
            others = [_brief(r) for r in newest.values() if r is not picked]
            chosen.append(replace(picked, others=sorted(others, key=lambda o: _rank(o["scale"]))))
    return sorted(chosen, key=lambda r: r.sort_key)


def newest_per_scale(group: list[StudyRecord]) -> dict[str, StudyRecord]:
    """scale -> the record of that scale that finished last, a current one before any
    stale one."""
    newest: dict[str, StudyRecord] = {}
    for record in sorted(group, key=lambda r: (not r.stale, r.meta.get("finished", ""))):
        newest[record.study.get("scale", "")] = record
    return newest


def verdicts_by_scale(
    store: str | Path,
    current: dict[str, str] | None = None,
    findings: str | Path | None = None,
) -> dict[str, dict[str, str]]:
    """study name -> {scale: verdict} of the newest complete folder at each scale
    ({} for a store that holds none); a stale verdict reads ``"supports (stale)"``."""
    return {
        name: {scale: _label(r) for scale, r in newest_per_scale(group).items()}
        for name, group in _by_name(store, current, findings).items()
    }


def _label(record: StudyRecord) -> str:
    return record.verdict["verdict"] + (" (stale)" if record.stale else "")


def _by_name(
    store: str | Path,
    current: dict[str, str] | None = None,
    findings: str | Path | None = None,
) -> dict[str, list[StudyRecord]]:
    """Every complete study folder under ``<store>/study/`` (and every finding under
    ``findings``), grouped by study name, marked stale where ``current`` gives another
    fingerprint for its study."""
    folders = [(p.parent, "store") for p in sorted((Path(store) / "study").glob("*/complete.json"))]
    if findings is not None:
        folders += [
            (p.parent, "findings") for p in sorted(Path(findings).glob("*/*/complete.json"))
        ]
    groups: dict[str, list[StudyRecord]] = {}
    for folder, source in folders:
        record = replace(read_study(folder), source=source)
        name = record.study["name"]
        if current is not None and name in current:
            record = replace(record, stale=record.study.get("code") != current[name])
        groups.setdefault(name, []).append(record)
    return groups


def _rank(scale: str) -> int:
    return SCALE_RANK.get(scale, -1)


def _brief(record: StudyRecord) -> dict[str, Any]:
    """A record at another scale, as the report shows it: scale, verdict, primary effect."""
    effects = record.verdict["effects"]
    return {
        "scale": record.study["scale"],
        "verdict": record.verdict["verdict"],
        "effect": _effect(effects[0]) if effects else None,
        "folder": str(record.folder),
        "stale": record.stale,
        "source": record.source,
    }


def _effect(effect: dict[str, Any]) -> dict[str, Any]:
    return {k: effect[k] for k in ("name", "estimate", "ci95", "unit")}


def verdict_summary(records: list[StudyRecord]) -> list[dict[str, Any]]:
    """The machine-readable summary: one record per study."""
    rows = []
    for r in records:
        primary = r.verdict["effects"][0] if r.verdict["effects"] else None
        rows.append(
            {
                "name": r.study["name"],
                "number": r.study["number"],
                "claim": r.study["claim"],
                "source": r.study["source"],
                "verdict": r.verdict["verdict"],
                "reason": r.verdict["reason"],
                "effect": None if primary is None else _effect(primary),
                "seeds": r.verdict["seeds"],
                "scale": r.study["scale"],
                "from": r.source,
                "full_design": r.verdict["full_design"],
                "stale": r.stale,
                "code": r.study.get("code"),
                "premises": r.verdict.get("premises", {}),
                "folder": str(r.folder),
                "wall_s": r.summary.get("wall_s"),
                "other_scales": r.others,
            }
        )
    return rows
