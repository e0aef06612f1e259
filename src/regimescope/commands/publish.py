"""``regimescope publish NAME`` and ``regimescope findings``: commit a study's results.

``publish`` copies the newest finished folder of a study at a scale, made by today's code,
from the store to ``findings/<study>/<scale>/`` (``regimescope/findings.py``);
``findings`` prints what the findings folder holds as the README's Findings table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from regimescope.commands.basics import OUT, Store
from regimescope.findings import findings_root

FindingsDir = Annotated[
    Path | None,
    typer.Option(help="The findings folder, committed with the code [default: findings]."),
]


def publish(
    name: Annotated[str, typer.Argument(help="Study whose finished folder to publish.")],
    scale: Annotated[str, typer.Option(help="quick or full.")] = "full",
    store: Store = None,
    findings: FindingsDir = None,
) -> None:
    """Copy the study's newest finished folder at SCALE (today's code) into FINDINGS."""
    from regimescope.commands.study import current_codes
    from regimescope.config import to_dict
    from regimescope.errors import choose
    from regimescope.findings import publish as copy_out
    from regimescope.store import store_root
    from regimescope.studies import STUDIES, study_config

    choose("study", name, STUDIES)
    choose("scale", scale, ("quick", "full"))
    code = current_codes({name: STUDIES[name]})[name]
    design = to_dict(study_config(STUDIES[name], scale))
    folder = newest_current(store_root(store), name, scale, code, design)
    target = copy_out(folder, findings_root(findings))
    OUT.print(f"published {name} ({scale}) from {folder}\nto {target}")


def newest_current(root: Path, name: str, scale: str, code: str, design: dict) -> Path:
    """The study folder of ``name`` at ``scale`` made by ``code`` on the scale's own
    ``design`` (its config as registered: a run with ``--set`` or ``--seeds`` is not the
    published design) that finished last; BadInput naming what the store holds instead
    when there is none."""
    from regimescope.errors import BadInput

    found = []
    for done in sorted((root / "study").glob(f"{name}-*/complete.json")):
        study = json.loads((done.parent / "study.json").read_text(encoding="utf-8"))
        meta = json.loads((done.parent / "meta.json").read_text(encoding="utf-8"))
        config = json.loads((done.parent / "config.json").read_text(encoding="utf-8"))
        state = "stale" if study["code"] != code else "overridden" if config != design else ""
        found.append((study["scale"], state, meta.get("finished", ""), done.parent))
    current = [f for f in found if f[0] == scale and not f[1]]
    if not current:
        held = ", ".join(sorted({f"{s} ({state})" if state else s for s, state, _, _ in found}))
        raise BadInput(
            f"no finished {name} study at scale {scale} made by today's code on its registered"
            f" design in {str(root)!r} (it holds: {held or 'none'}); run `regimescope study"
            f" {name} --scale {scale}`"
        )
    return max(current, key=lambda f: f[2])[3]


def findings(findings: FindingsDir = None) -> None:
    """Print the committed findings as a Markdown table (the README's Findings table)."""
    from regimescope.errors import BadInput

    root = findings_root(findings)
    if not root.is_dir():
        raise BadInput(f"no findings folder at {str(root)!r}; `regimescope publish` makes one")
    table = findings_table(root)
    OUT.print(table, markup=False, highlight=False, soft_wrap=True)


def findings_table(root: Path) -> str:
    """One row per (study, scale) under ``root``: claim number and name, scale, verdict, the
    primary effect with its 95% interval, seeds, and the folder."""
    from regimescope.findings import finding_folders

    rows = [
        "| # | study | scale | verdict | primary effect, 95% interval | seeds | folder |",
        "|---|---|---|---|---|---|---|",
    ]
    for folder in sorted(finding_folders(root), key=claim_order):
        study = json.loads((folder / "study.json").read_text(encoding="utf-8"))
        verdict = json.loads((folder / "verdict.json").read_text(encoding="utf-8"))
        effect = verdict["effects"][0] if verdict["effects"] else None
        shown = (
            "—"
            if effect is None
            else (
                f"{effect['name']}: {effect['estimate']:.3f} "
                f"[{effect['ci95'][0]:.3f}, {effect['ci95'][1]:.3f}]"
            )
        )
        rows.append(
            f"| {study['number']} | {study['name']} | {study['scale']} | {verdict['verdict']} "
            f"| {shown} | {len(verdict['seeds'])} | [{folder.as_posix()}]({folder.as_posix()}) |"
        )
    return "\n".join(rows)


def claim_order(folder: Path) -> tuple:
    """Sort key: claim number (3a before 3b), then full before quick."""
    study = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    digits = "".join(c for c in study["number"] if c.isdigit())
    return (int(digits or 99), study["number"], study["scale"] != "full")
