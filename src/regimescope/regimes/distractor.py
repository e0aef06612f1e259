"""Train an organism on the comparison-with-a-distractor task (``tasks.distractor``) for
study 7: the lab's pretraining loop (``regimes.pretrain.train``: AdamW, warmup + cosine,
resumable checkpoints, bit-identical reruns) on a task object that is not in the task
registry, so adding it re-keys no other run.

The run is keyed by both configs (the task's and the loop's) and by the code of this
module's import closure; ``pretrain.task`` is only a label here. The loss is on the
completion (the answer token and EOS), the organism a plain ``LlamaForCausalLM``, so the
mechanism instruments read it as they would a user's checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

from regimescope.errors import BadInput
from regimescope.fingerprint import module_fingerprint
from regimescope.organisms.presets import OrganismConfig
from regimescope.regimes.pretrain import PretrainConfig, train
from regimescope.sampler import cache as sample_cache
from regimescope.store import RunDir, open_run
from regimescope.tasks.distractor import NAME, DistractorConfig, DistractorTask

KIND = "pretrain"  # the run store's folder of these runs (they are pretraining runs)


def default_loop() -> PretrainConfig:
    """Two blocks of width 64, 1500 steps of 64 prompts, loss on the answer."""
    organism = OrganismConfig(width=64, depth=2, context=16)
    return PretrainConfig(
        task=NAME, organism=organism, steps=1500, batch_size=64, lr=3e-3, loss_on="completion"
    )


@dataclass(frozen=True)
class DistractorRunConfig:
    task: DistractorConfig = field(default_factory=DistractorConfig)  # the data
    loop: PretrainConfig = field(default_factory=default_loop)  # organism and optimizer


def validate(cfg: DistractorRunConfig) -> None:
    """BadInput for configs that cannot run (checked before anything is written)."""
    loop = cfg.loop
    if min(loop.steps, loop.batch_size, loop.checkpoint_every, loop.log_every) <= 0:
        raise BadInput("steps, batch_size, checkpoint_every and log_every must be positive")
    if not 0.0 <= cfg.task.agreement <= 1.0 or not 2 <= cfg.task.digits <= 10:
        raise BadInput("agreement must lie in [0, 1] and digits in 2..10")
    if loop.task != NAME:
        raise BadInput(f"loop.task is a label here and must read {NAME!r}, got {loop.task!r}")


def train_distractor(cfg: DistractorRunConfig, root=None) -> RunDir:
    """Train (or reuse, or resume) the run of ``cfg``; returns its complete run folder."""
    validate(cfg)
    task = DistractorTask(cfg.task)
    org = cfg.loop.organism
    name = f"{NAME}-w{org.width}d{org.depth}"
    key = {"task_version": task.version, "code": code_fingerprint()}
    run = open_run(KIND, name, cfg, root, key=key)
    with run.exclusive(), sample_cache.paused():
        if not run.is_complete():
            train(run, cfg.loop, task, None)
    return run


def seeded(cfg: DistractorRunConfig, seed: int) -> DistractorRunConfig:
    """``cfg`` with the loop's seed (initialisation and data order) set to ``seed``."""
    return replace(cfg, loop=replace(cfg.loop, seed=seed))


@cache
def code_fingerprint() -> str:
    """The fingerprint of this regime's code, once per process."""
    return module_fingerprint(__name__)
