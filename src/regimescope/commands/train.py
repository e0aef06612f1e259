"""Fine-tuning commands: ``sft`` and ``rl``, each from a model folder to a stored run.

The common knobs are options; every other config field is reachable by name with
``--set field=value`` (dotted for nested configs: ``--set recorder.kl=false``).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from regimescope.commands.basics import Store, resolve_model
from regimescope.commands.progress import progress_bar
from regimescope.config import apply_sets
from regimescope.errors import BadInput

OUT = Console()
Tasks = Annotated[
    list[str], typer.Option("--task", help="Task to train on; repeat for a curriculum.")
]
Order = Annotated[str, typer.Option(help="Curriculum of several tasks: sequence or mixture.")]
Sets = Annotated[
    list[str] | None, typer.Option("--set", help="Override any config field: name=value.")
]
KeepOptimizer = Annotated[
    bool,
    typer.Option(
        "--keep-optimizer",
        help="Keep the optimizer state of the finished run (2x the model; dropped by default).",
    ),
]


def lr_option(small: float, large: float) -> object:
    """The --lr option: unset means by the start model's size (``regimes.finetune.
    default_lr``, whose table these numbers repeat; a test keeps the two equal)."""
    return typer.Option(
        help=f"Peak learning rate (default by start-model size: {small:g} under 10M "
        f"parameters, the organisms; {large:g} from 10M, pretrained models)."
    )


@contextlib.contextmanager
def bar_from_first_step(description: str, total: int) -> Iterator[Callable[[int, str], None]]:
    """Yield ``advance_to(done, info)``; the progress bar appears at the first step, so a
    start model that fails to load is refused in one line with no bar drawn above it."""
    with contextlib.ExitStack() as stack:
        shown: list[Callable[[int, str], None]] = []

        def advance_to(done: int, info: str = "") -> None:
            if not shown:
                shown.append(stack.enter_context(progress_bar(description, total)))
            shown[0](done, info)

        yield advance_to


def check_out(out: Path | None) -> None:
    if out is not None and out.exists() and any(out.iterdir()):
        raise BadInput(f"--out {str(out)!r} exists and is not empty; give a new folder")


def report(run, out: Path | None, keys: tuple[str, ...]) -> None:
    """Print where the run and its model are, and the first/last value of ``keys``."""
    if out is not None:
        shutil.copytree(run.model_dir, out)
    summary = run.summary()
    OUT.print(f"run: {run.path}\nmodel: {out or run.model_dir}")
    for key in keys:
        if f"final_{key}" in summary:
            OUT.print(f"{key}: {summary[f'first_{key}']:.3f} -> {summary[f'final_{key}']:.3f}")


def rl(
    model: Annotated[str, typer.Argument(help="Start model folder (or a run folder).")],
    task: Tasks = ["arithmetic"],  # noqa: B006 (typer reads the default)
    order: Order = "sequence",
    objective: Annotated[
        str, typer.Option(help="reinforce, grpo, dr_grpo, psr, nsr, w_reinforce, hicra.")
    ] = "grpo",
    steps: Annotated[int, typer.Option(help="RL steps.")] = 100,
    prompts: Annotated[int, typer.Option(help="Prompts per step.")] = 8,
    samples: Annotated[int, typer.Option(help="Completions per prompt.")] = 8,
    lr: Annotated[float | None, lr_option(3e-4, 1e-6)] = None,
    kl: Annotated[float, typer.Option(help="KL-to-start coefficient.")] = 0.0,
    max_tokens: Annotated[int, typer.Option(help="Max new tokens per rollout.")] = 64,
    log_every: Annotated[int, typer.Option(help="One metrics line every N steps.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed for prompts and rollouts.")] = 0,
    sets: Sets = None,
    out: Annotated[Path | None, typer.Option(help="Also copy the final model folder here.")] = None,
    keep_optimizer: KeepOptimizer = False,
    store: Store = None,
) -> None:
    """RL from a verifier reward with the chosen objective; reuses or resumes the same run."""
    from regimescope.regimes.curriculum import CurriculumConfig
    from regimescope.regimes.recorder import RecorderConfig
    from regimescope.regimes.rl import RLConfig, resolve
    from regimescope.regimes.rl import rl as run_rl

    cfg = RLConfig(
        model=str(resolve_model(model)),
        curriculum=CurriculumConfig(tuple(task), order),
        objective=objective,
        steps=steps,
        prompts_per_step=prompts,
        samples_per_prompt=samples,
        lr=0.0 if lr is None else lr,
        kl_coef=kl,
        max_new_tokens=max_tokens,
        seed=seed,
        recorder=RecorderConfig(every=log_every),
    )
    cfg = resolve(apply_sets(cfg, sets))
    check_out(out)
    with bar_from_first_step(f"rl {objective} {'+'.join(task)}", cfg.steps) as advance:
        run = run_rl(
            cfg,
            store,
            on_step=lambda s, r: advance(s, f"reward {r.get('reward', 0):.2f}"),
            keep_optimizer=keep_optimizer,
        )
    report(run, out, ("reward", "accuracy", "kl_start"))


def sft(
    model: Annotated[str, typer.Argument(help="Start model folder (or a run folder).")],
    task: Tasks = ["arithmetic"],  # noqa: B006 (typer reads the default)
    order: Order = "sequence",
    data: Annotated[
        str, typer.Option(help="gold targets, or self (rejection fine-tuning).")
    ] = "gold",
    prompt_mode: Annotated[
        str, typer.Option(help="original, simplified, empty, delusive (rules).")
    ] = "original",
    rounds: Annotated[int, typer.Option(help="data=self: expert-iteration rounds.")] = 1,
    steps: Annotated[int, typer.Option(help="Optimizer steps.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Sequences per step.")] = 32,
    lr: Annotated[float | None, lr_option(1e-3, 1e-5)] = None,
    log_every: Annotated[int, typer.Option(help="One metrics line every N steps.")] = 10,
    probe: Annotated[int, typer.Option(help="Held-out prompts scored at each logged step.")] = 32,
    seed: Annotated[int, typer.Option(help="Seed for data and samples.")] = 0,
    sets: Sets = None,
    out: Annotated[Path | None, typer.Option(help="Also copy the final model folder here.")] = None,
    keep_optimizer: KeepOptimizer = False,
    store: Store = None,
) -> None:
    """Supervised fine-tuning (gold, perturbed instructions, or self-SFT); reuses or resumes."""
    from regimescope.regimes.curriculum import CurriculumConfig
    from regimescope.regimes.recorder import RecorderConfig
    from regimescope.regimes.sft import SFTConfig, resolve
    from regimescope.regimes.sft import sft as run_sft

    cfg = SFTConfig(
        model=str(resolve_model(model)),
        curriculum=CurriculumConfig(tuple(task), order),
        data=data,
        prompt_mode=prompt_mode,
        rounds=rounds,
        steps=steps,
        batch_size=batch_size,
        lr=0.0 if lr is None else lr,
        seed=seed,
        recorder=RecorderConfig(every=log_every, probe_problems=probe),
    )
    cfg = resolve(apply_sets(cfg, sets))
    check_out(out)
    with bar_from_first_step(f"sft {data} {'+'.join(task)}", cfg.steps) as advance:
        run = run_sft(
            cfg,
            store,
            on_step=lambda s, r: advance(s, f"loss {r.get('loss', 0):.3f}"),
            keep_optimizer=keep_optimizer,
        )
    report(run, out, ("loss", "probe/accuracy", "kl_start"))
