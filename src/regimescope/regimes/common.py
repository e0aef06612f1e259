"""Pieces every training loop shares: batches, optimizer, schedule, resumable checkpoints.

Kept small on purpose: each regime's loop stays readable top to bottom, and calls these
for the parts that must be identical across regimes (so a resumed run is bit-identical).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
from safetensors.torch import load_file, save_file

from regimescope.organisms import save_model
from regimescope.store import RunDir, atomic_dir
from regimescope.tasks.encode import Encoded

IGNORE = -100  # label value the HF loss ignores


@dataclass(frozen=True)
class Batch:
    input_ids: torch.Tensor  # (B, T) right-padded with the pad id
    attention_mask: torch.Tensor  # (B, T) 1 on real tokens
    labels: torch.Tensor  # (B, T) token ids where a loss is taken, IGNORE elsewhere
    class_ids: torch.Tensor  # (B, T) TOKEN_CLASSES index on target tokens, -1 elsewhere


def collate(encoded: list[Encoded], pad_id: int, loss_on: str = "all") -> Batch:
    """Right-pad a list of encoded examples into a batch.

    ``loss_on="all"`` takes the loss on every real token (pretraining);
    ``"completion"`` only on target + EOS tokens (fine-tuning).
    """
    width = max(len(e.input_ids) for e in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    classes = torch.full((len(encoded), width), -1, dtype=torch.long)
    for row, e in enumerate(encoded):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        keep = (
            torch.tensor(e.completion_mask, dtype=torch.bool) if loss_on == "completion" else None
        )
        row_labels = torch.tensor(e.input_ids)
        labels[row, :n] = row_labels if keep is None else row_labels.masked_fill(~keep, IGNORE)
        classes[row, :n] = torch.tensor(e.class_ids)
    return Batch(ids, mask, labels, classes)


FOREACH_BELOW = 10_000_000  # parameters: larger models step AdamW one tensor at a time


def build_optimizer(
    model: torch.nn.Module, lr: float, weight_decay: float, betas
) -> torch.optim.AdamW:
    """AdamW with decay on matrices only (not on norms or biases), as in GPT-2/nanoGPT.

    Below ``FOREACH_BELOW`` parameters (the organisms) the step is torch's multi-tensor
    ("foreach") kernel, as always; above, the single-tensor one, whose temporaries are one
    tensor's, not a copy of every moment (4 bytes per parameter less at the peak of a step;
    both kernels compute the same values).
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    foreach = sum(p.numel() for p in model.parameters()) < FOREACH_BELOW
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(betas), foreach=foreach)


def warmup_cosine(step: int, total: int, warmup: int, peak: float, floor_ratio: float) -> float:
    """Learning rate at ``step``: linear warmup to ``peak``, cosine decay to peak*floor_ratio."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return peak * (floor_ratio + (1.0 - floor_ratio) * cosine)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def save_checkpoint(run: RunDir, step: int, model, tokenizer, optimizer) -> None:
    """Write ``checkpoints/step_NNNNNN`` atomically: model folder + optimizer + state; then
    drop the optimizer and trainer state of older checkpoints (a resume reads the last)."""
    with atomic_dir(run.checkpoint_dir(step)) as folder:
        save_model(model, tokenizer, folder)
        state = optimizer.state_dict()
        tensors = {
            f"{index}.{key}": value.contiguous()
            for index, slots in state["state"].items()
            for key, value in slots.items()
        }
        save_file(tensors, str(folder / "optimizer.safetensors"))
        groups = [
            {k: v for k, v in g.items() if k != "params"} | {"params": g["params"]}
            for g in state["param_groups"]
        ]
        (folder / "trainer_state.json").write_text(
            json.dumps({"step": step, "param_groups": groups})
        )
    run.drop_resume_state(keep=step)


def load_checkpoint(run: RunDir, step: int, model, optimizer) -> None:
    """Restore model weights and optimizer state saved by ``save_checkpoint``."""
    folder = run.checkpoint_dir(step)
    weights = load_file(str(folder / "model.safetensors"))
    missing, unexpected = model.load_state_dict(weights, strict=False)
    tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
    if unexpected or set(missing) - tied:
        raise RuntimeError(f"checkpoint {folder} does not match the model: {missing or unexpected}")
    tensors = load_file(str(folder / "optimizer.safetensors"))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, slot = key.split(".", 1)
        state.setdefault(int(index), {})[slot] = value
    groups = json.loads((folder / "trainer_state.json").read_text())["param_groups"]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def resume(run: RunDir, model, optimizer) -> int:
    """Restore the last checkpoint of an interrupted run; the step to continue from."""
    steps = run.checkpoint_steps()
    if not steps:
        run.truncate_metrics(0)
        return 0
    load_checkpoint(run, steps[-1], model, optimizer)
    run.truncate_metrics(steps[-1])
    return steps[-1]
