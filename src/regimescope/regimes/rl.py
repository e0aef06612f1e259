"""RL from a verifier reward, with the objective as the experimental variable.

Each step, readable top to bottom in ``rl_step``:

1. take the step's P prompts from the task or curriculum (``step*P .. step*P+P-1``);
2. sample n completions per prompt with the shared sampler (seeded by run seed and step);
3. score each with ``task.verify`` -> rewards (P, n);
4. advantages per objective (``objectives.group_advantages``), spread over tokens
   (HICRA amplifies planning tokens);
5. forward the (prompt + completion) sequences, take the completion tokens' log-probs,
   and step on the clipped surrogate + KL penalty - entropy bonus (``objectives.rl_loss``).

Objectives: ``reinforce``, ``grpo``, ``dr_grpo``, ``psr``, ``nsr``, ``w_reinforce``,
``hicra`` (formulas and sources in ``objectives``). The run is stored like pretraining:
a folder keyed by the config hash (which pins the start model's weights by sha256),
reused when complete, resumed from its last checkpoint when killed, one metrics line per
logged step from the recorder. Same config and seed give bit-identical metrics and
weights on CPU.

Departures from the papers (GRPO, arXiv 2402.03300; Dr. GRPO, 2503.20783; Zhu et al.
PSR/NSR, 2506.01347; HICRA, 2509.03646):

1. On-policy, one rollout batch per step, ``updates_per_batch`` full-batch gradient steps
   on it (GRPO's mu, TRL's ``num_iterations``; no mini-batches). Default 1, where the
   ratio is 1 and clipping never bites; Zhu et al.'s verl runs take 4 mini-batch updates
   per batch (set ``updates_per_batch=4`` to make clipping act).
2. No value model, no GAE, no reward model: outcome advantages, equal on every token of a
   sample except under HICRA.
3. GRPO: std is the unbiased group std plus eps = 1e-4 (as TRL). The KL term is the k3
   estimator in the loss, not a reward penalty, with ``kl_coef = 0`` by default (as
   Dr. GRPO, DAPO and Zhu et al.'s PSR/NSR). The loss is the token mean over the batch by
   default (DAPO, TRL); the GRPO paper's per-sequence mean is ``loss_agg="seq_mean"``.
4. Dr. GRPO removes both the std scaling and the 1/|o| length normaliser; ``dr_grpo`` here
   removes the std only; add ``loss_agg="constant"`` (normaliser ``max_new_tokens``) for both.
5. PSR / NSR train on the subset of correct / incorrect samples (advantage +1 / -1, no
   normalisation), and the loss averages over that subset's tokens, as in Zhu et al.'s
   code; a step with no kept token (PSR when nothing is correct) skips the optimizer step,
   so Adam's momentum does not move the weights on a zero gradient. Zhu et al. use an
   entropy bonus of 1e-4; here ``entropy_coef = 0`` unless set.
6. HICRA: planning tokens are the task's ground-truth ``plan`` labels carried onto each
   sample by aligning it with the gold template (``tasks.token_classes``), not
   mined Strategic Grams; A + alpha * |A| applies to every sample's planning tokens (the
   paper's formula), not only to correct longer-than-average responses (the VeRL/TRL
   port's restriction).
7. ``reinforce`` with ``baseline`` uses the group mean including the sample itself, not
   the leave-one-out (RLOO) mean.
8. Log-probs are of the tempered policy (logits / temperature), as TRL; nucleus (top-p)
   truncation is not reflected in them. Completions cut off at ``max_new_tokens`` are
   trained on as sampled (no EOS), with the verifier's reward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

from regimescope.errors import BadInput, choose
from regimescope.fingerprint import module_fingerprint
from regimescope.instruments.entropy import entropy_by_class
from regimescope.instruments.formats import format_stats
from regimescope.instruments.kl import kl_exact, masked_mean
from regimescope.regimes.common import (
    build_optimizer,
    resume,
    save_checkpoint,
    set_lr,
    warmup_cosine,
)
from regimescope.regimes.curriculum import (
    CurriculumConfig,
    build_curriculum,
    leaf_tasks,
    step_examples,
    validate_curriculum,
)
from regimescope.regimes.finetune import (
    check_probe_split,
    completed_run,
    finish,
    frozen_copy,
    load_start,
    pin_start,
    resolve_lr,
    start_weights,
)
from regimescope.regimes.objectives import (
    LOSS_AGGREGATIONS,
    OBJECTIVES,
    group_advantages,
    rl_loss,
    token_advantages,
    token_log_probs,
)
from regimescope.regimes.recorder import (
    Recorder,
    RecorderConfig,
    probe_stats,
    reward_stats,
    should_log,
)
from regimescope.regimes.rollout import Rollouts, collect, rollout_batch, shifted, step_seed
from regimescope.sampler import cache as sample_cache
from regimescope.sampler.decode import SamplingConfig
from regimescope.store import RunDir, open_run
from regimescope.tasks.base import TOKEN_CLASSES

PLAN = TOKEN_CLASSES.index("plan")


@dataclass(frozen=True)
class RLConfig:
    model: str = ""  # start model folder (a pretrain run's model/, or any local HF folder)
    model_sha256: str = ""  # sha256 of the start weights; filled in (or checked) by resolve()
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)  # task(s) and order
    objective: str = "grpo"  # one of OBJECTIVES
    steps: int = 100  # RL steps (one rollout batch each)
    prompts_per_step: int = 8  # P: prompts sampled per step
    samples_per_prompt: int = 8  # n: completions per prompt (the group)
    temperature: float = 1.0  # rollout temperature (log-probs use the same tempered policy)
    top_p: float = 1.0  # rollout nucleus mass (1 = off)
    max_new_tokens: int = 64  # rollout token budget per completion
    lr: float = 0.0  # peak learning rate; 0 = by the start model's size (finetune.default_lr)
    warmup_steps: int = 0  # linear warmup steps
    min_lr_ratio: float = 1.0  # cosine floor as a fraction of lr (1.0 = constant after warmup)
    weight_decay: float = 0.0  # AdamW decoupled decay on matrices
    betas: tuple[float, float] = (0.9, 0.99)  # AdamW moment coefficients
    grad_clip: float = 1.0  # max global gradient norm
    updates_per_batch: int = 1  # gradient steps per rollout batch (clipping acts from the 2nd)
    clip_eps: float = 0.2  # ratio clip: rho in [1 - eps, 1 + eps]
    kl_coef: float = 0.0  # weight of the k3 KL to the start model in the loss
    entropy_coef: float = 0.0  # weight of the entropy bonus (subtracted from the loss)
    baseline: bool = True  # reinforce only: subtract the group-mean reward
    lam: float = 0.1  # w_reinforce: advantage of a correct sample (incorrect: -1)
    alpha: float = 0.2  # hicra: planning-token amplification
    loss_agg: str = "token_mean"  # one of LOSS_AGGREGATIONS
    seed: int = 0  # seeds the prompt stream and the rollouts
    checkpoint_every: int = 50  # save a resumable checkpoint every N steps (and at the end)
    sample_batch_size: int = 256  # rows decoded together by the sampler (speed only)
    recorder: RecorderConfig = field(default_factory=RecorderConfig)  # what to record, how often


def validate(cfg: RLConfig) -> None:
    """BadInput for configs that cannot run (checked before anything is written)."""
    choose("objective", cfg.objective, OBJECTIVES)
    choose("loss aggregation", cfg.loss_agg, LOSS_AGGREGATIONS)
    positive = {
        "steps": cfg.steps,
        "prompts_per_step": cfg.prompts_per_step,
        "samples_per_prompt": cfg.samples_per_prompt,
        "max_new_tokens": cfg.max_new_tokens,
        "updates_per_batch": cfg.updates_per_batch,
        "checkpoint_every": cfg.checkpoint_every,
        "recorder.every": cfg.recorder.every,
        "sample_batch_size": cfg.sample_batch_size,
    }
    for name, value in positive.items():
        if value <= 0:
            raise BadInput(f"{name} must be a positive integer, got {value}")
    if cfg.objective in ("grpo", "hicra") and cfg.samples_per_prompt < 2:
        raise BadInput(f"{cfg.objective} normalises within groups; samples_per_prompt must be >= 2")
    if cfg.temperature <= 0 or not 0 < cfg.top_p <= 1:
        raise BadInput(
            f"need temperature > 0 and 0 < top_p <= 1, got {cfg.temperature}, {cfg.top_p}"
        )
    if cfg.lr < 0 or cfg.clip_eps <= 0 or cfg.kl_coef < 0 or cfg.entropy_coef < 0:
        raise BadInput(
            "need lr > 0 (0 = by model size), clip_eps > 0, kl_coef >= 0 and entropy_coef >= 0"
        )
    validate_curriculum(cfg.curriculum, cfg.steps)
    check_probe_split(cfg.curriculum, cfg.recorder)


def resolve(cfg: RLConfig) -> RLConfig:
    """The config validated, with the start model's weight hash filled in."""
    validate(cfg)
    sha = pin_start(cfg.model, cfg.model_sha256)  # the loader check runs here, first
    return replace(cfg, model_sha256=sha, lr=resolve_lr("rl", cfg.lr, cfg.model))


def run_name(cfg: RLConfig) -> str:
    kind = "" if len(cfg.curriculum.tasks) == 1 else f"-{cfg.curriculum.order}"
    return f"{cfg.objective}-{'_'.join(cfg.curriculum.tasks)}{kind}"


def sampling_config(cfg: RLConfig, step: int) -> SamplingConfig:
    return SamplingConfig(
        n=cfg.samples_per_prompt,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_new_tokens=cfg.max_new_tokens,
        seed=step_seed(cfg.seed, step),
        batch_size=cfg.sample_batch_size,
    )


def completion_logits(model, batch, temperature: float) -> torch.Tensor:
    """Tempered next-token logits (B, T-1, V) aligned with ``rollout.shifted``."""
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
    return out.logits[:, :-1].float() / temperature


def update(model, ref, optimizer, tokenizer, rollouts: Rollouts, cfg: RLConfig, log: bool) -> dict:
    """The gradient step(s) on one rollout batch; returns the step's statistics."""
    adv, keep = group_advantages(
        rollouts.rewards, cfg.objective, baseline=cfg.baseline, lam=cfg.lam
    )
    batch = rollout_batch(tokenizer, rollouts)
    tokens, completion, class_ids = shifted(batch)  # (B, T-1) each
    mask = completion & keep.flatten()[:, None].bool()  # loss positions of kept samples
    alpha = cfg.alpha if cfg.objective == "hicra" else 0.0
    adv_tok = token_advantages(adv.flatten(), class_ids == PLAN, alpha)  # (B, T-1)
    ref_logits = None
    if ref is not None and (cfg.kl_coef > 0 or (log and cfg.recorder.kl)):
        with torch.no_grad():
            ref_logits = completion_logits(ref, batch, cfg.temperature)
    ref_logp = token_log_probs(ref_logits, tokens) if cfg.kl_coef > 0 else None
    old_logp = None
    stats: dict = {"kept_tokens": int(mask.sum()), "tokens": int(completion.sum())}
    for index in range(cfg.updates_per_batch):
        logits = completion_logits(model, batch, cfg.temperature)  # (B, T-1, V)
        loss, parts = rl_loss(
            logits,
            tokens,
            mask,
            adv_tok,
            old_logp,
            ref_logp,
            clip_eps=cfg.clip_eps,
            kl_coef=cfg.kl_coef,
            entropy_coef=cfg.entropy_coef,
            how=cfg.loss_agg,
            max_len=cfg.max_new_tokens,
        )
        if index == 0:
            stats |= first_update_stats(logits, ref_logits, parts, completion, class_ids, cfg, log)
            old_logp = token_log_probs(logits, tokens).detach()
        if not mask.any():
            stats["skipped"] = 1
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip).item()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # free the gradients before anything else runs
        stats.setdefault("grad_norm", norm)  # the first update's, before clipping
        stats |= {"loss": loss.item(), "clip_frac": parts["clip_frac"].item()}
    if not cfg.recorder.grad_norm:
        stats.pop("grad_norm", None)
    return stats


def first_update_stats(
    logits, ref_logits, parts, completion, class_ids, cfg: RLConfig, log: bool
) -> dict:
    """Statistics of the rollout policy (before this step's update) on the sampled tokens."""
    stats = {"pg": parts["pg"].item()}
    if cfg.kl_coef > 0:
        stats["kl_k3"] = parts["kl"].item()  # the penalised estimate, over kept tokens
    if log and cfg.recorder.entropy:
        stats |= entropy_by_class(parts["entropy_tokens"], completion, class_ids)
    if log and cfg.recorder.kl and ref_logits is not None:
        stats["kl_start"] = masked_mean(kl_exact(logits.detach(), ref_logits), completion)
    return stats


def sample_stats(task, rollouts: Rollouts, cfg: RLConfig, log: bool) -> dict:
    """Reward, accuracy (per task for a curriculum) and format statistics of the rollouts."""
    rewards = rollouts.rewards.flatten().tolist()
    stats = reward_stats(rewards)
    names = [e.task for e in rollouts.examples for _ in range(cfg.samples_per_prompt)]
    if len(leaf_tasks(task)) > 1:
        for name in sorted(set(names)):
            mine = [r for r, n in zip(rewards, names, strict=True) if n == name]
            stats |= {f"{k}/{name}": v for k, v in reward_stats(mine).items()}
    if log and cfg.recorder.formats:
        stats |= format_stats(rollouts.formats, rewards, task.formats)
    return stats


def rl_step(
    model, ref, optimizer, tokenizer, task, cfg: RLConfig, step: int, recorder: Recorder
) -> dict:
    """One RL step (0-based ``step``): rollouts, advantages, update; the step's record."""
    done = step + 1
    log = should_log(done, cfg.steps, cfg.recorder.every)
    set_lr(optimizer, warmup_cosine(step, cfg.steps, cfg.warmup_steps, cfg.lr, cfg.min_lr_ratio))
    examples = step_examples(task, step, cfg.prompts_per_step, cfg.seed)
    rollouts = collect(model, tokenizer, task, examples, sampling_config(cfg, step))
    if log:
        recorder.before_step(model)
    stats = update(model, ref, optimizer, tokenizer, rollouts, cfg, log)
    record = {"step": done, "lr": optimizer.param_groups[0]["lr"]}
    record |= sample_stats(task, rollouts, cfg, log) | stats
    if log:
        record |= recorder.weight_stats(model)
        record |= probe_stats(model, tokenizer, leaf_tasks(task), cfg.recorder, cfg.seed)
    return record


def rl(
    cfg: RLConfig,
    root=None,
    on_step: Callable[[int, dict], None] | None = None,
    keep_optimizer: bool = False,
) -> RunDir:
    """Train (or reuse, or resume) the RL run of ``cfg``; returns its complete run folder.

    ``on_step(step, record)`` is called after every step (progress display, tests).
    """
    cfg = resolve(cfg)
    task = build_curriculum(cfg.curriculum, cfg.steps, cfg.prompts_per_step)
    # a regenerated task, or edited training code (an objective, the loop), makes a new run
    key = {"task_version": task.version, "code": module_fingerprint(__name__)}
    existing = completed_run("rl", run_name(cfg), cfg, root, key)
    if existing is not None:
        return existing
    model, tokenizer = load_start(cfg.model)  # a folder that does not load fails before writing
    run = open_run("rl", run_name(cfg), cfg, root, key)
    with run.exclusive(), sample_cache.paused():  # another process training it: wait, reuse
        if not run.is_complete():
            train(run, cfg, task, model, tokenizer, on_step, keep_optimizer)
    return run


def train(
    run: RunDir, cfg: RLConfig, task, model, tokenizer, on_step, keep_optimizer: bool = False
) -> None:
    """The training loop of ``rl`` from the loaded start model (resumes from the run's last
    checkpoint)."""
    recorder = Recorder(cfg.recorder, model, start_weights(cfg.model, model))
    ref = frozen_copy(model) if cfg.kl_coef > 0 or cfg.recorder.kl else None
    optimizer = build_optimizer(model, cfg.lr, cfg.weight_decay, cfg.betas)
    start = resume(run, model, optimizer)
    for step in range(start, cfg.steps):
        record = rl_step(model, ref, optimizer, tokenizer, task, cfg, step, recorder)
        done = step + 1
        if should_log(done, cfg.steps, cfg.recorder.every):
            run.append_metrics(record)
        if done % cfg.checkpoint_every == 0 or done == cfg.steps:
            save_checkpoint(run, done, model, tokenizer, optimizer)
        if on_step is not None:
            on_step(done, record)
    finish(run, model, tokenizer, cfg.steps, keep_optimizer)
