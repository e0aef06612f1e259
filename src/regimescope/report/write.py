"""Write the report and the verdict summary next to each other, atomically."""

from __future__ import annotations

from pathlib import Path

from regimescope.report.collect import collect_studies, verdict_summary
from regimescope.report.html import render
from regimescope.store import write_json_atomic, write_text_atomic


def write_report(
    store: str | Path,
    out_dir: str | Path,
    scale: str | None = None,
    wall_s: float | None = None,
    current: dict[str, str] | None = None,
    findings: str | Path | None = None,
) -> tuple[Path, Path]:
    """Render ``report.html`` and ``verdicts.json`` into ``out_dir``; returns both paths.
    ``current``: study name -> today's code fingerprint, to mark stale folders;
    ``findings``: a folder of committed findings read beside the store."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records = collect_studies(store, scale, current, findings)
    html_path = write_text_atomic(out / "report.html", render(records, out, wall_s))
    json_path = write_json_atomic(out / "verdicts.json", verdict_summary(records))
    return html_path, json_path
