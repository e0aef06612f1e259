"""Study 3b's machinery: training the objectives, sampling every model, effects, figures.

Every effect is a paired difference per (seed, problem): each tuned model and the base
are sampled on the same problems with the same sampling seed, so the per-problem
difference cancels the problems' difficulty. The base is one model, so its row is
shared by every seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from regimescope.instruments import passk as pk
from regimescope.instruments.passk_run import PassKConfig, run_passk
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.sampler.decode import SamplingConfig
from regimescope.store import RunDir
from regimescope.studies.base import per_model_lines
from regimescope.studies.base_organisms import trained_base
from regimescope.studies.stats import hierarchical_bootstrap
from regimescope.studies.verdict import Effect
from regimescope.tasks import get_task

if TYPE_CHECKING:
    from regimescope.studies.base import StudyContext
    from regimescope.studies.rl_objectives import RLObjectivesConfig

OBJECTIVES = ("grpo", "psr", "nsr", "w_reinforce")
LABELS = {"base": "base", "grpo": "GRPO", "psr": "PSR", "nsr": "NSR", "w_reinforce": "W-REINFORCE"}
COLORS = {
    "base": "black",
    "grpo": "tab:blue",
    "psr": "tab:orange",
    "nsr": "tab:green",
    "w_reinforce": "tab:purple",
}
METRICS = ("pass@1", "pass@n", "fully solved")


@dataclass(frozen=True)
class Trained:
    objective: str  # one of OBJECTIVES
    seed: int  # RL seed
    run: RunDir  # the finished RL run


# ---------------------------------------------------------------- training and sampling


def rl_config(cfg: RLObjectivesConfig, base_dir: str, objective: str, seed: int) -> RLConfig:
    """One objective's run: no KL, no entropy bonus, the shared rate, a metrics line a step."""
    record = RecorderConfig(every=1, kl=False, formats=False, update_ratio=False)
    sizes = dict(prompts_per_step=cfg.prompts_per_step, samples_per_prompt=cfg.samples_per_prompt)
    task = CurriculumConfig(tasks=(cfg.base.task,))
    return RLConfig(
        model=base_dir,
        curriculum=task,
        objective=objective,
        steps=cfg.steps,
        lr=cfg.lr,
        max_new_tokens=cfg.max_new_tokens,
        lam=cfg.lam,
        seed=seed,
        checkpoint_every=cfg.steps,
        recorder=record,
        **sizes,
    )


def train_all(cfg: RLObjectivesConfig, ctx: StudyContext) -> tuple[Path, list[Trained]]:
    """(base model folder, one finished run per objective and seed)."""
    ctx.progress("base organism")
    base = trained_base(cfg.base, ctx.store)
    trained = []
    for objective in OBJECTIVES:
        for seed in cfg.seeds:
            ctx.progress(f"{LABELS[objective]}, seed {seed}")
            run = rl(rl_config(cfg, str(base.model_dir), objective, seed), ctx.store)
            trained.append(Trained(objective, seed, run))
    return base.model_dir, trained


@dataclass(frozen=True)
class Counts:
    n: int  # samples per problem
    base: np.ndarray  # (P,) correct samples of the base per problem
    tuned: dict[str, np.ndarray]  # objective -> (S, P) correct samples per seed and problem
    finished: dict[str, float]  # model label -> share of samples that ended with EOS


def evaluate(
    base_dir: Path, trained: list[Trained], cfg: RLObjectivesConfig, progress=lambda _: None
) -> Counts:
    """Sample every model (base first) on the held-out problems with one sampling seed;
    ``progress(line)`` hears as each model's samples end."""
    models = [("base", *load_model(base_dir))]
    models += [(f"{t.objective}/{t.seed}", *load_model(t.run.model_dir)) for t in trained]
    relay = per_model_lines(progress, [m[0] for m in models], cfg.eval_problems * cfg.eval_samples)
    sampling = SamplingConfig(
        n=cfg.eval_samples,
        temperature=cfg.eval_temperature,
        max_new_tokens=cfg.max_new_tokens,
        seed=0,
    )
    settings = PassKConfig(
        split="test", problems=cfg.eval_problems, sampling=sampling, ppl_samples=0, bootstrap=100
    )
    result = run_passk(models, get_task(cfg.base.task), settings, relay)
    found = {m.name: np.array(m.correct) for m in result.models}
    tuned = {o: np.stack([found[f"{o}/{s}"] for s in cfg.seeds]) for o in OBJECTIVES}
    finished = {m.name: m.finished for m in result.models}
    return Counts(cfg.eval_samples, found["base"], tuned, finished)


# ---------------------------------------------------------------- effects


def pass_at(correct: np.ndarray, n: int, k: int) -> np.ndarray:
    """Unbiased pass@k of every entry of an array of correct counts (same shape)."""
    flat = np.asarray(correct).ravel()
    return pk.pass_at_k_table(flat, n, [k])[:, 0].reshape(np.shape(correct))


def per_problem(counts: Counts, metric: str, correct: np.ndarray) -> np.ndarray:
    """pass@1, pass@n or the fully-solved indicator of each entry of ``correct``."""
    if metric == "fully solved":
        return (np.asarray(correct) == counts.n).astype(float)
    return pass_at(correct, counts.n, 1 if metric == "pass@1" else counts.n)


def metric_name(counts: Counts, metric: str) -> str:
    return metric.replace("pass@n", f"pass@{counts.n}")


def versus_base(counts: Counts, metric: str, objective: str, resamples: int) -> Effect:
    """objective − base in ``metric``, paired per (seed, problem)."""
    diff = per_problem(counts, metric, counts.tuned[objective])
    diff = diff - per_problem(counts, metric, counts.base)[None]  # (S, P)
    est, ci = hierarchical_bootstrap(diff, np.mean, resamples)
    return Effect(f"{LABELS[objective]} − base, {metric_name(counts, metric)}", est, ci)


def carry_effect(counts: Counts, share: float, resamples: int) -> Effect:
    """(NSR − base) − share · (GRPO − base) at pass@1, per (seed, problem)."""
    base = per_problem(counts, "pass@1", counts.base)[None]
    nsr = per_problem(counts, "pass@1", counts.tuned["nsr"]) - base
    grpo = per_problem(counts, "pass@1", counts.tuned["grpo"]) - base
    est, ci = hierarchical_bootstrap(nsr - share * grpo, np.mean, resamples)
    return Effect(f"NSR pass@1 gain minus {share:g} × GRPO's", est, ci)


def entropy_change(trained: list[Trained], objective: str, resamples: int) -> Effect:
    """Rollout entropy over the last tenth of the steps minus the first tenth, per seed."""
    changes = []
    for t in (t for t in trained if t.objective == objective):
        values = [r["entropy"] for r in t.run.read_metrics() if "entropy" in r]
        tenth = max(1, len(values) // 10)
        changes.append(np.mean(values[-tenth:]) - np.mean(values[:tenth]))
    est, ci = hierarchical_bootstrap(np.array(changes)[:, None], np.mean, resamples)
    return Effect(
        f"{LABELS[objective]} rollout entropy change (last − first tenth)", est, ci, "nats"
    )


@dataclass(frozen=True)
class Effects:
    carry: Effect  # NSR's pass@1 gain minus CARRY_SHARE of GRPO's
    base_passk: Effect  # the base's own pass@n (room to fall below it)
    vs_base: dict[tuple[str, str], Effect]  # (metric, objective) -> objective − base
    entropy: dict[str, Effect]  # objective -> rollout entropy change over training

    @property
    def grpo_gain(self) -> Effect:
        return self.vs_base["pass@1", "grpo"]

    @property
    def nsr_passk(self) -> Effect:
        return self.vs_base["pass@n", "nsr"]

    @property
    def psr_passk(self) -> Effect:
        return self.vs_base["pass@n", "psr"]

    @property
    def all(self) -> list[Effect]:
        first = [self.carry, self.grpo_gain, self.base_passk, self.nsr_passk, self.psr_passk]
        rest = [e for e in self.vs_base.values() if e not in first]
        return [*first, *rest, *self.entropy.values()]


def effects(counts: Counts, trained: list[Trained], share: float, resamples: int) -> Effects:
    """Every effect the decision rule reads, and those reported beside it."""
    vs_base = {(m, o): versus_base(counts, m, o, resamples) for m in METRICS for o in OBJECTIVES}
    entropy = {o: entropy_change(trained, o, resamples) for o in OBJECTIVES}
    own = per_problem(counts, "pass@n", counts.base)[None]  # (1, P)
    est, ci = hierarchical_bootstrap(own, np.mean, resamples)
    base_passk = Effect(f"base {metric_name(counts, 'pass@n')}", est, ci)
    return Effects(carry_effect(counts, share, resamples), base_passk, vs_base, entropy)


# ---------------------------------------------------------------- tables and notes


def counts_table(counts: Counts) -> pd.DataFrame:
    """Correct samples per (model, seed, problem); the base has seed -1."""
    rows = [
        dict(model="base", seed=-1, problem=p, correct=int(c)) for p, c in enumerate(counts.base)
    ]
    for objective, table in counts.tuned.items():
        for s, row in enumerate(table):
            rows += [
                dict(model=objective, seed=s, problem=p, correct=int(c)) for p, c in enumerate(row)
            ]
    return pd.DataFrame(rows).assign(n=counts.n)


def curve_table(counts: Counts, resamples: int) -> pd.DataFrame:
    """Mean pass@k over seeds and problems for every model and k, with 95% intervals."""
    models = {"base": counts.base[None], **counts.tuned}
    rows = []
    for model, correct in models.items():
        for k in pk.k_grid(counts.n):
            est, (low, high) = hierarchical_bootstrap(
                pass_at(correct, counts.n, k), np.mean, resamples
            )
            rows.append(dict(model=model, k=k, estimate=est, low=low, high=high))
    return pd.DataFrame(rows)


def training_table(trained: list[Trained]) -> pd.DataFrame:
    """Rollout entropy, accuracy and reward per (objective, seed, step)."""
    keys = ("entropy", "accuracy", "reward")
    rows = [
        dict(objective=t.objective, seed=t.seed, step=r["step"], **{k: r.get(k) for k in keys})
        for t in trained
        for r in t.run.read_metrics()
    ]
    return pd.DataFrame(rows)


def effects_table(found: list[Effect]) -> pd.DataFrame:
    rows = [
        dict(effect=e.name, estimate=e.estimate, low=e.ci95[0], high=e.ci95[1], unit=e.unit)
        for e in found
    ]
    return pd.DataFrame(rows, columns=["effect", "estimate", "low", "high", "unit"])


def notes(scale: str, counts: Counts, trained: list[Trained], cfg: RLObjectivesConfig) -> str:
    """What departed from the design, with the numbers that show it."""
    out = []
    if scale == "smoke":
        out.append(
            "Smoke scale: a nano base that earns no reward and a few steps; the verdict "
            "checks the pipeline, not the claim."
        )
    base1 = per_problem(counts, "pass@1", counts.base).mean()
    basen = per_problem(counts, "pass@n", counts.base).mean()
    out.append(
        f"Base: pass@1 {base1:.3f}, pass@{counts.n} {basen:.3f} on {len(counts.base)} "
        f"held-out problems."
    )
    skipped = {
        o: sum(
            r.get("skipped", 0) for t in trained if t.objective == o for r in t.run.read_metrics()
        )
        for o in OBJECTIVES
    }
    total = cfg.steps * len(cfg.seeds)
    out.append(
        "Steps without a kept sample (no update): "
        + ", ".join(f"{LABELS[o]} {skipped[o]}/{total}" for o in OBJECTIVES)
        + "."
    )
    ended = ", ".join(f"{name} {share:.2f}" for name, share in counts.finished.items())
    out.append(f"Share of evaluation samples that ended with EOS: {ended}.")
    return " ".join(out)


# ---------------------------------------------------------------- figures


def plot_passk(curves: pd.DataFrame):
    """pass@k against k (log 2) per model, with 95% bands."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for model in ("base", *OBJECTIVES):
        rows = curves[curves.model == model]
        ax.plot(rows.k, rows.estimate, "o-", ms=3, color=COLORS[model], label=LABELS[model])
        ax.fill_between(rows.k, rows.low, rows.high, color=COLORS[model], alpha=0.15, lw=0)
    ax.set(
        xscale="log",
        xlabel="k (samples per problem, log scale)",
        ylim=(-0.02, 1.02),
        ylabel="pass@k (share of held-out problems solved)",
    )
    ax.set_xscale("log", base=2)
    ax.legend(fontsize=8)
    return fig


def plot_training(training: pd.DataFrame, window: int = 5):
    """Rollout entropy and accuracy per step: mean over seeds, band over the seed range,
    both as centred rolling means over ``window`` steps."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    units = {"entropy": "rollout token entropy (nats)", "accuracy": "rollout accuracy (share)"}
    for ax, key in zip(axes, units, strict=True):
        for objective in OBJECTIVES:
            rows = training[training.objective == objective].groupby("step")[key]
            mean, low, high = (
                x.rolling(window, min_periods=1, center=True).mean()
                for x in (rows.mean(), rows.min(), rows.max())
            )
            ax.plot(mean.index, mean, color=COLORS[objective], label=LABELS[objective], lw=1)
            ax.fill_between(mean.index, low, high, color=COLORS[objective], alpha=0.15, lw=0)
        ax.set(xlabel="RL step", ylabel=f"{units[key]}, {window}-step mean")
    axes[0].legend(fontsize=8)
    return fig


def plot_summary(found: Effects):
    """Each objective minus the base in pass@1, pass@n and fully-solved ratio, with CIs."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(12, 3.4), layout="constrained")
    x = np.arange(len(OBJECTIVES))
    for ax, metric in zip(axes, METRICS, strict=True):
        chosen = [found.vs_base[metric, o] for o in OBJECTIVES]
        est = np.array([e.estimate for e in chosen])
        bars = [est - [e.ci95[0] for e in chosen], [e.ci95[1] for e in chosen] - est]
        ax.errorbar(x, est, yerr=bars, fmt="o", capsize=4, color="black")
        ax.axhline(0, color="grey", lw=1, ls="--")
        name = chosen[0].name.split(", ")[-1]
        ax.set(xticks=x, title=name, ylabel="objective − base (share of problems)")
        ax.set_xticklabels([LABELS[o] for o in OBJECTIVES], fontsize=8)
    return fig
