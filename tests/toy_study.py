"""A study registered as a plugin ($REGIMESCOPE_STUDY_MODULES=tests.toy_study) in tests that
run studies in child processes. It trains nothing: its effect is its config's number."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from regimescope.studies.base import Study
from regimescope.studies.verdict import Effect, Verdict, interval_rule


@dataclass(frozen=True)
class PluginConfig:
    seeds: tuple[int, ...] = (0,)  # training seeds
    effect: float = 0.3  # the toy's measured effect


def run(cfg: PluginConfig, ctx) -> Verdict:
    ctx.progress("measuring the toy")
    ctx.save_table("numbers", pd.DataFrame({"seed": list(cfg.seeds), "value": cfg.effect}))
    effect = Effect("toy gain", cfg.effect, (cfg.effect - 0.1, cfg.effect + 0.1))
    decision = interval_rule(effect, 0.05, 0.0)
    return Verdict(
        study="plugin-toy",
        claim="a plugin claim",
        verdict=decision.verdict,
        reason=decision.reason,
        rule="interval above 0.05",
        effects=[effect],
        scale=ctx.scale,
        seeds=list(cfg.seeds),
    )


STUDY = Study(
    "plugin-toy",
    "P",
    "a plugin claim",
    "nobody 2026",
    "",
    "a toy.",
    {"quick": PluginConfig, "full": PluginConfig},
    run,
)
