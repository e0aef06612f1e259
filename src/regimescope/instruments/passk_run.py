"""A pass@k experiment: sample n completions per problem from each model, verify, compare.

The first model is the base. Each model's samples are scored by the task's verifier
(correct = reward 1); from the counts c per problem come pass@k curves with bootstrap
intervals (``instruments.passk``), maj@k, the accuracy histogram, coverage sets, the
creation rate and the crossover k* (``instruments.coverage``), and the perplexity under
the base of each model's samples, whole and by token class (``instruments.perplexity``).
Every model is sampled with the same seed, so the models see the same random numbers.
With ``null`` the base is drawn a second time with sampling seed + 1 on the same problems:
that draw's creation rate is what sampling noise alone gives, so each tuned model's
creation is read as its excess over it (``coverage.creation_excess``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from regimescope.errors import BadInput
from regimescope.instruments import coverage as cov
from regimescope.instruments import passk as pk
from regimescope.instruments import perplexity as ppl
from regimescope.sampler.decode import Completion, SamplingConfig, sample
from regimescope.store import write_bytes_atomic
from regimescope.tasks.base import TOKEN_CLASSES, Example, Task, distinct_examples
from regimescope.tasks.token_classes import token_class_ids

PROMPT_TEMPLATE = (
    "task prompt verbatim, BOS first where encode_prompt puts one "
    "(regimescope.tasks.encode.encode_prompt); a chat task says its own"
)


@dataclass(frozen=True)
class PassKConfig:
    split: str = "test"  # task split the problems come from
    problems: int = 200  # the first this many problems of the split
    sampling: SamplingConfig = SamplingConfig(n=256, max_new_tokens=96)  # per model
    ks: tuple[int, ...] = ()  # k grid; () = powers of two up to n, and n
    data_seed: int = 0  # seed of the task's example stream
    bootstrap: int = 2000  # bootstrap resamples over problems
    bootstrap_seed: int = 0  # seed of the bootstrap
    ppl_samples: int = 16  # samples per problem scored for perplexity under the base; 0 = off
    null: bool = False  # also draw the base again with sampling seed + 1: creation's null


@dataclass(frozen=True)
class ModelResult:
    name: str  # model label (folder name)
    correct: list[int]  # c per problem, in problem order
    n: int  # samples per problem
    passk: dict[int, float]  # k -> mean pass@k over problems
    passk_ci: dict[int, tuple[float, float]]  # k -> 95% bootstrap interval over problems
    majk: dict[int, float]  # k -> mean maj@k over problems (vote on parsed answers)
    histogram: cov.Histogram  # per-problem accuracy c / n
    finished: float  # share of samples that ended with EOS (not cut at max tokens)
    ppl_under_base: dict[str, float] | None  # PPL_base of this model's samples: median,
    # quartiles, count, and share_below_base_median (share under the median PPL_base of the
    # base's own samples; 0.5 for the base itself)
    crossover_k: int | None = None  # smallest k with base pass@k >= this model's (later models)
    ppl_by_class: dict[str, dict[str, float]] | None = None  # token class -> {"ppl", "tokens"}:
    # PPL_base of this model's plan / exec / format / answer tokens, pooled (same samples)
    ppl_by_class_note: str = ""  # why ppl_by_class is empty when it is (no token had a class)


@dataclass(frozen=True)
class PassKResult:
    task: str  # task name
    task_version: str  # task version: results compare only within one version
    answer_extraction: str  # how answers are parsed and judged
    prompt_template: str  # how prompts reach the model
    config: PassKConfig  # the resolved settings (n, ks, temperature, top-p, seeds, ...)
    ks: list[int]  # the k grid reported
    models: list[ModelResult]  # base first
    crossover_k: int | None  # of the second model against the base
    coverage: cov.Coverage  # solved sets, solved-only, creation rate, its null and mirror
    shown: list[dict] = field(default_factory=list)  # a few samples per model, for eyes
    base_again: list[int] | None = None  # c per problem of the base's second draw (null)


def check_inputs(task: Task, cfg: PassKConfig) -> list[int]:
    """The k grid, after BadInput checks on the task and the settings."""
    if not callable(getattr(task, "verify", None)):
        raise BadInput(f"task {getattr(task, 'name', task)!r} has no verifier; pass@k needs one")
    if cfg.split not in task.splits:
        raise BadInput(
            f"task {task.name!r} has no split {cfg.split!r}; choose from: {', '.join(task.splits)}"
        )
    if cfg.problems < 1:
        raise BadInput(f"problems must be >= 1, got {cfg.problems}")
    size = getattr(task, "size", None)  # a JSONL task's number of problems
    if size is not None and cfg.problems > size:
        raise BadInput(f"task {task.name!r} holds {size} problems; ask for at most {size}")
    n = cfg.sampling.n
    pk.check_k(n, 1)
    ks = sorted(set(cfg.ks)) if cfg.ks else pk.k_grid(n)
    for k in ks:
        pk.check_k(n, k)
    return ks


def check_models(models: Sequence[tuple[str, object, object]], cfg: PassKConfig) -> None:
    """BadInput without models, with repeated names, or with tokenizers that differ when
    perplexity is asked."""
    if not models:
        raise BadInput("give at least one model")
    names = [name for name, _, _ in models]
    if len(set(names)) != len(names):
        raise BadInput(f"model names must differ, got {names}")
    base_tok = models[0][2]
    if cfg.ppl_samples > 0 and any(not ppl.same_tokenizer(base_tok, t) for _, _, t in models[1:]):
        raise BadInput(
            "models have different tokenizers: perplexity under the base needs one tokenizer; "
            "compare models of one family or turn perplexity off (--ppl-samples 0)"
        )


def _score(task: Task, items: list[Example], outs: list[list[Completion]]):
    """Parsed answers and correctness flags (reward 1), both [problem][sample]."""
    scores = [[task.verify(e, c.text) for c in row] for e, row in zip(items, outs, strict=True)]
    answers = [[s.answer for s in row] for row in scores]
    flags = [[s.reward >= 1.0 for s in row] for row in scores]
    return answers, flags


def _model_result(name, answers, flags, outs, ks, cfg) -> ModelResult:
    n = cfg.sampling.n
    correct = [sum(row) for row in flags]  # c per problem
    table = pk.pass_at_k_table(correct, n, ks)  # [P, K]
    low, high = pk.bootstrap_ci(table, cfg.bootstrap, cfg.bootstrap_seed)
    pairs = list(zip(answers, flags, strict=True))
    majk = {k: float(np.mean([pk.maj_at_k(a, f, k) for a, f in pairs])) for k in ks}
    return ModelResult(
        name=name,
        correct=correct,
        n=n,
        passk={k: float(v) for k, v in zip(ks, table.mean(axis=0), strict=True)},
        passk_ci={k: (float(lo), float(hi)) for k, lo, hi in zip(ks, low, high, strict=True)},
        majk=majk,
        histogram=cov.accuracy_histogram(correct, n),
        finished=float(np.mean([c.finished for row in outs for c in row])),
        ppl_under_base=None,
    )


def _perplexity(base, base_tokenizer, prompts, outs, cfg) -> list[float]:
    """PPL under the base of the first ``ppl_samples`` samples per problem, flattened."""
    eos = base_tokenizer.eos_token_id
    ids = [
        [ppl.with_eos(c.token_ids, c.finished, eos) for c in row[: cfg.ppl_samples]] for row in outs
    ]
    values = ppl.perplexities(base, base_tokenizer, prompts, ids)
    return [v for row in values for v in row]


def _class_perplexity(base, base_tokenizer, items, outs, cfg) -> dict[str, dict[str, float]]:
    """PPL under the base of each token class (``tasks.token_classes``) over the same first
    ``ppl_samples`` samples per problem; an ending EOS counts as ``format``."""
    eos = base_tokenizer.eos_token_id
    ids, classes = [], []
    for example, row in zip(items, outs, strict=True):
        kept = row[: cfg.ppl_samples]
        ids.append([ppl.with_eos(c.token_ids, c.finished, eos) for c in kept])
        classes.append([_token_classes(base_tokenizer, example, c, eos) for c in kept])
    prompts = [e.prompt for e in items]
    return ppl.class_perplexity(base, base_tokenizer, prompts, ids, classes)


def _token_classes(tokenizer, example: Example, completion: Completion, eos) -> list[str | None]:
    labels = [
        TOKEN_CLASSES[i] if i >= 0 else None
        for i in token_class_ids(tokenizer, example, completion)
    ]
    if not (completion.finished and eos is not None):
        return labels
    labelled = any(label is not None for label in labels)  # an EOS counts only after a match
    return [*labels, "format" if labelled else None]


def run_passk(
    models: Sequence[tuple[str, object, object]],
    task: Task,
    cfg: PassKConfig,
    progress: Callable[[int], None] | None = None,
) -> PassKResult:
    """Run the experiment on ``models`` = [(name, model, tokenizer), ...], base first.

    ``progress(k)`` gets the number of samples finished so far, over all models (and
    the base's second draw last, with ``cfg.null``).
    """
    ks = check_inputs(task, cfg)
    check_models(models, cfg)
    base_name, base, base_tok = models[0]
    items = distinct_examples(task, cfg.problems, cfg.split, cfg.data_seed)
    prompts = [e.prompt for e in items]
    results, counts, shown, base_ppl = [], {}, [], []
    for index, (name, model, tokenizer) in enumerate(models):
        offset = index * len(prompts) * cfg.sampling.n
        relay = (lambda k, o=offset: progress(o + k)) if progress is not None else None
        outs = sample(model, tokenizer, prompts, cfg.sampling, relay)
        answers, flags = _score(task, items, outs)
        result = _model_result(name, answers, flags, outs, ks, cfg)
        correct = result.correct
        if cfg.ppl_samples > 0:
            values = _perplexity(base, base_tok, prompts, outs, cfg)
            base_ppl = values if index == 0 else base_ppl  # the base comes first
            summary = ppl.summary(values, reference=ppl.summary(base_ppl)["median"])
            by_class = _class_perplexity(base, base_tok, items, outs, cfg)
            note = getattr(by_class, "note", "")
            result = replace(
                result, ppl_under_base=summary, ppl_by_class=by_class, ppl_by_class_note=note
            )
        if index > 0:
            k_star = cov.crossover_k(counts[base_name], correct, cfg.sampling.n)
            result = replace(result, crossover_k=k_star)
        results.append(result)
        counts[name] = correct
        shown += [
            {"model": name, "prompt": p, "completion": row[0].text, "answer": a[0], "correct": c}
            for p, row, a, c in list(zip(prompts, outs, answers, correct, strict=True))[:2]
        ]
    base_again = None
    if cfg.null:  # after every model, so the progress count runs on
        offset = len(models) * len(prompts) * cfg.sampling.n
        relay = (lambda k: progress(offset + k)) if progress is not None else None
        base_again = _draw_again(base, base_tok, task, items, cfg, relay)
    return PassKResult(
        task=task.name,
        task_version=task.version,
        answer_extraction=_extraction(task),
        prompt_template=getattr(task, "prompt_template", PROMPT_TEMPLATE),
        config=cfg,
        ks=ks,
        models=results,
        crossover_k=results[1].crossover_k if len(results) > 1 else None,
        coverage=cov.coverage(counts, cfg.sampling.n, base_again),
        shown=shown,
        base_again=base_again,
    )


def _draw_again(base, tokenizer, task: Task, items: list[Example], cfg: PassKConfig, relay):
    """c per problem of a second draw of the base with sampling seed + 1: the null of the
    creation rate (``coverage.creation_excess``)."""
    again = replace(cfg.sampling, seed=cfg.sampling.seed + 1)
    outs = sample(base, tokenizer, [e.prompt for e in items], again, relay)
    _, flags = _score(task, items, outs)
    return [sum(row) for row in flags]


def _extraction(task: Task) -> str:
    """The verifier's name and the first line of its docstring."""
    doc = (type(task).verify.__doc__ or "").strip().splitlines()
    first = f": {doc[0]}" if doc else ""
    rule = "correct = reward 1; maj@k: vote on parsed answers, scored by the voters' correctness"
    return f"{type(task).__name__}.verify{first} ({rule})"


def unique_names(paths: Sequence[str]) -> list[str]:
    """Short labels for model folders: the folder name, numbered where names repeat. A run
    store's ``<run>/model`` is named by its run, ``<run>/checkpoints/<step>`` as run/step."""
    names = [_label(Path(p)) or str(p) for p in paths]
    return [f"{name}#{i}" if names.count(name) > 1 else name for i, name in enumerate(names)]


def _label(path: Path) -> str:
    if path.name == "model" and path.parent.name:
        return path.parent.name
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.parent.parent.name}/{path.name}"
    return path.name


def to_json(result: PassKResult) -> dict:
    """The JSON document of a result (keys as in the CLI's ``--json``)."""
    models = []
    for m in result.models:
        entry = asdict(m)
        entry["passk"] = {str(k): v for k, v in m.passk.items()}
        entry["passk_ci"] = {str(k): list(v) for k, v in m.passk_ci.items()}
        entry["majk"] = {str(k): v for k, v in m.majk.items()}
        models.append(entry)
    settings = asdict(result.config)
    return {
        "task": result.task,
        "task_version": result.task_version,
        "answer_extraction": result.answer_extraction,
        "prompt_template": result.prompt_template,
        "settings": settings,
        "n": result.config.sampling.n,
        "ks": result.ks,
        "temperature": result.config.sampling.temperature,
        "top_p": result.config.sampling.top_p,
        "max_new_tokens": result.config.sampling.max_new_tokens,
        "seeds": {
            "sampling": result.config.sampling.seed,
            "data": result.config.data_seed,
            "bootstrap": result.config.bootstrap_seed,
            "null": result.config.sampling.seed + 1 if result.config.null else None,
        },
        "models": models,
        "crossover_k": result.crossover_k,
        "coverage": asdict(result.coverage),
        "base_again": result.base_again,
        "shown": result.shown,
    }


def plot_curves(result: PassKResult, path: str | Path) -> Path:
    """PNG of pass@k against k (log scale) with 95% bootstrap bands, written atomically."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    figure = Figure(figsize=(6, 4), layout="constrained")
    ax = figure.subplots()
    for m in result.models:
        ks = sorted(m.passk)
        values = [m.passk[k] for k in ks]
        (line,) = ax.plot(ks, values, "o-", label=m.name, markersize=3)
        low, high = zip(*(m.passk_ci[k] for k in ks), strict=True)
        ax.fill_between(ks, low, high, alpha=0.2, color=line.get_color(), linewidth=0)
    if result.crossover_k is not None and len(result.models) > 1:
        ax.axvline(
            result.crossover_k, color="grey", linestyle=":", label=f"k* = {result.crossover_k}"
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(result.ks, [str(k) for k in result.ks])
    ax.minorticks_off()
    ax.set(
        xlabel="k (samples per problem, log scale)",
        ylabel="pass@k (share of problems solved)",
        ylim=(-0.02, 1.02),
        title=f"{result.task} v{result.task_version}: pass@k, 95% bootstrap CI over "
        f"{len(result.models[0].correct)} problems",
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    return write_bytes_atomic(path, buffer.getvalue())
