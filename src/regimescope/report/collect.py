"""Read finished study folders from the run store (and nothing else).

The report imports no training or study code: everything it shows comes from the files a
study wrote (``study.json``, ``verdict.json``, ``tables/``, ``figures/``, ``meta.json``,
``complete.json``), so a report can be re-rendered anywhere the store is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


def collect_studies(store: str | Path, scale: str | None = None) -> list[StudyRecord]:
    """Every complete study under ``<store>/study/``, newest per study name, in claim order.

    With ``scale``, only studies run at that scale.
    """
    base = Path(store) / "study"
    records = [read_study(p.parent) for p in sorted(base.glob("*/complete.json"))]
    if scale is not None:
        records = [r for r in records if r.study.get("scale") == scale]
    newest: dict[str, StudyRecord] = {}
    for record in records:
        name = record.study["name"]
        if name not in newest or record.meta.get("finished", "") > newest[name].meta.get(
            "finished", ""
        ):
            newest[name] = record
    return sorted(newest.values(), key=lambda r: r.sort_key)


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
                "effect": None
                if primary is None
                else {
                    "name": primary["name"],
                    "estimate": primary["estimate"],
                    "ci95": primary["ci95"],
                    "unit": primary["unit"],
                },
                "seeds": r.verdict["seeds"],
                "scale": r.study["scale"],
                "full_design": r.verdict["full_design"],
                "folder": str(r.folder),
                "wall_s": r.summary.get("wall_s"),
            }
        )
    return rows
