"""Each study's plan: the training runs it needs, in stages, before its analysis.

A study's ``experiment.plan`` lists its runs; the tuned runs of a two-stage study start
from a base's model folder, which is known once the base is trained (a run's folder is a
pure function of its config, but the regimes also key it by their code, so the executor
takes the folder from the finished base rather than computing it). ``Plan.first`` holds
the runs that start from nothing; ``Plan.then`` gives the runs tuned from the bases'
folders, and ``Plan.later`` any further stages (study 10's chains of RL stages).

A study with no plan here (a plugin) has an empty plan: it trains its runs itself while
it runs, as it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Models = Mapping[Any, str]  # a first-stage config -> its model folder


def nothing(models: Models) -> list:
    return []


@dataclass(frozen=True)
class Plan:
    first: tuple = ()  # configs that start from nothing: the bases, or all of a one-stage study
    then: Callable[[Models], list] = field(default=nothing)  # the runs started from a base
    # further stages, in order: each lists the runs that start from the models of earlier
    # stages (its argument maps every earlier stage's config to its model folder)
    later: tuple[Callable[[Models], list], ...] = ()
    # studies whose analysis must finish before this one's: it reads the samples they draw
    # (from the sampler's cache), which two analyses at once would both draw
    after: tuple[str, ...] = ()

    def stages(self) -> list[Callable[[Models], list]]:
        """Every stage as a function of the earlier stages' models, ``first`` included."""
        return [lambda models: list(self.first), self.then, *self.later]


def study_plan(name: str, config: Any) -> Plan:
    """The plan of study ``name`` at ``config`` (empty for a study without one)."""
    build = PLANS.get(name)
    return build(config) if build is not None else Plan()


def merged(plans: list[Plan]) -> Plan:
    """One plan for several studies: stage by stage (their bases, then the runs tuned from
    them, then any later stages), each run once."""
    first = tuple(dict.fromkeys(c for plan in plans for c in plan.first))

    def stage(index: int) -> Callable[[Models], list]:
        def runs(models: Models) -> list:
            found = [c for p in plans if index < len(p.stages()) for c in p.stages()[index](models)]
            return list(dict.fromkeys(found))

        return runs

    depth = max((len(plan.stages()) for plan in plans), default=2)
    return Plan(first, stage(1), tuple(stage(i) for i in range(2, depth)))


def one_base(module: str) -> Callable[[Any], Plan]:
    """A study with one base, ``cfg.base``, whose ``plan(cfg, base_dir)`` lists it first."""

    def build(cfg) -> Plan:
        import importlib

        experiment = importlib.import_module(f"regimescope.studies.{module}.experiment")
        return Plan((cfg.base,), lambda models: experiment.plan(cfg, models[cfg.base])[1:])

    return build


def one_stage(module: str) -> Callable[[Any], Plan]:
    """A study whose runs all start from nothing (``plan(cfg)``)."""

    def build(cfg) -> Plan:
        import importlib

        experiment = importlib.import_module(f"regimescope.studies.{module}.experiment")
        return Plan(tuple(experiment.plan(cfg)))

    return build


def instruction_tuning(cfg) -> Plan:
    """Each seed's base, then that seed's SFT runs."""
    from regimescope.studies.instruction_tuning import experiment as e

    bases = {seed: e.base_run(cfg, seed) for seed in cfg.seeds}
    return Plan(
        tuple(bases.values()),
        lambda models: [
            run
            for seed, base in bases.items()
            for run in e.tuning_runs(cfg, seed, models[base]).values()
        ],
    )


def rl_catalyst(cfg) -> Plan:
    """Each seed's base, then its GRPO run."""
    from regimescope.studies.rl_catalyst import experiment as e

    bases = {seed: e.base_run(cfg, seed) for seed in cfg.seeds}
    return Plan(
        tuple(bases.values()),
        lambda models: [e.rl_run(cfg, seed, models[base]) for seed, base in bases.items()],
    )


def capability_origin(cfg) -> Plan:
    """Each seed's base, then its GRPO run on each family."""
    from regimescope.studies.capability_origin import experiment as e

    bases = {seed: e.base_run(cfg, seed) for seed in cfg.seeds}
    return Plan(
        tuple(bases.values()),
        lambda models: [
            e.rl_run(cfg, seed, models[base], family)
            for seed, base in bases.items()
            for family in e.FAMILIES
        ],
    )


def format_collapse(cfg) -> Plan:
    """Each condition's base, then its RL run at every KL coefficient."""
    from regimescope.studies.format_collapse import experiment as e

    bases = {cond: e.base_config(cfg, cond) for cond in e.conditions(cfg)}

    def then(models: Models) -> list:
        runs = e.plan(cfg, {cond: models[base] for cond, base in bases.items()})
        return [run for run in runs if run not in bases.values()]

    return Plan(tuple(bases.values()), then)


def same_score(cfg) -> Plan:
    """Parts A and B start from nothing; part C is study 2's bases, then their GRPO runs
    (the same configs as study 2's, so a store that runs both trains them once)."""
    from regimescope.studies.same_score import costs
    from regimescope.studies.same_score import experiment as e

    bases = {seed: costs.base_run(cfg.costs, seed) for seed in cfg.costs.seeds}
    return Plan(
        (*e.first_runs(cfg), *bases.values()),
        lambda models: [costs.rl_run(cfg.costs, s, models[base]) for s, base in bases.items()],
        after=("rl-catalyst",),  # part C reads study 2's samples of those runs
    )


def training_order(cfg) -> Plan:
    """The base; the runs that start from it (single-domain and joint); then the chains'
    second and third stages, each from the model of its chain's prefix."""
    from regimescope.studies.training_order import experiment as e

    def chained(length: int) -> Callable[[Models], list]:
        def runs(models: Models) -> list:
            def config(seed: int, chain: tuple):
                start = models[cfg.base] if len(chain) == 1 else models[config(seed, chain[:-1])]
                return e.stage_config(cfg, seed, chain, str(start))

            return [
                config(s, chain) for s in cfg.seeds for chain in e.CHAINS if len(chain) == length
            ]

        return runs

    def from_base(models: Models) -> list:
        return e.first_stage(cfg, str(models[cfg.base]))

    return Plan((cfg.base,), from_base, (chained(2), chained(3)))


PLANS: dict[str, Callable[[Any], Plan]] = {
    "instruction-tuning": instruction_tuning,
    "rl-catalyst": rl_catalyst,
    "rl-weights": one_base("rl_weights"),
    "rl-objectives": one_base("rl_objectives"),
    "capability-origin": capability_origin,
    "two-phase": one_base("two_phase"),
    "format-collapse": format_collapse,
    "paired-analysis": one_stage("paired_analysis"),
    "same-score": same_score,
    "learning-mechanics": one_stage("learning_mechanics"),
    "training-order": training_order,
}
