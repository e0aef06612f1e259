"""Study 5's machinery: training the arms, measuring every checkpoint, curves and effects.

Every checkpoint (the base at step 0, then every ``eval_every`` RL steps) is measured on
the same held-out problems with the same sampling seed, so curves over steps differ only
by the weights. A measurement is one row per problem: accuracy, plan accuracy
(``plan_ok``), execution accuracy (``exec_ok``), plan-choice entropy over the n samples,
distinct valid plans, and per token class (plan, exec, answer, format, all) the sums of
the policy's token entropy and of the sampled tokens' negative log-likelihood, with the
token count, so a curve is a ratio of sums over the (seed, problem) cells it is given.
Intervals resample those cells (hierarchical bootstrap over seeds, then problems) and
recompute the whole statistic, the detected phase boundary included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from regimescope.instruments import planning
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.objectives import token_entropy, token_log_probs
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, completion_logits, rl
from regimescope.regimes.rollout import Rollouts, rollout_batch, shifted, token_class_ids
from regimescope.sampling import SamplingConfig, sample
from regimescope.store import RunDir
from regimescope.studies.bases import trained_base
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import get_task
from regimescope.tasks.base import TOKEN_CLASSES
from regimescope.tasks.countdown import solutions

if TYPE_CHECKING:
    from regimescope.studies.base import StudyContext
    from regimescope.studies.two_phase import TwoPhaseConfig

CLASSES = ("plan", "exec", "answer", "format", "all")  # token classes measured ("all": every token)
EVAL_SEED = 0  # sampling seed of every measurement (same samples' randomness at every step)
ROWS_PER_FORWARD = 512  # sampled sequences scored in one forward pass


@dataclass(frozen=True)
class Arm:
    label: str  # shown in figures and effect names
    objective: str  # RL objective
    entropy_bonus: bool  # whether the arm adds the token-entropy bonus


ARMS = {
    "grpo": Arm("GRPO", "grpo", False),
    "hicra": Arm("HICRA", "hicra", False),
    "entropy": Arm("GRPO + entropy bonus", "grpo", True),
}

# metric -> (numerator column, denominator column or None for a mean over cells, unit)
METRICS = {
    "accuracy": ("accuracy", None, "fraction"),
    "plan accuracy": ("plan_acc", None, "fraction"),
    "execution accuracy": ("exec_acc", None, "fraction"),
    "plan-choice entropy": ("plan_entropy", None, "nats"),
    "valid-plan coverage": ("coverage", None, "fraction"),
    "execution-token entropy": ("h_exec", "n_exec", "nats"),
    "planning-token entropy": ("h_plan", "n_plan", "nats"),
    "aggregate token entropy": ("h_all", "n_all", "nats"),
    "execution-token relative perplexity": ("nll_exec", "n_exec", "PPL_t / PPL_0"),
    "planning-token relative perplexity": ("nll_plan", "n_plan", "PPL_t / PPL_0"),
}


@dataclass(frozen=True)
class Trained:
    arm: str  # key of ARMS
    seed: int  # RL seed
    run: RunDir  # the finished RL run (checkpoints every eval_every steps)


# ---------------------------------------------------------------- training


def rl_config(cfg: TwoPhaseConfig, base_dir: str, arm: str, seed: int) -> RLConfig:
    """One arm's run: the shared rate, no KL, a checkpoint every ``eval_every`` steps."""
    record = RecorderConfig(
        every=1, kl=False, formats=False, update_ratio=False, changed=False, weight_norms=False
    )
    return RLConfig(
        model=base_dir,
        curriculum=CurriculumConfig(tasks=(cfg.base.task,)),
        objective=ARMS[arm].objective,
        steps=cfg.steps,
        prompts_per_step=cfg.prompts_per_step,
        samples_per_prompt=cfg.samples_per_prompt,
        max_new_tokens=cfg.max_new_tokens,
        lr=cfg.lr,
        alpha=cfg.alpha,
        entropy_coef=cfg.entropy_coef if ARMS[arm].entropy_bonus else 0.0,
        seed=seed,
        checkpoint_every=cfg.eval_every,
        recorder=record,
    )


def train_all(cfg: TwoPhaseConfig, ctx: StudyContext) -> tuple[RunDir, list[Trained]]:
    """(the base run, one finished RL run per arm and seed)."""
    ctx.progress("base organism")
    base = trained_base(cfg.base, ctx.store)
    trained = []
    for arm in ARMS:
        for seed in cfg.seeds:
            ctx.progress(f"{ARMS[arm].label}, seed {seed}: {cfg.steps} RL steps")
            run = rl(rl_config(cfg, str(base.model_dir), arm, seed), ctx.store)
            trained.append(Trained(arm, seed, run))
    return base, trained


def checkpoints(run: RunDir) -> list[tuple[int, object]]:
    """(step, model folder) of every checkpoint of a finished run, in step order."""
    return [(step, run.checkpoint_dir(step)) for step in run.checkpoint_steps()]


# ---------------------------------------------------------------- measuring a checkpoint


def measure(folder, cfg: TwoPhaseConfig, keep_docs: bool = False) -> tuple[pd.DataFrame, list]:
    """Sample ``eval_samples`` completions of each held-out problem and score them: one row
    per problem (see the module docstring) and, if asked, each sample's doc (tokens, plan
    mask or None if unlabelled, correctness) for the n-gram proxy."""
    task = get_task(cfg.base.task)
    items = [task.example(i, "test", 0) for i in range(cfg.eval_problems)]
    model, tokenizer = load_model(folder)
    model.eval()
    sampling = SamplingConfig(
        n=cfg.eval_samples,
        temperature=cfg.eval_temperature,
        max_new_tokens=cfg.max_new_tokens,
        seed=EVAL_SEED,
    )
    completions = sample(model, tokenizer, [e.prompt for e in items], sampling)
    scores = [
        [task.verify(e, c.text) for c in row] for e, row in zip(items, completions, strict=True)
    ]
    sums = token_sums(model, tokenizer, items, completions, cfg.eval_temperature)
    rows = pd.DataFrame(
        [
            problem_row(p, e, s, task.config.max_value)
            for p, (e, s) in enumerate(zip(items, scores, strict=True))
        ]
    )
    rows = pd.concat([rows, pd.DataFrame(sums)], axis=1)
    return rows, sample_docs(tokenizer, items, completions, scores) if keep_docs else []


def problem_row(problem: int, example, scores, max_value: int) -> dict:
    """Accuracy, plan and execution accuracy, plan-choice entropy and valid-plan coverage."""
    details = [s.details for s in scores]
    valid = {d["plan"] for d in details if d["plan_ok"]}
    found = sum(1 for _ in solutions(example.meta["numbers"], example.meta["target"], max_value))
    return {
        "problem": problem,
        "accuracy": float(np.mean([s.reward for s in scores])),
        "plan_acc": float(np.mean([d["plan_ok"] for d in details])),
        "exec_acc": float(np.mean([d["exec_ok"] for d in details])),
        "plan_entropy": planning.choice_entropy([d["plan"] or "<none>" for d in details]),
        "valid_plans": len(valid),
        "coverage": len(valid) / max(found, 1),
    }


def token_sums(model, tokenizer, items, completions, temperature: float) -> dict[str, list]:
    """Per problem and token class: sums of policy entropy and sampled-token NLL, and counts."""
    out: dict[str, list] = {f"{k}_{c}": [] for k in ("h", "nll", "n") for c in CLASSES}
    per = max(1, ROWS_PER_FORWARD // max(len(completions[0]), 1))  # prompts per forward
    for start in range(0, len(items), per):
        chunk_items, chunk = items[start : start + per], completions[start : start + per]
        n = len(chunk[0])
        rollouts = Rollouts(
            chunk_items, chunk, torch.zeros(len(chunk), n), [None] * (len(chunk) * n)
        )
        batch = rollout_batch(tokenizer, rollouts)
        tokens, mask, class_ids = shifted(batch)  # (B, T-1) each
        with torch.inference_mode():
            logits = completion_logits(model, batch, temperature)  # (B, T-1, V)
            entropy, nll = token_entropy(logits), -token_log_probs(logits, tokens)  # (B, T-1)
        for cls in CLASSES:
            chosen = mask if cls == "all" else mask & (class_ids == TOKEN_CLASSES.index(cls))
            for key, value in (("h", entropy), ("nll", nll), ("n", torch.ones_like(nll))):
                per_problem = (value * chosen).sum(dim=1).view(len(chunk), n).sum(dim=1)  # (p,)
                out[f"{key}_{cls}"] += per_problem.tolist()
    return out


def sample_docs(tokenizer, items, completions, scores) -> list[dict]:
    """Each sample's tokens, ground-truth plan mask (None if unlabelled) and correctness."""
    plan = TOKEN_CLASSES.index("plan")
    docs = []
    for p, (example, row, row_scores) in enumerate(zip(items, completions, scores, strict=True)):
        for completion, score in zip(row, row_scores, strict=True):
            ids = token_class_ids(tokenizer, example, completion)
            labelled = any(i >= 0 for i in ids)
            docs.append(
                {
                    "problem": p,
                    "tokens": tokenizer.convert_ids_to_tokens(list(completion.token_ids)),
                    "plan_mask": [i == plan for i in ids] if labelled else None,
                    "correct": score.reward > 0.5,
                }
            )
    return docs


def measure_all(base: RunDir, trained: list[Trained], cfg, ctx) -> tuple[pd.DataFrame, list]:
    """(per-problem rows of every checkpoint, sample docs of the last GRPO checkpoints)."""
    ctx.progress("measuring the base")
    frames = [measure(base.model_dir, cfg)[0].assign(arm="base", seed=-1, step=0)]
    docs = []
    for t in trained:
        ctx.progress(f"measuring {ARMS[t.arm].label}, seed {t.seed}")
        for step, folder in checkpoints(t.run):
            last = t.arm == "grpo" and step == cfg.steps
            rows, found = measure(folder, cfg, keep_docs=last)
            frames.append(rows.assign(arm=t.arm, seed=t.seed, step=step))
            docs += [{**d, "seed": t.seed} for d in found]
    return pd.concat(frames, ignore_index=True), docs


# ---------------------------------------------------------------- curves over (seed, problem) cells


@dataclass(frozen=True)
class ArmData:
    steps: np.ndarray  # (C,) checkpoint steps, 0 = the base
    seeds: int  # S
    problems: int  # P
    columns: dict[str, np.ndarray]  # column -> (S * P, C), cell = seed * P + problem


def arm_data(frame: pd.DataFrame, arm: str, seeds: tuple[int, ...]) -> ArmData:
    """The (cell, step) arrays of one arm; step 0 is the base's row for every seed."""
    base = frame[frame.arm == "base"].sort_values("problem")
    tuned = frame[(frame.arm == arm) & frame.seed.isin(seeds)]
    steps = np.array([0, *sorted(tuned.step.unique())])
    problems = len(base)
    columns = {}
    for column in {c for num, den, _ in METRICS.values() for c in (num, den) if c}:
        wide = tuned.pivot_table(index=["seed", "problem"], columns="step", values=column)
        start = np.tile(base[column].to_numpy(), len(seeds))[:, None]  # (S * P, 1)
        columns[column] = np.hstack([start, wide.to_numpy()])  # (S * P, C)
    return ArmData(steps, len(seeds), problems, columns)


def curve(data: ArmData, metric: str, cells: np.ndarray | None = None) -> np.ndarray:
    """The metric at every checkpoint (C,) over ``cells`` (default: all): a ratio of sums
    for token metrics, a mean over cells otherwise; relative perplexity divides by step 0."""
    num, den, unit = METRICS[metric]
    cells = np.arange(data.seeds * data.problems) if cells is None else cells
    top = data.columns[num][cells].sum(axis=0)  # (C,)
    bottom = data.columns[den][cells].sum(axis=0) if den else np.full(top.shape, float(len(cells)))
    value = np.divide(top, bottom, out=np.full(top.shape, np.nan), where=bottom > 0)
    if unit == "PPL_t / PPL_0":
        value = np.exp(value) / np.exp(value[0])
    return value


def cell_bootstrap(data: ArmData, statistic, resamples: int) -> tuple[float, tuple[float, float]]:
    """``statistic(cells)`` with its 95% interval, resampling seeds then problems."""
    ids = np.arange(data.seeds * data.problems).reshape(data.seeds, data.problems)  # (S, P)
    return hierarchical_bootstrap(
        ids, lambda picked: statistic(picked.astype(int).ravel()), resamples
    )


# ---------------------------------------------------------------- the arc: boundary and phases


def arc(data: ArmData, cells: np.ndarray | None = None) -> dict[str, float]:
    """The two-phase statistics of one arm over ``cells``.

    The boundary is the knot of the hinge fit of the execution-token entropy curve;
    slopes are in nats per 100 steps; ``plan_rise`` is the plan-choice entropy at the last
    checkpoint minus at the boundary. All nan when fewer than 3 checkpoints have exec tokens.
    """
    entropy = curve(data, "execution-token entropy", cells)
    keep = np.isfinite(entropy)
    if keep.sum() < 3:
        return dict.fromkeys(("boundary", "slope_before", "slope_change", "plan_rise"), np.nan)
    fit = planning.hinge_fit(data.steps[keep], entropy[keep])
    plan = curve(data, "plan-choice entropy", cells)
    at = int(np.searchsorted(data.steps, fit.boundary))
    return {
        "boundary": fit.boundary,
        "slope_before": 100 * fit.slope_before,
        "slope_change": 100 * (fit.slope_before - fit.slope_after),
        "plan_rise": float(plan[-1] - plan[at]),
    }


def phase_changes(data: ArmData) -> list[dict]:
    """Each metric's change over phase 1 (step 0 -> boundary) and phase 2 (boundary -> end)."""
    boundary = arc(data)["boundary"]
    if not np.isfinite(boundary):
        return []
    at = int(np.searchsorted(data.steps, boundary))
    rows = []
    for metric, (_, _, unit) in METRICS.items():
        values = curve(data, metric)
        change_1, change_2 = values[at] - values[0], values[-1] - values[at]
        rows.append(
            dict(metric=metric, unit=unit, boundary=boundary, phase_1=change_1, phase_2=change_2)
        )
    return rows


def curve_table(arms: dict[str, ArmData], resamples: int) -> pd.DataFrame:
    """Every arm's every metric at every checkpoint, with a 95% band over seeds and problems."""
    rows = []
    for arm, data in arms.items():
        for metric, (_, _, unit) in METRICS.items():
            for i, step in enumerate(data.steps):
                est, ci = cell_bootstrap(
                    data, lambda c, d=data, m=metric, i=i: curve(d, m, c)[i], resamples
                )
                rows.append((arm, metric, unit, int(step), est, *ci))
    return pd.DataFrame(rows, columns=["arm", "metric", "unit", "step", "estimate", "low", "high"])


# ---------------------------------------------------------------- effects

ARC = {  # key of arc() -> (effect name, unit)
    "slope_before": ("GRPO execution-token entropy slope, phase 1", "nats per 100 steps"),
    "slope_change": ("GRPO execution-token entropy slope, phase 1 − phase 2", "nats per 100 steps"),
    "plan_rise": ("GRPO plan-choice entropy change over phase 2", "nats"),
    "boundary": ("GRPO phase boundary (knot of the execution-entropy hinge fit)", "RL steps"),
}


@dataclass(frozen=True)
class Found:
    gain: Effect  # GRPO accuracy, last checkpoint − base (the gate)
    arc: dict[str, Effect]  # ARC key -> effect
    hicra: Effect  # HICRA − GRPO accuracy, mean over checkpoints
    bonus: Effect  # entropy bonus − GRPO accuracy, mean over checkpoints
    reported: list[Effect]  # measured, not decided

    @property
    def all(self) -> list[Effect]:
        decided = [self.arc["slope_before"], self.arc["slope_change"], self.arc["plan_rise"]]
        return [*decided, self.gain, self.hicra, self.bonus, self.arc["boundary"], *self.reported]


def cube(data: ArmData, column: str) -> np.ndarray:
    """A per-cell column as (S, P, C)."""
    return data.columns[column].reshape(data.seeds, data.problems, -1)


def versus_grpo(arms: dict[str, ArmData], arm: str, last: bool, resamples: int) -> Effect:
    """arm − GRPO accuracy per (seed, problem): at the last checkpoint, or the mean over
    the checkpoints after the base (the area under the accuracy curve: who gets there sooner)."""
    a, g = cube(arms[arm], "accuracy"), cube(arms["grpo"], "accuracy")
    pick = (lambda x: x[:, :, -1]) if last else (lambda x: x[:, :, 1:].mean(axis=2))
    when = "last checkpoint" if last else "mean over checkpoints"
    est, ci = hierarchical_bootstrap(pick(a) - pick(g), np.mean, resamples)
    return Effect(f"{ARMS[arm].label} − GRPO accuracy, {when}", est, ci)


def change(data: ArmData, metric: str, resamples: int, label: str) -> Effect:
    """A metric's last checkpoint minus the base (step 0) for one arm."""
    est, ci = cell_bootstrap(
        data, lambda c: float(np.subtract(*curve(data, metric, c)[[-1, 0]])), resamples
    )
    return Effect(f"{label} {metric}, last checkpoint − base", est, ci, METRICS[metric][2])


def effects(arms: dict[str, ArmData], proxy: list[dict], cfg) -> Found:
    """Every effect of the study, with 95% intervals over seeds and problems."""
    grpo, resamples = arms["grpo"], cfg.bootstrap
    acc = cube(grpo, "accuracy")
    gain = Effect(
        "GRPO accuracy, last checkpoint − base",
        *hierarchical_bootstrap(acc[:, :, -1] - acc[:, :, 0], np.mean, resamples),
    )
    found_arc = {
        key: Effect(
            name, *cell_bootstrap(grpo, lambda c, key=key: arc(grpo, c)[key], resamples), unit
        )
        for key, (name, unit) in ARC.items()
    }
    reported = [
        change(grpo, "aggregate token entropy", resamples, "GRPO"),
        change(grpo, "execution-token relative perplexity", resamples, "GRPO"),
        change(grpo, "plan accuracy", resamples, "GRPO"),
        change(grpo, "execution accuracy", resamples, "GRPO"),
        change(arms["entropy"], "aggregate token entropy", resamples, "entropy-bonus arm"),
        versus_grpo(arms, "hicra", True, resamples),
        versus_grpo(arms, "entropy", True, resamples),
    ]
    for row in proxy:
        if row["top_fraction"] == cfg.proxy_fraction:
            for name in ("precision", "recall"):
                ci = (row[f"{name}_low"], row[f"{name}_high"])
                label = f"n-gram miner {name} vs true plan tokens (top {cfg.proxy_fraction:g})"
                reported.append(Effect(label, row[name], ci))
    return Found(
        gain,
        found_arc,
        versus_grpo(arms, "hicra", False, resamples),
        versus_grpo(arms, "entropy", False, resamples),
        reported,
    )


# ---------------------------------------------------------------- the strategic n-gram proxy


def proxy_scores(docs: list[dict], seeds: tuple[int, ...], problems: int, cfg) -> list[dict]:
    """Precision and recall of the n-gram miner against the plan labels, per kept share.

    Mined from the correct samples of the last GRPO checkpoints (all seeds pooled), scored
    on every labelled sample; intervals resample (seed, problem) cells of the counts
    (the mining itself is not redone per resample). ``chance_precision`` is the share of
    plan tokens among the scored tokens: the precision of a mask drawn at random.
    """
    correct = [d["tokens"] for d in docs if d["correct"]]
    scored = [d for d in docs if d["plan_mask"] is not None]
    tokens = sum(len(d["plan_mask"]) for d in scored)
    chance = sum(sum(d["plan_mask"]) for d in scored) / tokens if tokens else float("nan")
    rows = []
    for share in cfg.top_fractions:
        grams = planning.mine_ngrams(correct, *cfg.ngram_sizes, top_fraction=share)
        counts = np.zeros((len(seeds) * problems, 3))  # (cells, tp/fp/fn)
        for d in scored:
            cell = seeds.index(d["seed"]) * problems + d["problem"]
            counts[cell] += planning.mask_counts(
                planning.ngram_mask(d["tokens"], grams), d["plan_mask"]
            )
        row = proxy_row(share, grams, counts, len(seeds), problems, cfg.bootstrap)
        rows.append(row | {"chance_precision": chance})
    return rows


def proxy_row(share, grams, counts: np.ndarray, seeds: int, problems: int, resamples: int) -> dict:
    """One kept share's precision and recall with intervals, and its top n-grams."""
    ids = np.arange(seeds * problems).reshape(seeds, problems)

    def score(which: int):
        def statistic(picked):
            tp, fp, fn = counts[picked.astype(int).ravel()].sum(axis=0)
            return planning.precision_recall(tp, fp, fn)[which]

        return hierarchical_bootstrap(ids, statistic, resamples)

    row = {"top_fraction": share, "grams_kept": len(grams)}
    for which, name in enumerate(("precision", "recall")):
        est, (low, high) = score(which)
        row |= {name: est, f"{name}_low": low, f"{name}_high": high}
    return row | {"top_grams": " | ".join("".join(g).replace("\n", "⏎") for g in grams[:8])}


def rollout_table(trained: list[Trained]) -> pd.DataFrame:
    """The recorder's per-step rollout metrics of every run (training prompts)."""
    keys = ("reward", "entropy", "entropy/plan", "entropy/exec", "entropy/answer", "entropy/format")
    rows = [
        (t.arm, t.seed, record["step"], *(record.get(k, np.nan) for k in keys))
        for t in trained
        for record in t.run.read_metrics()
    ]
    return pd.DataFrame(rows, columns=["arm", "seed", "step", *keys])


# ---------------------------------------------------------------- figures

COLORS = {"grpo": "tab:blue", "hicra": "tab:red", "entropy": "tab:green"}
PANELS = (
    "accuracy",
    "plan accuracy",
    "execution accuracy",
    "plan-choice entropy",
    "execution-token entropy",
    "execution-token relative perplexity",
    "planning-token entropy",
    "aggregate token entropy",
)


def plot_arc(curves: pd.DataFrame, boundary: Effect | None):
    """Eight metrics over RL steps, one line per arm, 95% bands; the GRPO phase boundary."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True)
    for ax, metric in zip(axes.flat, PANELS, strict=True):
        for arm, rows in curves[curves.metric == metric].groupby("arm", sort=False):
            ax.plot(
                rows.step, rows.estimate, marker="o", ms=3, color=COLORS[arm], label=ARMS[arm].label
            )
            ax.fill_between(rows.step, rows.low, rows.high, color=COLORS[arm], alpha=0.15)
        if boundary is not None:
            ax.axvline(boundary.estimate, color="black", ls="--", lw=1, label="GRPO phase boundary")
            ax.axvspan(*boundary.ci95, color="grey", alpha=0.12)
        ax.set_title(metric, fontsize=10)
        ax.set_ylabel(METRICS[metric][2])
    for ax in axes[1]:
        ax.set_xlabel("RL step")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_rollouts(table: pd.DataFrame):
    """The recorder's rollout entropies per step (training prompts), mean and range over seeds."""
    import matplotlib.pyplot as plt

    keys = {
        "entropy": "all tokens",
        "entropy/plan": "planning tokens",
        "entropy/exec": "execution tokens",
    }
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharex=True)
    for ax, (key, title) in zip(axes, keys.items(), strict=True):
        for arm, rows in table.groupby("arm", sort=False):
            by_step = rows.groupby("step")[key]
            ax.plot(
                by_step.mean().index, by_step.mean(), color=COLORS[arm], lw=1, label=ARMS[arm].label
            )
            ax.fill_between(
                by_step.min().index, by_step.min(), by_step.max(), color=COLORS[arm], alpha=0.15
            )
        ax.set_title(f"rollout entropy, {title}", fontsize=10)
        ax.set_xlabel("RL step")
        ax.set_ylabel("nats per token")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_proxy(rows: pd.DataFrame):
    """Precision and recall of the strategic n-gram miner against the true plan tokens."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, color in (("precision", "tab:purple"), ("recall", "tab:orange")):
        err = [rows[name] - rows[f"{name}_low"], rows[f"{name}_high"] - rows[name]]
        ax.errorbar(
            rows.top_fraction, rows[name], yerr=err, marker="o", capsize=3, color=color, label=name
        )
    ax.plot(
        rows.top_fraction, rows.chance_precision, ls="--", color="grey", label="chance precision"
    )
    ax.set_xlabel("share of mined n-grams kept (by document frequency)")
    ax.set_ylabel("fraction of tokens")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    fig.tight_layout()
    return fig
