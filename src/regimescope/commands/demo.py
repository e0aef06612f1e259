"""``regimescope demo``: the main job on the embedded default.

For now (foundation stage) it pretrains a ``small`` organism on the arithmetic task and
evaluates greedy accuracy on the held-out split against the untrained organism and a
most-frequent-answer baseline. Later it runs every registered study and writes the report.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from regimescope.commands.basics import OUT, Store
from regimescope.commands.progress import progress_bar


def majority_baseline(task, problems: int) -> float:
    """Accuracy of always answering the most frequent training answer (held-out problems)."""
    from regimescope.tasks.base import examples

    train_answers = Counter(e.answer for e in examples(task, 2000, "train"))
    guess = train_answers.most_common(1)[0][0]
    return sum(e.answer == guess for e in examples(task, problems, "test")) / problems


def demo(
    preset: Annotated[str, typer.Option(help="Organism size.")] = "small",
    task: Annotated[str, typer.Option(help="Task to pretrain on.")] = "arithmetic",
    steps: Annotated[int, typer.Option(help="Pretraining steps.")] = 1500,
    problems: Annotated[int, typer.Option(help="Held-out problems to evaluate.")] = 300,
    out: Annotated[Path, typer.Option(help="Where to write demo.json.")] = Path("out"),
    store: Store = None,
) -> None:
    """Pretrain an organism on the embedded default and measure its held-out accuracy."""
    from regimescope.instruments.accuracy import evaluate
    from regimescope.organisms import build_organism, load_model
    from regimescope.organisms import preset as organism_preset
    from regimescope.regimes.pretrain import PretrainConfig, pretrain, validate
    from regimescope.store import write_json_atomic
    from regimescope.tasks import get_task

    cfg = PretrainConfig(task=task, organism=organism_preset(preset), steps=steps)
    validate(cfg)
    the_task = get_task(task)
    with progress_bar(f"pretrain {task} ({preset})", steps) as advance:
        run = pretrain(cfg, store, on_step=lambda s, r: advance(s, f"loss {r['loss']:.3f}"))
    trained, tokenizer = load_model(run.model_dir)
    untrained, _ = build_organism(cfg.organism, seed=cfg.seed)
    rows = {}
    for name, model in (("untrained", untrained), ("pretrained", trained)):
        with progress_bar(f"eval {name}", problems) as advance:
            rows[name] = evaluate(model, tokenizer, the_task, "test", problems, progress=advance)
    baseline = majority_baseline(the_task, problems)
    show(rows, baseline)
    write_json_atomic(out / "demo.json", {
        "run": str(run.path), "task": task, "task_version": the_task.version, "preset": preset,
        "steps": steps, "problems": problems, "majority_baseline": baseline,
        "greedy_accuracy": {k: {"accuracy": r.accuracy, "ci95": r.ci95} for k, r in rows.items()},
        "format_shares": rows["pretrained"].format_shares,
    })
    OUT.print(f"run folder: {run.path}\nsummary: {out / 'demo.json'}")


def show(rows, baseline: float) -> None:
    table = Table("model", "greedy accuracy (held-out)", "95% CI", title="demo")
    for name, r in rows.items():
        table.add_row(name, f"{r.accuracy:.3f}", f"[{r.ci95[0]:.3f}, {r.ci95[1]:.3f}]")
    table.add_row("most-frequent answer", f"{baseline:.3f}", "")
    OUT.print(table)
