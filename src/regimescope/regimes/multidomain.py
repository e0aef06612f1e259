"""Training on several domains for study 10: a base pretrained on all of them, then RL
stages, one domain (or the joint mixture) per run, with rewards that may depend on the
whole group of samples (the creative domain's novelty, ``tasks.creative``).

The domains live here, outside the task registry, so adding the creative task re-keys no
other study's runs (as ``regimes.distractor`` does for study 7):

- ``strings``: the registered ``strings-atomic-a`` (one string function, exact answer);
- ``countdown``: countdown with 2 numbers from 1..29 (``CountdownTask(n_numbers=2,
  max_number=29)``: a plan line, a step line, the answer; exact; 535 training keys, where
  numbers up to 9 gave 62, which the base memorised);
- ``creative``: ``tasks.creative`` (constraints plus novelty against the group).

The base pretrains on the structured domains through ``tasks.noisy.NoisyTargets``: a share
of their training targets belong to another problem, so the base holds each skill without
emitting it reliably and RL has something to re-weight (study 10's NOTES.md); RL stages
and evaluations use the clean tasks.

The RL loop is ``regimes.rl``'s (its ``update``, ``sample_stats``, optimizer, schedule,
checkpoints, recorder), with one change of step 3: a task with a ``score_group(example,
completions)`` method scores a prompt's n samples together; other tasks score each sample
with ``verify`` as in ``regimes.rl``. ``rl.py`` itself is not edited. A stage run starts
from any model folder (the base, or an earlier stage's model), so a training order is a
chain of runs whose prefixes are shared: stage 1 of every order starting with ``a`` is the
same run. The inner ``RLConfig``'s curriculum is unused (it must stay the default); the
domains are named by ``StageConfig.domains``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache

import torch

from regimescope.errors import BadInput, choose
from regimescope.fingerprint import module_fingerprint
from regimescope.regimes.common import (
    build_optimizer,
    resume,
    save_checkpoint,
    set_lr,
    warmup_cosine,
)
from regimescope.regimes.curriculum import CurriculumConfig, leaf_tasks, step_examples
from regimescope.regimes.finetune import finish, frozen_copy, load_start, start_weights
from regimescope.regimes.pretrain import PretrainConfig
from regimescope.regimes.pretrain import train as pretrain_loop
from regimescope.regimes.recorder import Recorder, should_log
from regimescope.regimes.rl import RLConfig, resolve, sample_stats, sampling_config, update
from regimescope.regimes.rollout import Rollouts
from regimescope.sampler import cache as sample_cache
from regimescope.sampler.decode import SamplingConfig, sample
from regimescope.store import RunDir, open_run
from regimescope.tasks import get_task
from regimescope.tasks.countdown import CountdownConfig, CountdownTask
from regimescope.tasks.creative import CreativeTask
from regimescope.tasks.mix import Mixture
from regimescope.tasks.noisy import NoisyTargets

STRUCTURED = ("strings", "countdown")
CREATIVE = "creative"
DOMAINS = (*STRUCTURED, CREATIVE)


@cache
def domain_task(name: str):
    """The task of domain ``name`` (one of ``DOMAINS``)."""
    choose("domain", name, DOMAINS)
    if name == "strings":
        return get_task("strings-atomic-a")
    if name == "countdown":
        config = CountdownConfig(n_numbers=2, max_number=29, heldout_fraction=0.3)
        return CountdownTask(config, name="countdown-2")
    return CreativeTask()


def group_rewards(task, example, texts: list[str]) -> list[float]:
    """Rewards of one prompt's samples: the group reward where the example's task has one,
    else each sample's ``verify`` reward."""
    leaf = leaf_tasks(task).get(example.task, task)
    if hasattr(leaf, "score_group"):
        return leaf.score_group(example, texts)
    return [leaf.verify(example, t).reward for t in texts]


# ---------------------------------------------------------------- the base


@dataclass(frozen=True)
class MultiBaseConfig:
    domains: tuple[str, ...] = DOMAINS  # pretrained on all of them, in equal proportions
    loop: PretrainConfig = field(default_factory=PretrainConfig)  # organism and optimizer
    # (loop.task is a label here and must read "multidomain")
    noisy_share: float = 0.0  # share of structured training targets taken from other problems


def mixture(domains: tuple[str, ...], noisy_share: float = 0.0) -> Mixture:
    """The equal mixture of ``domains``; the structured ones with ``noisy_share`` of their
    training targets from other problems (``tasks.noisy``; 0: the clean tasks)."""
    members = []
    for d in domains:
        task = domain_task(d)
        if d in STRUCTURED and noisy_share > 0:
            task = NoisyTargets(task, noisy_share)
        members.append((task, 1.0))
    return Mixture("+".join(domains), members)


def train_base(cfg: MultiBaseConfig, root=None) -> RunDir:
    """Pretrain (or reuse, or resume) the base of ``cfg``; returns its complete run."""
    for d in cfg.domains:
        choose("domain", d, DOMAINS)
    if cfg.loop.task != "multidomain":
        raise BadInput(
            f"loop.task is a label here and must read 'multidomain', got {cfg.loop.task!r}"
        )
    task = mixture(cfg.domains, cfg.noisy_share)
    org = cfg.loop.organism
    key = {"task_version": task.version, "code": code_fingerprint()}
    run = open_run("pretrain", f"multidomain-w{org.width}d{org.depth}", cfg, root, key=key)
    with run.exclusive(), sample_cache.paused():
        if not run.is_complete():
            pretrain_loop(run, cfg.loop, task, None)
    return run


# ---------------------------------------------------------------- RL stages


@dataclass(frozen=True)
class StageConfig:
    rl: RLConfig = field(default_factory=RLConfig)  # start model, steps, objective, seed, ...
    domains: tuple[str, ...] = (CREATIVE,)  # one domain, or several trained jointly
    stage: str = ""  # label of the chain this stage ends (e.g. "strings>creative"); keys the run


def stage_task(cfg: StageConfig):
    """One domain's task, or the equal mixture of several (joint training)."""
    if len(cfg.domains) == 1:
        return domain_task(cfg.domains[0])
    return mixture(cfg.domains)


def train_stage(cfg: StageConfig, root=None) -> RunDir:
    """Train (or reuse, or resume) one RL stage; returns its complete run folder."""
    for d in cfg.domains:
        choose("domain", d, DOMAINS)
    if cfg.rl.curriculum != CurriculumConfig():
        raise BadInput("rl.curriculum is unused here and must stay the default; name domains")
    rl_cfg = resolve(cfg.rl)
    cfg = replace(cfg, rl=rl_cfg)
    task = stage_task(cfg)
    key = {"task_version": task.version, "code": code_fingerprint()}
    name = f"{rl_cfg.objective}-{'+'.join(cfg.domains)}"
    model, tokenizer = load_start(rl_cfg.model)
    run = open_run("rl", name, cfg, root, key)
    with run.exclusive(), sample_cache.paused():
        if not run.is_complete():
            train(run, rl_cfg, task, model, tokenizer)
    return run


def collect(model, tokenizer, task, examples, sampling: SamplingConfig) -> Rollouts:
    """``rollout.collect`` with group rewards (``group_rewards``)."""
    completions = sample(model, tokenizer, [e.prompt for e in examples], sampling)
    rewards = [
        group_rewards(task, e, [c.text for c in row])
        for e, row in zip(examples, completions, strict=True)
    ]
    formats = [None for row in completions for _ in row]
    return Rollouts(examples, completions, torch.tensor(rewards, dtype=torch.float32), formats)


def step(model, ref, optimizer, tokenizer, task, cfg: RLConfig, index: int, recorder) -> dict:
    """``rl.rl_step`` with ``collect`` above (no held-out probe)."""
    done = index + 1
    log = should_log(done, cfg.steps, cfg.recorder.every)
    set_lr(optimizer, warmup_cosine(index, cfg.steps, cfg.warmup_steps, cfg.lr, cfg.min_lr_ratio))
    examples = step_examples(task, index, cfg.prompts_per_step, cfg.seed)
    rollouts = collect(model, tokenizer, task, examples, sampling_config(cfg, index))
    if log:
        recorder.before_step(model)
    stats = update(model, ref, optimizer, tokenizer, rollouts, cfg, log)
    record = {"step": done, "lr": optimizer.param_groups[0]["lr"]}
    record |= sample_stats(task, rollouts, cfg, log) | stats
    if log:
        record |= recorder.weight_stats(model)
    return record


def train(run: RunDir, cfg: RLConfig, task, model, tokenizer) -> None:
    """``rl.train``'s loop with ``step`` above (resumes from the run's last checkpoint)."""
    recorder = Recorder(cfg.recorder, model, start_weights(cfg.model, model))
    ref = frozen_copy(model) if cfg.kl_coef > 0 or cfg.recorder.kl else None
    optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    start = resume(run, model, optimizer)
    for index in range(start, cfg.steps):
        record = step(model, ref, optimizer, tokenizer, task, cfg, index, recorder)
        done = index + 1
        if should_log(done, cfg.steps, cfg.recorder.every):
            run.append_metrics(record)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoint(run, done, model, tokenizer, optimizer)
    finish(run, model, tokenizer, cfg.steps)


@cache
def code_fingerprint() -> str:
    """The fingerprint of this regime's code (its import closure), once per process."""
    return module_fingerprint(__name__)
