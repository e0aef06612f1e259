"""``regimescope compare A B --task T``: two checkpoints on the same problems — CKA of every
layer pair, accuracy and calibration (ECE) of greedy answers, diversity of samples."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from regimescope.commands.basics import (
    OUT,
    ChatTemplate,
    TaskName,
    check_sampling,
    default_problems,
    resolve_model,
    sampling_config,
)


def compare(
    model_a: Annotated[str, typer.Argument(help="First model folder (or a run folder).")],
    model_b: Annotated[str, typer.Argument(help="Second model folder (or a run folder).")],
    task: Annotated[str, TaskName],
    split: Annotated[str, typer.Option(help="Split (held-out by default).")] = "test",
    problems: Annotated[
        int | None, typer.Option(help="Problems (default 64, or all of a smaller file's).")
    ] = None,
    samples: Annotated[int, typer.Option(help="Sampled completions per problem (EAD).")] = 8,
    temperature: Annotated[float, typer.Option(help="Temperature of those samples.")] = 1.0,
    max_tokens: Annotated[int, typer.Option(help="Max new tokens per completion.")] = 96,
    bins: Annotated[int, typer.Option(help="Confidence bins of the ECE.")] = 10,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result here.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write the CKA heatmap here (PNG).")] = None,
    chat_template: ChatTemplate = "auto",
) -> None:
    """Compare two checkpoints on a task: representations (CKA per layer pair), calibration
    of greedy answers (ECE) and diversity of samples (EAD per input and across inputs)."""
    from regimescope.errors import BadInput
    from regimescope.instruments.compare import cka_matrix
    from regimescope.store import write_json_atomic
    from regimescope.tasks import get_task
    from regimescope.tasks.chat import check_mode

    the_task = get_task(task)
    check_mode(chat_template)
    problems = default_problems(the_task, problems, 64)
    check_sampling(problems, samples, temperature, 1.0, max_tokens, the_task, split)
    if problems < 3 or bins < 1:
        raise BadInput(f"need at least 3 problems and 1 bin, got {problems} and {bins}")
    probe = Probe(the_task, split, problems, samples, temperature, max_tokens, seed, bins)
    found = {
        label: measure_model(resolve_model(path), probe, chat_template)
        for label, path in (("A", model_a), ("B", model_b))
    }
    cka = cka_matrix(found["A"].pop("states"), found["B"].pop("states"))
    show(found, cka, model_a, model_b)
    result = {"task": task, "split": split, "problems": problems, "models": found}
    result |= {"A": model_a, "B": model_b, "cka": cka.tolist()}
    if json_out is not None:
        write_json_atomic(json_out, result)
    if plot is not None:
        save_heatmap(cka, plot, model_a, model_b)


@dataclass(frozen=True)
class Probe:
    task: object  # the task the problems come from
    split: str  # their split
    problems: int  # how many (the first of the split)
    samples: int  # sampled completions per problem, for diversity
    temperature: float  # temperature of those samples
    max_tokens: int  # max new tokens per completion
    seed: int  # sampling seed
    bins: int  # confidence bins of the ECE


def measure_model(folder, probe: Probe, chat_template: str) -> dict:
    """One model's residual states, accuracy, reliability table and diversity."""
    from regimescope.instruments.calibration import reliability
    from regimescope.instruments.compare import completion_probability, last_token_states
    from regimescope.instruments.diversity import across_inputs, per_input
    from regimescope.organisms import load_model
    from regimescope.sampler.decode import sample as draw
    from regimescope.tasks.base import examples
    from regimescope.tasks.chat import with_chat_template

    net, tokenizer = load_model(folder)
    task = with_chat_template(probe.task, tokenizer, chat_template)
    items = examples(task, probe.problems, probe.split)
    prompts = [e.prompt for e in items]
    greedy = draw(
        net, tokenizer, prompts, sampling_config(1, 0.0, 1.0, probe.max_tokens, probe.seed)
    )
    correct = [
        task.verify(e, outs[0].text).reward >= 0.5 for e, outs in zip(items, greedy, strict=True)
    ]
    confidence = [
        completion_probability(net, tokenizer, p, outs[0].token_ids, outs[0].finished)
        for p, outs in zip(prompts, greedy, strict=True)
    ]
    table = reliability(confidence, correct, probe.bins)
    drawn = draw(
        net,
        tokenizer,
        prompts,
        sampling_config(probe.samples, probe.temperature, 1.0, probe.max_tokens, probe.seed),
    )
    tokens = [[c.token_ids for c in outs] for outs in drawn]
    return {
        "states": last_token_states(net, tokenizer, prompts),
        "accuracy": sum(correct) / len(correct),
        "mean_confidence": sum(confidence) / len(confidence),
        "ece": table.ece,
        "reliability": asdict(table),
        "ead_per_input": per_input(tokens, len(tokenizer)),
        "ead_across_inputs": across_inputs(tokens, len(tokenizer)),
    }


def show(found: dict, cka, model_a: str, model_b: str) -> None:
    """The two models side by side, and the diagonal of the CKA matrix."""
    table = Table("", f"A: {model_a}", f"B: {model_b}", title="compare")
    for key in ("accuracy", "mean_confidence", "ece", "ead_per_input", "ead_across_inputs"):
        table.add_row(key, f"{found['A'][key]:.3f}", f"{found['B'][key]:.3f}")
    OUT.print(table)
    depth = min(cka.shape)
    diagonal = ", ".join(f"{cka[i, i]:.2f}" for i in range(depth))
    OUT.print(f"linear CKA, layer i of A vs layer i of B (embeddings first): {diagonal}")


def save_heatmap(cka, path: Path, model_a: str, model_b: str) -> None:
    """The CKA matrix as an image: rows A's layers, columns B's (0 = embeddings)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from regimescope.store import write_bytes_atomic

    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * cka.shape[1], 1.0 + 0.5 * cka.shape[0]))
    image = ax.imshow(cka, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower")
    ax.set(xlabel=f"layer of B ({Path(model_b).name})", ylabel=f"layer of A ({Path(model_a).name})")
    fig.colorbar(image, ax=ax, label="linear CKA")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())
