"""Study 6's machinery: bases and RL runs, format sampling, effects, tables, figures.

Every model (each base, each RL run after its first pass and at its end) is sampled on
the same held-out problems with the same sampling seed, so per-problem format shares
are paired across models. A sample's format is ``classify_format`` of its text
(``code``, ``nl``, ``tagged``, or ``none`` when no format marker appears).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regimescope.organisms import load_model
from regimescope.organisms.presets import preset
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.pretrain import PretrainConfig, pretrain
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampling import SamplingConfig, sample
from regimescope.store import RunDir
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import FORMATS, get_task

if TYPE_CHECKING:
    from regimescope.studies.base import StudyContext
    from regimescope.studies.format_collapse import FormatCollapseConfig

NAMES = (*FORMATS, "none")  # format labels of samples; index 3 = no format marker
COLORS = {"code": "tab:blue", "nl": "tab:orange", "tagged": "tab:green", "none": "tab:gray"}
EVAL_TASK = "arithmetic"  # every mixture shares its problems and verifier with this task
MIN_COUNT = 5  # per-format accuracy is drawn only at steps with this many rollouts in it
UNRECORDED = ("entropy", "kl", "grad_norm", "update_ratio", "changed", "weight_norms")


@dataclass(frozen=True)
class Condition:
    scale: str  # organism preset name
    mixture: str  # pretraining task (format proportions)
    seed: int  # pretraining and RL seed


# ---------------------------------------------------------------- training


def base_config(cfg: FormatCollapseConfig, cond: Condition) -> PretrainConfig:
    """The base of ``cond``: both scales see the same examples for the same steps.
    Checkpoint and log cadence match ``bases.latent_base``, so equal configs share a run."""
    return PretrainConfig(
        task=cond.mixture,
        organism=preset(cond.scale),
        steps=cfg.pretrain_steps,
        batch_size=cfg.pretrain_batch,
        seed=cond.seed,
        checkpoint_every=100,
        log_every=10,
    )


def rl_config(cfg: FormatCollapseConfig, base_dir: str, cond: Condition, kl: float) -> RLConfig:
    """GRPO on the equal-format task; a checkpoint where the first pass is read."""
    record = RecorderConfig(every=cfg.log_every, **dict.fromkeys(UNRECORDED, False))
    return RLConfig(
        model=base_dir,
        curriculum=CurriculumConfig(tasks=(EVAL_TASK,)),
        objective="grpo",
        steps=cfg.rl_steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        temperature=cfg.temperature,
        max_new_tokens=cfg.max_new_tokens,
        lr=cfg.lr,
        kl_coef=kl,
        seed=cond.seed,
        checkpoint_every=cfg.first_pass_step,
        recorder=record,
    )


def conditions(cfg: FormatCollapseConfig) -> list[Condition]:
    return [Condition(s, m, seed) for m in cfg.mixtures for s in cfg.scales for seed in cfg.seeds]


def train(cfg: FormatCollapseConfig, ctx: StudyContext):
    """(bases: Condition -> run, runs: (Condition, kl) -> run), trained or reused."""
    bases, runs = {}, {}
    for cond in conditions(cfg):
        ctx.progress(f"base {cond.scale} on {cond.mixture}, seed {cond.seed}")
        bases[cond] = pretrain(base_config(cfg, cond), ctx.store)
        for kl in cfg.kl_coefs:
            ctx.progress(f"RL {cond.scale} on {cond.mixture}, seed {cond.seed}, KL {kl:g}")
            runs[cond, kl] = rl(rl_config(cfg, str(bases[cond].model_dir), cond, kl), ctx.store)
    return bases, runs


# ---------------------------------------------------------------- sampling formats


@dataclass(frozen=True)
class Samples:
    formats: np.ndarray  # (P, n) index into NAMES
    correct: np.ndarray  # (P, n) 1.0 where the verifier accepts the sample

    def shares(self) -> np.ndarray:
        """(P, 4) share of each problem's samples in each format (NAMES order)."""
        return np.stack([(self.formats == i).mean(axis=1) for i in range(len(NAMES))], axis=1)

    def winner_share(self, won: int) -> np.ndarray:
        """(P,) share of format ``won`` per problem; 0 when no format won (``none``)."""
        return self.shares()[:, won] if won < len(FORMATS) else np.zeros(len(self.formats))


def forced_prefix(example) -> str:
    """The gold target up to its first number: ``a=3``, ``3`` or ``<s>3``. Sampling after it
    commits the model to the example's format at the cost of copying one operand."""
    end = example.target_classes.index("exec")
    while end < len(example.target) and example.target_classes[end] == "exec":
        end += 1
    return example.target[:end]


def draw(model, tokenizer, items, prefixes, sampling: SamplingConfig) -> Samples:
    """Sample each item's prompt (+ prefix); score prefix + completion."""
    task = get_task(EVAL_TASK)
    outs = sample(
        model, tokenizer, [e.prompt + p for e, p in zip(items, prefixes, strict=True)], sampling
    )
    texts = [[p + c.text for c in row] for p, row in zip(prefixes, outs, strict=True)]
    formats = [[NAMES.index(task.classify_format(t) or "none") for t in row] for row in texts]
    correct = [[task.verify(e, t).reward for t in row] for e, row in zip(items, texts, strict=True)]
    return Samples(np.array(formats), np.array(correct, dtype=float))


@dataclass(frozen=True)
class BaseSamples:
    free: Samples  # unforced samples: the pre-RL format frequency and accuracy
    forced: dict[str, Samples]  # format -> samples with that format's opening forced


@dataclass(frozen=True)
class Measured:
    bases: dict[Condition, BaseSamples]
    first: dict[tuple[Condition, float], Samples]  # after the first pass over the RL prompts
    final: dict[tuple[Condition, float], Samples]  # at the end of the RL run


def sampling(cfg: FormatCollapseConfig) -> SamplingConfig:
    return SamplingConfig(
        n=cfg.eval_samples, temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=0
    )


def measure(cfg: FormatCollapseConfig, bases: dict, runs: dict) -> Measured:
    """Sample every base (free and forced) and every RL run (first pass, end)."""
    task = get_task(EVAL_TASK)
    problems = range(cfg.eval_problems)
    free = [task.example(i, "test") for i in problems]
    forced = {f: [task.example(i, "test", fmt=f) for i in problems] for f in FORMATS}
    unforced = [""] * len(free)
    base_samples = {}
    for cond, run in bases.items():
        model, tok = load_model(run.model_dir)
        prefixed = {f: (items, [forced_prefix(e) for e in items]) for f, items in forced.items()}
        base_samples[cond] = BaseSamples(
            draw(model, tok, free, unforced, sampling(cfg)),
            {f: draw(model, tok, *pair, sampling(cfg)) for f, pair in prefixed.items()},
        )
    first, final = {}, {}
    for key, run in runs.items():
        for found, folder in (
            (first, run.checkpoint_dir(cfg.first_pass_step)),
            (final, run.model_dir),
        ):
            found[key] = draw(*load_model(folder), free, unforced, sampling(cfg))
    return Measured(base_samples, first, final)


# ---------------------------------------------------------------- per-run summaries


def winner(samples: Samples) -> int:
    """Index (into NAMES) of the format with the largest share of the samples; ``none``
    (3) only when no sample has a format at all."""
    totals = samples.shares().mean(axis=0)[: len(FORMATS)]
    return int(np.argmax(totals)) if totals.max() > 0 else len(FORMATS)


def best_accuracy(base: BaseSamples) -> int:
    """Index of the format with the highest forced accuracy before RL."""
    return int(np.argmax([base.forced[f].correct.mean() for f in FORMATS]))


def most_frequent(base: BaseSamples) -> int:
    """Index of the format the base emits most often (free samples)."""
    return winner(base.free)


def rollout_frame(run: RunDir) -> pd.DataFrame:
    """The recorder's per-step rollout format shares and per-format accuracy, tidy."""
    rows = [
        (r["step"], f, r.get(f"format_share/{f}"), r.get(f"format_acc/{f}"), r.get("accuracy"))
        for r in run.read_metrics()
        for f in NAMES
    ]
    columns = ["step", "format", "share", "format_accuracy", "accuracy"]
    return pd.DataFrame(rows, columns=columns).astype({c: float for c in columns[2:]})


def collapse_step(frame: pd.DataFrame, threshold: float, smooth: int = 3) -> float:
    """First logged step at which one format's rollout share, averaged over the last
    ``smooth`` logged steps, exceeds ``threshold``; nan if it never does."""
    wide = frame[frame.format.isin(FORMATS)].pivot(index="step", columns="format", values="share")
    smoothed = wide.rolling(smooth, min_periods=1).mean().max(axis=1)
    above = smoothed[smoothed > threshold]
    return float(above.index[0]) if len(above) else float("nan")


# ---------------------------------------------------------------- effects


def effect(name: str, values, resamples: int, unit: str = "fraction") -> Effect:
    """Mean of ``values`` (units, problems) with a hierarchical bootstrap interval."""
    est, ci = hierarchical_bootstrap(np.asarray(values, dtype=float), np.mean, resamples)
    return Effect(name, est, ci, unit)


def qualifying(cfg, measured: Measured, floor: float) -> list[Condition]:
    """KL-0 conditions whose base solves at least ``floor`` of the problems (free samples)."""
    return [c for c in conditions(cfg) if measured.bases[c].free.correct.mean() >= floor]


def collapse_effects(cfg, measured: Measured, floor: float) -> tuple[Effect | None, Effect | None]:
    """Share of the final winner after the first pass, and in the base, over KL-0 runs whose
    base qualifies: (runs, problems) values. (None, None) when no run qualifies."""
    chosen = qualifying(cfg, measured, floor)
    if not chosen:
        return None, None
    wins = [winner(measured.final[c, 0.0]) for c in chosen]
    first = [measured.first[c, 0.0].winner_share(w) for c, w in zip(chosen, wins, strict=True)]
    base = [measured.bases[c].free.winner_share(w) for c, w in zip(chosen, wins, strict=True)]
    return (
        effect("share of the final winner after the first RL pass (KL 0)", first, cfg.bootstrap),
        effect("share of the same format in the base", base, cfg.bootstrap),
    )


def final_effect(cfg, measured: Measured) -> Effect:
    """Final share of each KL-0 run's winner (all runs): does any format dominate at all?"""
    finals = [measured.final[c, 0.0] for c in conditions(cfg)]
    shares = [s.winner_share(winner(s)) for s in finals]
    return effect("final winner share, all KL-0 runs", shares, cfg.bootstrap)


def tv(p: np.ndarray, q: np.ndarray) -> float:
    """Total variation distance between two format distributions, 0.5 * sum |p - q|."""
    return 0.5 * float(np.abs(p - q).sum())


def scale_effects(cfg, measured: Measured) -> tuple[Effect | None, Effect | None]:
    """Between-scale TV of the final format distributions (same mixture and seed), and that
    minus the within-scale TV across seeds: (seeds, mixtures) values. None below 2x2."""
    if len(cfg.scales) != 2 or len(cfg.seeds) < 2:
        return None, None
    final = {c: measured.final[c, 0.0].shares().mean(axis=0) for c in conditions(cfg)}

    def distance(a: Condition, b: Condition) -> float:
        return tv(final[a], final[b])

    small, large = cfg.scales
    between = np.zeros((len(cfg.seeds), len(cfg.mixtures)))  # (S, M)
    within = np.zeros_like(between)
    for (i, seed), (j, mix) in itertools.product(enumerate(cfg.seeds), enumerate(cfg.mixtures)):
        between[i, j] = distance(Condition(small, mix, seed), Condition(large, mix, seed))
        others = [(s, o) for s in cfg.scales for o in cfg.seeds if o != seed]
        within[i, j] = np.mean(
            [distance(Condition(s, mix, seed), Condition(s, mix, o)) for s, o in others]
        )
    gap = "TV between scales minus TV between seeds, final formats"
    return (
        effect(gap, between - within, cfg.bootstrap),
        effect("TV between the scales' final format distributions", between, cfg.bootstrap),
    )


def hit_rates(cfg, measured: Measured) -> tuple[np.ndarray, np.ndarray]:
    """(seeds, conditions) indicators: the KL-0 winner is the base's best-accuracy format;
    the KL-0 winner is the base's most frequent format."""
    by_acc = np.zeros((len(cfg.seeds), len(cfg.scales) * len(cfg.mixtures)))
    by_freq = np.zeros_like(by_acc)
    for i, seed in enumerate(cfg.seeds):
        pairs = [(s, m) for m in cfg.mixtures for s in cfg.scales]
        for j, (scale, mix) in enumerate(pairs):
            cond = Condition(scale, mix, seed)
            won = winner(measured.final[cond, 0.0])
            by_acc[i, j] = won == best_accuracy(measured.bases[cond])
            by_freq[i, j] = won == most_frequent(measured.bases[cond])
    return by_acc, by_freq


def predictor_effects(cfg, measured: Measured) -> tuple[Effect, Effect]:
    by_acc, by_freq = hit_rates(cfg, measured)
    return (
        effect("runs whose winner is the best pre-RL format (accuracy)", by_acc, cfg.bootstrap),
        effect("runs whose winner is the most frequent pre-RL format", by_freq, cfg.bootstrap),
    )


def kl_effect(cfg, measured: Measured) -> Effect | None:
    """Final share of the KL-0 winner, KL 0 minus the largest KL, paired per problem."""
    if len(cfg.kl_coefs) < 2:
        return None
    kl = max(cfg.kl_coefs)
    diffs = []
    for cond in conditions(cfg):
        won = winner(measured.final[cond, 0.0])
        diffs.append(
            measured.final[cond, 0.0].winner_share(won) - measured.final[cond, kl].winner_share(won)
        )
    return effect(f"final winner share, KL 0 minus KL {kl:g}", diffs, cfg.bootstrap)


def base_accuracy(cfg, measured: Measured) -> list[Effect]:
    """Each scale's pre-RL accuracy (free samples) over its bases and problems."""
    found = []
    for scale in cfg.scales:
        rows = [
            measured.bases[c].free.correct.mean(axis=1) for c in conditions(cfg) if c.scale == scale
        ]
        found.append(effect(f"pre-RL accuracy, {scale}", rows, cfg.bootstrap))
    return found


# ---------------------------------------------------------------- tables


def base_table(cfg, measured: Measured) -> pd.DataFrame:
    """Per base and format: pretraining weight, sampled share, forced accuracy, 95% CIs."""
    rows = []
    for cond, base in measured.bases.items():
        weights = np.array(get_task(cond.mixture).config.format_weights, dtype=float)
        for i, name in enumerate(FORMATS):
            share = base.free.shares()[:, i]
            forced = base.forced[name].correct.mean(axis=1)
            rows.append(
                {
                    **asdict(cond),
                    "format": name,
                    "pretrain_weight": weights[i] / weights.sum(),
                    **interval("share", share, cfg.bootstrap),
                    **interval("forced_accuracy", forced, cfg.bootstrap),
                }
            )
    return pd.DataFrame(rows)


def interval(name: str, per_problem, resamples: int) -> dict[str, float]:
    est, (low, high) = hierarchical_bootstrap(np.asarray(per_problem)[None], np.mean, resamples)
    return {name: est, f"{name}_lo": low, f"{name}_hi": high}


def runs_table(cfg, measured: Measured, runs: dict, threshold: float) -> pd.DataFrame:
    """One row per RL run: winner, predictors, shares before / after the first pass / end."""
    rows = []
    for (cond, kl), run in runs.items():
        base, first, final = (
            measured.bases[cond],
            measured.first[cond, kl],
            measured.final[cond, kl],
        )
        won = winner(final)
        rows.append(
            {
                **asdict(cond),
                "kl_coef": kl,
                "winner": NAMES[won],
                "best_pre_rl_accuracy": NAMES[best_accuracy(base)],
                "most_frequent_pre_rl": NAMES[most_frequent(base)],
                "base_accuracy": base.free.correct.mean(),
                "winner_share_base": base.free.winner_share(won).mean(),
                "winner_share_first_pass": first.winner_share(won).mean(),
                "winner_share_final": final.winner_share(won).mean(),
                "accuracy_first_pass": first.correct.mean(),
                "accuracy_final": final.correct.mean(),
                "pass_steps": cfg.pass_steps,
                "first_pass_read_at": cfg.first_pass_step,
                "collapse_step": collapse_step(rollout_frame(run), threshold),
            }
        )
    return pd.DataFrame(rows)


def eval_table(measured: Measured) -> pd.DataFrame:
    """Held-out format shares and within-format accuracy of every model and stage."""
    rows = []
    stages = [((c, None), "base", b.free) for c, b in measured.bases.items()]
    stages += [(k, "first pass", s) for k, s in measured.first.items()]
    stages += [(k, "final", s) for k, s in measured.final.items()]
    for (cond, kl), stage, samples in stages:
        for i, name in enumerate(NAMES):
            mine = samples.formats == i
            within = samples.correct[mine].mean() if mine.any() else np.nan
            rows.append(
                {
                    **asdict(cond),
                    "kl_coef": kl,
                    "stage": stage,
                    "format": name,
                    "share": mine.mean(),
                    "accuracy_within": within,
                }
            )
    return pd.DataFrame(rows)


def rollout_table(runs: dict) -> pd.DataFrame:
    """Every run's recorder rollout statistics, tidy, with its condition."""
    frames = [
        rollout_frame(run).assign(**asdict(cond), kl_coef=kl) for (cond, kl), run in runs.items()
    ]
    return pd.concat(frames, ignore_index=True)


def effects_table(effects: list[Effect]) -> pd.DataFrame:
    rows = [(e.name, e.estimate, *e.ci95, e.unit) for e in effects]
    return pd.DataFrame(rows, columns=["effect", "estimate", "ci_low", "ci_high", "unit"])


# ---------------------------------------------------------------- figures


def panels(cfg, title: str):
    """A figure with one panel per (mixture row, scale column): (figure, [(ax, mix, scale)])."""
    import matplotlib.pyplot as plt

    rows, cols = len(cfg.mixtures), len(cfg.scales)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(4.2 * cols, 3.0 * rows),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    fig.suptitle(title)
    cells = [
        (axes[r][c], mix, scale)
        for r, mix in enumerate(cfg.mixtures)
        for c, scale in enumerate(cfg.scales)
    ]
    for ax, mix, scale in cells:
        ax.set_title(f"{scale}, pretrained on {mix}", fontsize=8)
    return fig, cells


def band(ax, x, p, count, color) -> None:
    """95% binomial (normal) interval of a proportion ``p`` from ``count`` samples, in [0, 1]."""
    half = 1.96 * np.sqrt(np.nan_to_num(p * (1 - p)) / np.maximum(count, 1))
    ax.fill_between(
        x, np.clip(p - half, 0, 1), np.clip(p + half, 0, 1), color=color, alpha=0.15, linewidth=0
    )


def mark_steps(ax, cfg, xlabel: str = "RL step") -> None:
    """The end of the first pass (when the runs reach it) and the x label."""
    if cfg.pass_steps <= cfg.rl_steps:
        ax.axvline(cfg.pass_steps, color="black", linewidth=0.8, linestyle="-.")
    ax.set_xlabel(xlabel)


def plot_shares(cfg, rollouts: pd.DataFrame, threshold: float):
    """Rollout format share vs RL step: mixture rows, scale columns, KL line styles."""
    fig, cells = panels(cfg, "Rollout format share during RL")
    count = cfg.prompts_per_step * cfg.samples_per_prompt * len(cfg.seeds)  # samples per point
    for ax, mix, scale in cells:
        mine = rollouts[(rollouts.mixture == mix) & (rollouts.scale == scale)]
        for kl, style in zip(cfg.kl_coefs, ("-", "--", ":"), strict=False):
            for name in NAMES:
                line = mine[(mine.kl_coef == kl) & (mine.format == name)]
                line = line.groupby("step")["share"].mean()
                ax.plot(
                    line.index, line.values, style, color=COLORS[name], label=f"{name}, KL {kl:g}"
                )
                if kl == 0.0:
                    band(ax, line.index, line.values, count, COLORS[name])
        ax.axhline(threshold, color="black", linewidth=0.6, linestyle=":")
        mark_steps(ax, cfg)
        ax.set_ylabel("share of rollouts (fraction)")
    cells[-1][0].legend(fontsize=6, loc="center right")
    return fig


def plot_accuracy(cfg, rollouts: pd.DataFrame):
    """Per-format rollout accuracy vs RL step (KL 0), with 95% binomial bands; a format
    with fewer than ``MIN_COUNT`` rollouts at a step leaves a gap."""
    fig, cells = panels(cfg, "Per-format rollout accuracy during RL (KL 0)")
    total = cfg.prompts_per_step * cfg.samples_per_prompt * len(cfg.seeds)
    zero = rollouts[rollouts.kl_coef == 0.0]
    for ax, mix, scale in cells:
        mine = zero[(zero.mixture == mix) & (zero.scale == scale)]
        for name in FORMATS:
            line = mine[mine.format == name].groupby("step")[["format_accuracy", "share"]].mean()
            count = line.share * total  # rollouts in this format at each step
            acc = line.format_accuracy.where(count >= MIN_COUNT)  # too few samples: a gap
            ax.plot(line.index, acc, color=COLORS[name], label=name)
            band(ax, line.index, acc.values, count.values, COLORS[name])
        overall = mine.groupby("step")["accuracy"].mean()  # the same on every format row
        ax.plot(overall.index, overall.values, color="black", linewidth=1, label="all formats")
        mark_steps(ax, cfg)
        ax.set_ylabel("accuracy within format (fraction)")
    cells[-1][0].legend(fontsize=7)
    return fig


def plot_pre_rl(cfg, bases: pd.DataFrame, runs: pd.DataFrame):
    """Per base scale and mixture: pretraining weight, pre-RL share and forced accuracy of
    each format (mean over seeds, 95% intervals), with the KL-0 winners named."""
    fig, cells = panels(cfg, "Before RL: format frequency and accuracy")
    x = np.arange(len(FORMATS))
    bars = (
        ("share", "pre-RL sample share", "tab:purple", -0.2),
        ("forced_accuracy", "forced-format accuracy", "tab:olive", 0.2),
    )
    for ax, mix, scale in cells:
        mine = bases[(bases.mixture == mix) & (bases.scale == scale)]
        mine = mine.groupby("format").mean(numeric_only=True).reindex(FORMATS)
        for name, label, color, offset in bars:
            err = [mine[name] - mine[f"{name}_lo"], mine[f"{name}_hi"] - mine[name]]
            ax.bar(x + offset, mine[name], 0.4, yerr=err, color=color, capsize=2, label=label)
        ax.scatter(
            x,
            mine.pretrain_weight,
            marker="_",
            s=300,
            color="black",
            zorder=3,
            label="pretraining weight",
        )
        won = runs[(runs.mixture == mix) & (runs.scale == scale) & (runs.kl_coef == 0.0)]
        ax.set_title(f"{scale}, {mix}; KL-0 winner: {', '.join(won.winner)}", fontsize=8)
        ax.set_xticks(x, FORMATS)
        ax.set_xlabel("solution format")
        ax.set_ylabel("fraction")
    cells[-1][0].legend(fontsize=7)
    return fig


def plot_effects(effects: list[Effect], threshold: float, margin: float):
    """Every effect with its 95% interval, fractions on one axis, the primary on top."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(effects) + 1.2), layout="constrained")
    for y, e in enumerate(effects):
        err = [[e.estimate - e.ci95[0]], [e.ci95[1] - e.estimate]]
        ax.errorbar(e.estimate, y, xerr=err, fmt="o", color="black", capsize=3)
    ax.axvline(threshold, color="tab:red", linestyle=":", label=f"collapse share {threshold:g}")
    ax.axvline(margin, color="tab:blue", linestyle=":", label=f"scale margin {margin:g} (TV)")
    ax.axvline(0, color="gray", linewidth=0.6)
    ax.set_yticks(range(len(effects)), [e.name for e in effects], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("estimate (fraction; 95% bootstrap interval over runs and problems)")
    ax.legend(fontsize=7)
    return fig
