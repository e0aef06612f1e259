"""The recorder inside a user's own transformers ``Trainer`` (or TRL) run.

``DynamicsCallback`` records the statistics of ``regimes.recorder`` during real training
that regimescope did not write, one JSON line per logged step::

    from regimescope.regimes.hf_callback import DynamicsCallback
    trainer = Trainer(model=model, args=args, train_dataset=data,
                      callbacks=[DynamicsCallback("runs/my-run")])

What it reads and when:

- weight statistics (update-to-weight ratio per layer, fraction changed since the start in
  fp32 and bf16, weight norms) from the model itself, at each logged step;
- token statistics (entropy overall and per token class, exact KL to the starting model)
  on a fixed *probe batch*: the one given, else the first batch of the train dataloader
  (drawn with the global RNG forked, so the run's own data order is untouched), in eval
  mode without gradients. Any Mapping batch works (the standard collators return a
  ``BatchEncoding``); a batch without ``input_ids`` (TRL's prompt-only batches) gets none,
  says so once in the log, and then no frozen copy is kept. Token classes come from a
  ``class_ids`` entry (-1 = none) when the batch has one;
- ``grad_norm_clipped``: the gradient norm the optimizer sees, read just before its step,
  which is after the Trainer's own clipping to ``max_grad_norm``; the Trainer's pre-clip
  norm and anything else it logs on that step (loss, TRL's rewards) are merged in with a
  ``trainer/`` prefix;
- with ``task`` given, greedy reward, accuracy and format shares on held-out prompts
  (``RecorderConfig.probe_problems`` of them), sampled with the processing class;
- with ``mechanics`` given (``MechanicsConfig``), on the probe batch at their own cadence:
  ``sharpness`` (λ_max of the Hessian, to compare with 2/η), ``sharpness_adam``
  (λ_max(P⁻¹H), to compare with 38/η at β₁ = 0.9) and ``noise_scale`` (B_simple), each a
  line of its own step when it is not a logged one.

The callback never changes the training: with and without it, a seeded run gives the same
losses. It keeps a copy of the start weights (``changed``) and a frozen copy of the start
model (``kl``, only when a probe batch with ``input_ids`` exists); switch those off in the
config for very large models.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from transformers import TrainerCallback

from regimescope.instruments.entropy import entropy_by_class, token_entropy
from regimescope.instruments.kl import kl_exact, masked_mean
from regimescope.regimes.finetune import frozen_copy
from regimescope.regimes.mechanics_probe import MechanicsConfig, mechanics_stats
from regimescope.regimes.recorder import (
    Recorder,
    RecorderConfig,
    grad_norm,
    probe_stats,
    should_log,
)

IGNORE = -100
LOG = logging.getLogger(__name__)


def metrics_path(out: str | Path) -> Path:
    """``out`` itself when it names a ``.jsonl`` file, else ``out/metrics.jsonl``."""
    out = Path(out)
    return out if out.suffix == ".jsonl" else out / "metrics.jsonl"


def first_batch(dataloader) -> dict | None:
    """The first batch of a dataloader, drawn without advancing the global RNG, as a plain
    dict (collators return ``BatchEncoding``, a Mapping but not a dict); None when the
    dataloader is missing or its batches are not mappings."""
    if dataloader is None:
        return None
    with torch.random.fork_rng(devices=[]):
        batch = next(iter(dataloader))
    return as_probe(batch)


def as_probe(batch) -> dict | None:
    """A batch as a plain dict of its entries, or None when it is not a Mapping."""
    return dict(batch.items()) if isinstance(batch, Mapping) else None


def has_tokens(probe: dict | None) -> bool:
    """Whether a probe batch can give token statistics (it holds ``input_ids``)."""
    return probe is not None and "input_ids" in probe


def probe_token_stats(model, ref, batch: dict, config: RecorderConfig) -> dict[str, float]:
    """Entropy (overall, per class) and KL to the start on a probe batch's next tokens."""
    device = next(model.parameters()).device
    ids = batch["input_ids"].to(device)
    attention = batch.get("attention_mask", torch.ones_like(ids)).to(device)
    if "labels" in batch:
        mask = batch["labels"][:, 1:].to(device) != IGNORE  # (B, T-1) predicted target tokens
    else:
        mask = attention[:, 1:].bool()
    classes = batch.get("class_ids", torch.full_like(ids, -1)).to(device)[:, 1:]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=attention).logits[:, :-1]  # (B, T-1, V)
        stats = entropy_by_class(token_entropy(logits), mask, classes) if config.entropy else {}
        if ref is not None:
            ref_logits = ref(input_ids=ids, attention_mask=attention).logits[:, :-1]
            stats["kl_start"] = masked_mean(kl_exact(logits, ref_logits), mask)
    model.train(was_training)
    return stats


class DynamicsCallback(TrainerCallback):
    """Write the recorder's statistics of a Trainer run to ``out`` (see the module doc).

    ``out``: a folder (the lines go to ``metrics.jsonl`` inside) or a ``.jsonl`` file;
    ``config``: what to record and how often (``every`` counts optimizer steps);
    ``probe``: a batch mapping (``input_ids``, optional ``attention_mask``, ``labels``,
    ``class_ids``) for the token statistics; ``task``: a regimescope task for the
    held-out reward probe; ``mechanics``: sharpness and noise-scale readings on the probe
    batch (``regimes.mechanics_probe``; off by default, they cost backward passes).
    """

    def __init__(
        self,
        out,
        config: RecorderConfig | None = None,
        probe: Mapping | None = None,
        task=None,
        mechanics: MechanicsConfig | None = None,
    ):
        self.path = metrics_path(out)
        self.config = config or RecorderConfig()
        self.mechanics = mechanics
        self.probe = None if probe is None else as_probe(probe)
        if probe is not None and not has_tokens(self.probe):
            raise ValueError("the probe batch must be a mapping with 'input_ids'")
        self.task = task
        self.recorder: Recorder | None = None
        self.ref = None
        self.pending: dict | None = None
        self.grad_norm: float | None = None

    def logs_step(self, state, step: int) -> bool:
        return should_log(step, state.max_steps, self.config.every)

    def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.recorder = Recorder(self.config, model)
        if self.probe is None:
            self.probe = first_batch(train_dataloader)
        if not has_tokens(self.probe) and (self.config.kl or self.config.entropy):
            LOG.warning(
                "DynamicsCallback: the train batches hold no input_ids, so entropy and KL are "
                "not recorded (pass probe= a batch with input_ids to record them)"
            )
        # the frozen start model costs a whole model's memory: keep it only if KL can be read
        self.ref = frozen_copy(model) if self.config.kl and has_tokens(self.probe) else None

    def on_step_begin(self, args, state, control, model=None, **kwargs):
        self.flush()
        if self.logs_step(state, state.global_step + 1):
            self.recorder.before_step(model)

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if self.config.grad_norm and self.logs_step(state, state.global_step + 1):
            self.grad_norm = grad_norm(model)

    def on_step_end(
        self, args, state, control, model=None, processing_class=None, optimizer=None, **kwargs
    ):
        step = state.global_step
        record = self.recorder_stats(model, processing_class) if self.logs_step(state, step) else {}
        record |= self.mechanics_stats(model, optimizer, step)
        if record:
            self.pending = {"step": step} | record

    def recorder_stats(self, model, processing_class) -> dict:
        """The recorder's statistics of a logged step (weights, probe tokens, task probe)."""
        record: dict = {}
        if self.grad_norm is not None:
            record["grad_norm_clipped"] = self.grad_norm
            self.grad_norm = None
        record |= self.recorder.weight_stats(model)
        if has_tokens(self.probe):
            record |= probe_token_stats(model, self.ref, self.probe, self.config)
        if self.task is not None and processing_class is not None:
            tasks = {self.task.name: self.task}
            record |= probe_stats(model, processing_class, tasks, self.config)
        return record

    def mechanics_stats(self, model, optimizer, step: int) -> dict:
        """Sharpness and noise scale on the probe batch, each at its own cadence."""
        if not has_tokens(self.probe):
            return {}
        return mechanics_stats(model, self.probe, optimizer, self.mechanics, step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.pending is not None and state.global_step == self.pending["step"]:
            numbers = {k: v for k, v in (logs or {}).items() if isinstance(v, int | float)}
            self.pending |= {f"trainer/{k}": v for k, v in numbers.items()}

    def on_train_end(self, args, state, control, **kwargs):
        self.flush()

    def flush(self) -> None:
        """Append the pending record (kept open until the Trainer's log of its step)."""
        if self.pending is None:
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(self.pending, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.pending = None
