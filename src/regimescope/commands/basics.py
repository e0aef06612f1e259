"""Foundation commands: organisms, tasks, pretrain, sample, eval, runs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regimescope.commands.progress import progress_bar
from regimescope.errors import BadInput

OUT = Console()
Store = Annotated[
    str | None,
    typer.Option("--store", help="Run store root (default ./runs or $REGIMESCOPE_STORE)."),
]
TaskName = typer.Option(help="Task name, or the path of a .jsonl file of problems.")
ChatTemplate = Annotated[
    str,
    typer.Option(
        "--chat-template",
        help="auto: use the tokenizer's chat template when it has one; on: require it; off.",
    ),
]


def organisms() -> None:
    """List the organism presets with their sizes."""
    from regimescope.organisms import PRESETS, build_organism, count_parameters

    table = Table("preset", "width", "depth", "context", "parameters", title="organism presets")
    for name, make in PRESETS.items():
        cfg = make()
        model, _ = build_organism(cfg)
        table.add_row(
            name, str(cfg.width), str(cfg.depth), str(cfg.context), f"{count_parameters(model):,}"
        )
    OUT.print(table)


def tasks() -> None:
    """List the registered tasks with version, splits, formats and one example."""
    from regimescope.tasks import TASKS

    table = Table(
        "task", "version", "splits", "formats", "example (prompt | target)", title="tasks"
    )
    for name, task in TASKS.items():
        ex = task.example(0, "train", 0)
        shown = f"{ex.prompt!r} | {ex.target!r}"
        table.add_row(
            name, task.version, ", ".join(task.splits), ", ".join(task.formats) or "-", shown
        )
    OUT.print(table)


def pretrain(
    task: Annotated[str, typer.Option(help="Task or mixture to train on.")] = "arithmetic",
    preset: Annotated[str, typer.Option(help="Organism size: nano, micro, small.")] = "micro",
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and data.")] = 0,
    batch_size: Annotated[int, typer.Option(help="Examples per step.")] = 32,
    lr: Annotated[float, typer.Option(help="Peak learning rate.")] = 3e-3,
    out: Annotated[Path | None, typer.Option(help="Also copy the final model folder here.")] = None,
    store: Store = None,
) -> None:
    """Pretrain an organism from scratch on a task; reuses or resumes the run of the same config."""
    from regimescope.organisms import preset as organism_preset
    from regimescope.regimes.pretrain import PretrainConfig, validate
    from regimescope.regimes.pretrain import pretrain as run_pretrain

    cfg = PretrainConfig(
        task=task,
        organism=organism_preset(preset),
        steps=steps,
        seed=seed,
        batch_size=batch_size,
        lr=lr,
    )
    validate(cfg)
    if out is not None and out.exists() and any(out.iterdir()):
        raise BadInput(f"--out {str(out)!r} exists and is not empty; give a new folder")
    with progress_bar(f"pretrain {task} ({preset})", steps) as advance:
        run = run_pretrain(cfg, store, on_step=lambda s, r: advance(s, f"loss {r['loss']:.3f}"))
    summary = run.summary()
    if out is not None:
        shutil.copytree(run.model_dir, out)
    OUT.print(
        f"run: {run.path}\nmodel: {out or run.model_dir}\nfinal loss: {summary['final_loss']:.4f}"
    )


def resolve_model(path: str) -> Path:
    """A model folder, or a run folder holding ``model/`` (then that)."""
    folder = Path(path)
    return folder / "model" if (folder / "model" / "config.json").is_file() else folder


def sample(
    model: Annotated[str, typer.Argument(help="Model folder (or a run folder).")],
    task: Annotated[str, TaskName],
    split: Annotated[str, typer.Option(help="Split to draw prompts from.")] = "test",
    problems: Annotated[
        int | None, typer.Option(help="Number of prompts (default 3, or all of a smaller file's).")
    ] = None,
    n: Annotated[int, typer.Option(help="Completions per prompt.")] = 4,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 1.0,
    top_p: Annotated[float, typer.Option(help="Nucleus mass (1 = off).")] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="Max new tokens per completion.")] = 96,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.")] = "cpu",
    chat_template: ChatTemplate = "auto",
) -> None:
    """Sample completions for a task's prompts; show each with its reward and parsed answer."""
    from regimescope.organisms import load_model
    from regimescope.sampler.decode import sample as draw
    from regimescope.tasks import get_task
    from regimescope.tasks.base import examples
    from regimescope.tasks.chat import check_mode, with_chat_template

    the_task = get_task(task)
    check_mode(chat_template)
    problems = default_problems(the_task, problems, 3)
    check_sampling(problems, n, temperature, top_p, max_tokens, the_task, split)
    net, tokenizer = load_model(resolve_model(model), device=device)
    the_task = with_chat_template(the_task, tokenizer, chat_template)
    cfg = sampling_config(n, temperature, top_p, max_tokens, seed)
    items = examples(the_task, problems, split)
    outputs = draw(net, tokenizer, [e.prompt for e in items], cfg)
    for e, outs in zip(items, outputs, strict=True):
        OUT.rule(f"{task}/{split} #{e.index}")
        OUT.print(e.prompt, markup=False, highlight=False)
        for c in outs:
            verdict = the_task.verify(e, c.text)
            OUT.print(
                f"[{verdict.reward:.0f}] {c.text!r} -> answer {verdict.answer!r}",
                markup=False,
                highlight=False,
            )


def check_sampling(problems, n, temperature, top_p, max_tokens, task=None, split=None) -> None:
    """BadInput for sampling settings that cannot run."""
    if problems <= 0 or n <= 0 or max_tokens <= 0:
        raise BadInput("problems, n and max-tokens must be positive integers")
    if temperature < 0 or not 0 < top_p <= 1:
        raise BadInput(f"need temperature >= 0 and 0 < top-p <= 1, got {temperature} and {top_p}")
    if task is not None and split not in task.splits:
        raise BadInput(
            f"task {task.name!r} has no split {split!r}; choose from: {', '.join(task.splits)}"
        )
    size = getattr(task, "size", None)  # a JSONL task's number of problems
    if size is not None and problems > size:
        raise BadInput(f"task {task.name!r} holds {size} problems; ask for at most {size}")


def default_problems(task, problems: int | None, default: int = 200) -> int:
    """``problems`` as given, else ``default`` capped at the size of a JSONL task."""
    if problems is not None:
        return problems
    return min(default, getattr(task, "size", None) or default)


def sampling_config(n, temperature, top_p, max_tokens, seed):
    from regimescope.sampler.decode import SamplingConfig

    return SamplingConfig(
        n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_tokens, seed=seed
    )


def evaluate(
    model: Annotated[str, typer.Argument(help="Model folder (or a run folder).")],
    task: Annotated[str, TaskName],
    split: Annotated[str, typer.Option(help="Split (held-out by default).")] = "test",
    problems: Annotated[
        int | None, typer.Option(help="Number of problems (default 200, or all of a file's).")
    ] = None,
    n: Annotated[int, typer.Option(help="Samples per problem (1 with greedy).")] = 1,
    temperature: Annotated[float, typer.Option(help="0 = greedy.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="Nucleus mass (1 = off).")] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="Max new tokens per completion.")] = 96,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.")] = "cpu",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full result here.")
    ] = None,
    chat_template: ChatTemplate = "auto",
) -> None:
    """Greedy or sampled accuracy on a task's split, with a 95% bootstrap interval."""
    from dataclasses import asdict

    from regimescope.instruments.accuracy import evaluate as measure
    from regimescope.organisms import load_model
    from regimescope.store import write_json_atomic
    from regimescope.tasks import get_task
    from regimescope.tasks.chat import check_mode, with_chat_template

    the_task = get_task(task)
    check_mode(chat_template)
    problems = default_problems(the_task, problems)
    check_sampling(problems, n, temperature, top_p, max_tokens, the_task, split)
    net, tokenizer = load_model(resolve_model(model), device=device)
    the_task = with_chat_template(the_task, tokenizer, chat_template)
    cfg = sampling_config(n, temperature, top_p, max_tokens, seed)
    with progress_bar(f"eval {task}/{split}", problems * n) as advance:
        report = measure(net, tokenizer, the_task, split, problems, cfg, progress=advance)
    table = Table("task", "split", "problems", "samples", "temperature", "accuracy", "95% CI")
    table.add_row(
        task,
        split,
        str(problems),
        str(n),
        f"{temperature:g}",
        f"{report.accuracy:.3f}",
        f"[{report.ci95[0]:.3f}, {report.ci95[1]:.3f}]",
    )
    OUT.print(table)
    if report.format_shares:
        OUT.print(
            "format shares: " + ", ".join(f"{k} {v:.2f}" for k, v in report.format_shares.items())
        )
    if json_out is not None:
        write_json_atomic(json_out, asdict(report))


def runs(store: Store = None) -> None:
    """List the runs in the store."""
    from regimescope.store import runs_table

    frame = runs_table(store)
    if frame.empty:
        OUT.print("no runs yet")
        return
    table = Table(*frame.columns, title="runs")
    for row in frame.itertuples(index=False):
        table.add_row(*("" if v is None else str(v) for v in row))
    OUT.print(table)
