"""``regimescope report STORE``: re-render the report from stored results, training nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from regimescope.commands.basics import OUT
from regimescope.errors import BadInput
from regimescope.findings import findings_root


def report(
    store: Annotated[Path, typer.Argument(help="Run store holding finished studies (e.g. runs).")],
    out: Annotated[Path, typer.Option(help="Folder for report.html and verdicts.json.")] = Path(
        "out"
    ),
    scale: Annotated[str | None, typer.Option(help="Only studies run at this scale.")] = None,
    findings: Annotated[
        Path | None,
        typer.Option(
            help="Committed findings read beside STORE (skipped if absent) [default: findings]."
        ),
    ] = None,
) -> None:
    """Render report.html and verdicts.json from the finished studies in STORE (and the
    committed findings)."""
    from regimescope.commands.study import current_codes
    from regimescope.report import collect_studies, write_report
    from regimescope.studies import STUDIES

    shelf = findings_root(findings) if findings_root(findings).is_dir() else None
    if not store.is_dir() and shelf is None:
        raise BadInput(
            f"no run store at {str(store)!r}; give the folder studies wrote to (default: runs)"
        )
    if not collect_studies(store, scale, findings=shelf):
        found = "at that scale " if scale else ""
        raise BadInput(
            f"{str(store)!r} holds no finished studies {found}; run `regimescope study NAME` first"
        )
    html_path, json_path = write_report(
        store, out, scale, current=current_codes(STUDIES), findings=shelf
    )
    OUT.print(f"report: {html_path}\nverdicts: {json_path}")
