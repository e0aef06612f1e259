"""``regimescope passk``: pass@k curves, coverage and crossover of a base and tuned models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regimescope.commands.progress import progress_bar

OUT = Console()


def _ks(text: str | None) -> tuple[int, ...]:
    """The --ks option: comma-separated integers, or () for the default grid."""
    from regimescope.errors import BadInput

    if not text:
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise BadInput(
            f"--ks {text!r} is not a comma-separated list of integers, e.g. 1,4,16"
        ) from None


def passk(
    model: Annotated[
        list[str], typer.Option("--model", help="Model folder (or run folder); repeat, base first.")
    ],
    task: Annotated[
        str, typer.Option(help="Task with a verifier, or the path of a .jsonl file of problems.")
    ],
    split: Annotated[str, typer.Option(help="Split the problems come from.")] = "test",
    n: Annotated[int, typer.Option(help="Samples per problem.")] = 256,
    problems: Annotated[
        int | None, typer.Option(help="Number of problems (default 200, or all of a file's).")
    ] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (0 = greedy).")] = 1.0,
    top_p: Annotated[float, typer.Option(help="Nucleus mass (1 = off).")] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="Max new tokens per sample.")] = 96,
    seed: Annotated[int, typer.Option(help="Sampling seed (same for every model).")] = 0,
    ks: Annotated[
        str | None, typer.Option(help="k grid, e.g. 1,4,16 (default powers of 2, n).")
    ] = None,
    ppl_samples: Annotated[
        int, typer.Option(help="Samples per problem scored for PPL (0 = off).")
    ] = 16,
    null: Annotated[
        bool,
        typer.Option(
            "--null",
            help="Draw the base again (seed + 1): creation against noise, as an excess.",
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Rows decoded together (0 = automatic).")] = 0,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:N or mps.")] = "cpu",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full result as JSON.")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Draw pass@k curves with 95% CIs to a PNG.")
    ] = None,
    chat_template: Annotated[
        str,
        typer.Option(
            "--chat-template",
            help="auto: use the base tokenizer's chat template when it has one; on; off.",
        ),
    ] = "auto",
) -> None:
    """Unbiased pass@k with bootstrap CIs, maj@k, coverage, creation rate and crossover k*."""
    from regimescope.commands.basics import default_problems, resolve_model
    from regimescope.instruments.passk_run import (
        PassKConfig,
        check_inputs,
        check_models,
        plot_curves,
        run_passk,
        to_json,
        unique_names,
    )
    from regimescope.organisms import load_model
    from regimescope.sampler.decode import SamplingConfig
    from regimescope.store import write_json_atomic
    from regimescope.tasks import get_task
    from regimescope.tasks.chat import check_mode

    the_task = get_task(task)
    check_mode(chat_template)
    problems = default_problems(the_task, problems)
    sampling = SamplingConfig(
        n=n,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_tokens,
        seed=seed,
        batch_size=batch_size,
    )
    cfg = PassKConfig(split, problems, sampling, _ks(ks), ppl_samples=ppl_samples, null=null)
    check_inputs(the_task, cfg)
    _check_sampling(sampling)
    loaded = [
        (name, *load_model(resolve_model(path), device=device))
        for name, path in zip(unique_names(model), model, strict=True)
    ]
    check_models(loaded, cfg)
    the_task = _chat(the_task, loaded, chat_template)
    draws = len(model) + (1 if null else 0)  # the base's second draw comes last
    with progress_bar(f"passk {task}/{split}", draws * problems * n) as advance:
        result = run_passk(loaded, the_task, cfg, progress=advance)
    _print(result)
    if json_out is not None:
        write_json_atomic(json_out, to_json(result))
    if plot is not None:
        plot_curves(result, plot)


def _chat(task, loaded, mode: str):
    """The task through the base's chat template (``tasks.chat``); one rendering serves
    every model, so BadInput when a later model's template differs from the base's."""
    from regimescope.errors import BadInput
    from regimescope.tasks.chat import ChatTask, with_chat_template

    wrapped = with_chat_template(task, loaded[0][2], mode)
    if isinstance(wrapped, ChatTask):
        base = loaded[0][2].chat_template
        for name, _, tokenizer in loaded[1:]:
            if getattr(tokenizer, "chat_template", None) != base:
                raise BadInput(
                    f"--chat-template: {name}'s chat template differs from the base's; compare "
                    "models of one family, or use --chat-template off"
                )
    return wrapped


def _check_sampling(sampling) -> None:
    from regimescope.errors import BadInput

    if sampling.temperature < 0 or not 0 < sampling.top_p <= 1:
        got = f"{sampling.temperature} and {sampling.top_p}"
        raise BadInput(f"need temperature >= 0 and 0 < top-p <= 1, got {got}")
    if sampling.max_new_tokens < 1 or sampling.batch_size < 0:
        raise BadInput("--max-tokens must be >= 1 and --batch-size >= 0 (0 = automatic)")


def _print(result) -> None:
    """pass@k per k and model, then per-model coverage figures, then the comparison."""
    ks, cover, models = result.ks, result.coverage, result.models
    title = (
        f"{result.task} v{result.task_version}: pass@k [95% CI], "
        f"{len(models[0].correct)} problems, n={result.config.sampling.n}"
    )
    curves = Table("k", *(m.name for m in models), title=title)
    for k in ks:
        curves.add_row(str(k), *(_cell(m.passk[k], m.passk_ci[k]) for m in models))
    OUT.print(curves)
    figures = Table("model", f"maj@{ks[-1]}", "solved", "only", "acc=0", "acc=1", "PPL_base")
    for m in models:
        ppl = m.ppl_under_base["median"] if m.ppl_under_base else float("nan")
        figures.add_row(
            m.name,
            f"{m.majk[ks[-1]]:.3f}",
            str(len(cover.solved[m.name])),
            str(len(cover.only[m.name])),
            str(m.histogram.at_zero),
            str(m.histogram.at_one),
            f"{ppl:.2f}",
        )
    OUT.print(figures)
    _print_classes(models)
    if len(models) < 2:
        return
    k_star = "none" if result.crossover_k is None else str(result.crossover_k)
    OUT.print(f"crossover k*: {k_star} (smallest k with base pass@k >= {models[1].name})")
    against = (
        f"the null (the base drawn again, seed {result.config.sampling.seed + 1}) and its mirror"
        if cover.creation_excess_by_model is not None
        else "its mirror (--null also draws its null)"
    )
    OUT.print(
        f"creation rate: {_rate(cover.creation_rate)} of {cover.base_unsolved} base-unsolved "
        f"problems (base solve rate there < {cover.unseen_bound:.3g}, rule of three, 95%); "
        f"noise alone inflates it, so read it against {against}:"
    )
    for name in cover.loss_rate_by_model:
        OUT.print(
            f"  {name}: {_creation(cover, name)}; loss rate {cover.loss_rate_by_model[name]:.3f}"
            f" of base-solved problems, net coverage {cover.net_coverage_by_model[name]:+.3f}"
        )


def _creation(cover, name: str) -> str:
    """A tuned model's creation rate; with the null, the null's rate and the excess over it."""
    line = f"creation rate {_rate(cover.creation_rate_by_model[name])}"
    if cover.creation_excess_by_model is None:
        return line
    null = cover.null_creation_rate  # None when the base solves every problem
    excess = "n/a" if null is None else f"{cover.creation_excess_by_model[name]:+.3f}"
    return f"{line}, null's {_rate(null)}, excess {excess}"


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_classes(models) -> None:
    """PPL under the base by token class (tokens scored), when the task labels classes."""
    classes = sorted({c for m in models for c in (m.ppl_by_class or {})})
    if not classes:
        notes = {m.name: getattr(m, "ppl_by_class_note", "") for m in models}
        for name, note in notes.items():
            if note:
                OUT.print(f"PPL under the base by token class, {name}: none: {note}")
        return
    table = Table("model", *classes, title="PPL under the base by token class (tokens)")
    for m in models:
        found = m.ppl_by_class or {}
        cells = [
            f"{found[c]['ppl']:.2f} ({found[c]['tokens']})" if c in found else "—" for c in classes
        ]
        table.add_row(m.name, *cells)
    OUT.print(table)


def _cell(value: float, interval: tuple[float, float]) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"
