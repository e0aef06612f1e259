"""What a study is, and how one is run into a folder of the run store.

A study turns one published claim into a controlled experiment. Its module holds the
claim (with corrections from the primary paper), a frozen config per scale (``smoke`` for
the test suite, ``quick`` for a few minutes on 2 cores, ``full`` for a citable result),
a pre-registered ``decide`` function, and ``run(config, ctx) -> Verdict``. Training runs
go through the regimes and land in the store, keyed by their own configs, so studies
share base organisms (one config is trained once).

The study's own folder, ``<store>/study/<name>-<hash>/``, holds ``tables/*.csv``,
``figures/*.png``, ``verdict.json`` and ``complete.json`` (written last).
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regimescope.config import apply_sets, override
from regimescope.errors import BadInput, choose
from regimescope.fingerprint import study_fingerprint
from regimescope.sampler import cache as sample_cache
from regimescope.store import (
    RunDir,
    open_run,
    store_root,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from regimescope.studies.verdict import Verdict

SCALES = ("smoke", "quick", "full")


@dataclass(frozen=True)
class Study:
    name: str  # registry key, e.g. "instruction-tuning"
    number: str  # claim number in DESIGN.md, e.g. "1" or "3a"
    claim: str  # the claim as tested
    source: str  # primary paper(s), with arXiv ids
    correction: str  # how the primary paper corrects the claim as usually quoted ("" if none)
    setup: str  # the design in two sentences (organisms, tasks, regimes, instruments)
    scales: dict[str, Callable[[], Any]]  # scale name -> config factory (a frozen dataclass)
    run: Callable[[Any, StudyContext], Verdict]  # the experiment; returns the verdict
    check: Callable[[Any], None] | None = None  # BadInput for a config it cannot run as asked


@dataclass
class StudyContext:
    run: RunDir  # the study's own folder
    scale: str  # smoke | quick | full
    store: str | Path | None  # store root shared with the training runs
    progress: Callable[[str], None]  # reports a line of progress

    def save_table(self, name: str, frame) -> Path:
        """Write a pandas DataFrame as ``tables/<name>.csv`` (atomically)."""
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        return write_text_atomic(self.run.path / "tables" / f"{name}.csv", buffer.getvalue())

    def save_figure(self, name: str, figure, caption: str = "") -> Path:
        """Write a matplotlib figure as ``figures/<name>.png`` (atomically) and close it;
        the caption goes to ``figures/captions.json`` for the report."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
        plt.close(figure)
        path = write_bytes_atomic(self.run.path / "figures" / f"{name}.png", buffer.getvalue())
        captions_file = self.run.path / "figures" / "captions.json"
        captions = json.loads(captions_file.read_text()) if captions_file.is_file() else {}
        write_json_atomic(captions_file, {**captions, name: caption})
        return path


def per_model_lines(
    progress: Callable[[str], None], labels: list[str], per_model: int
) -> Callable[[int], None]:
    """A ``run_passk`` progress callback (samples ended so far, over all models) that
    reports one line as each model's ``per_model`` samples end."""
    reported = 0

    def relay(done: int) -> None:
        nonlocal reported
        while reported < min(done // per_model, len(labels)):
            progress(f"sampled {labels[reported]} ({reported + 1}/{len(labels)} models)")
            reported += 1

    return relay


def study_config(study: Study, scale: str, seeds: int | None = None, sets: list[str] | None = None):
    """The study's config at ``scale``, with ``seeds`` training seeds if given and each
    ``name=value`` of ``sets`` applied (dotted for nested configs: ``rl.lr=1e-4``)."""
    choose("scale", scale, study.scales)
    config = study.scales[scale]()
    if seeds is not None:
        if seeds < 1:
            raise BadInput(f"seeds must be a positive integer, got {seeds}")
        config = override(config, seeds=tuple(range(seeds)))
    config = apply_sets(config, sets)
    if study.check is not None:
        study.check(config)  # before any folder is opened: a refused --set leaves nothing
    return config


def design_departures(config: Any, design: Any, prefix: str = "") -> list[str]:
    """Every field where ``config`` differs from the study's full ``design`` (nested
    configs by dotted name): ``"n = 64 (full design: 256)"``. Empty only for the full
    design itself, so a quick run, a ``--seeds`` or a ``--set`` is never labelled full."""
    found = []
    for f in dataclasses.fields(design):
        ours, full = getattr(config, f.name), getattr(design, f.name)
        if dataclasses.is_dataclass(full) and type(ours) is type(full):
            found += design_departures(ours, full, f"{prefix}{f.name}.")
        elif ours != full:
            found.append(f"{prefix}{f.name} = {ours!r} (full design: {full!r})")
    return found


def label_design(verdict: Verdict, study: Study, config: Any) -> Verdict:
    """``verdict`` with ``full_design`` computed against ``study.scales["full"]()`` and the
    departures added to its notes (the study cannot label its own run)."""
    if "full" not in study.scales:
        gaps = ["the study has no full design"]
    else:
        gaps = design_departures(config, study.scales["full"]())
    notes = verdict.notes
    if gaps:
        notes = "; ".join(filter(None, [notes, "departs from the full design: " + ", ".join(gaps)]))
    return dataclasses.replace(verdict, full_design=not gaps, notes=notes)


def code_fingerprint(study: Study) -> str:
    """sha256 (12 hex digits) over the code ``study`` measures and decides with: the import
    closure of its module through the studies, instruments, sampler, tasks, regimes and
    organisms (see ``regimescope/fingerprint.py``).

    It keys the study's folder, so a finished verdict is reused only while that code is
    unchanged; training runs are keyed by their configs and their training code.
    """
    return study_fingerprint(study.run.__module__)


def study_folder(
    study: Study,
    scale: str = "quick",
    seeds: int | None = None,
    store=None,
    sets: list[str] | None = None,
) -> RunDir:
    """The store folder of ``study`` at ``scale`` (created empty if new), keyed by the
    study's config and the fingerprint of the code that measures and decides."""
    config = study_config(study, scale, seeds, sets)
    return open_run("study", study.name, config, store, key={"code": code_fingerprint(study)})


def run_study(
    study: Study,
    scale: str = "quick",
    seeds: int | None = None,
    store=None,
    progress: Callable[[str], None] | None = None,
    sets: list[str] | None = None,
) -> tuple[Verdict, RunDir]:
    """Run ``study`` at ``scale`` (or reuse its finished folder); returns (verdict, folder)."""
    config = study_config(study, scale, seeds, sets)
    run = study_folder(study, scale, seeds, store, sets)
    with run.exclusive():  # the same study running elsewhere: wait, then reuse its verdict
        if run.is_complete():
            return load_verdict(run), run
        started = time.perf_counter()
        ctx = StudyContext(run, scale, store, progress or (lambda _: None))
        with sample_cache.caching(store_root(store) / "samples"):  # a rerun redraws nothing
            verdict = label_design(study.run(config, ctx), study, config)
        write_json_atomic(run.path / "study.json", describe(study, scale))
        write_json_atomic(run.path / "verdict.json", dataclasses.asdict(verdict))
        run.mark_complete({"verdict": verdict.verdict, "wall_s": time.perf_counter() - started})
    return verdict, run


def describe(study: Study, scale: str) -> dict[str, str]:
    """What the report needs to know of a study, so it never imports study code (``code``
    lets it mark a folder whose code is not today's as stale)."""
    return {
        "module": study.run.__module__,
        "code": code_fingerprint(study),
        "name": study.name,
        "number": study.number,
        "claim": study.claim,
        "source": study.source,
        "correction": study.correction,
        "setup": study.setup,
        "scale": scale,
    }


def load_verdict(run: RunDir) -> Verdict:
    """The verdict stored in a study folder."""
    from regimescope.studies.verdict import Decision, Effect, Premise

    raw = json.loads((run.path / "verdict.json").read_text())
    raw["effects"] = [
        Effect(**{**e, "ci95": tuple(e["ci95"])} | ciw(e.get("ci_family"))) for e in raw["effects"]
    ]
    raw["parts"] = {k: Decision(**v) for k, v in raw["parts"].items()}
    raw["premises"] = {k: Premise(**v) for k, v in raw.get("premises", {}).items()}
    return Verdict(**raw)


def ciw(interval) -> dict:
    """``{"ci_family": tuple}`` for a stored family-wise interval, ``{}`` for none."""
    return {} if interval is None else {"ci_family": tuple(interval)}
