"""What SFT and RL share: the start model (pinned by a hash of its weights) and the end.

SFT and RL start from any local Hugging Face model folder (an organism's ``model/``, a
checkpoint, a user's model). The run config records the folder AND the sha256 of its
weight files, so the run's hash (its store folder) changes when the start model does,
and a run is never resumed or reused on top of different weights. Both end the same way:
the final model folder, then the completion marker with a summary of the last metrics,
then (unless asked to keep it) the optimizer state, which only a resume needs.

Learning rate by scale (``default_lr``): a config's ``lr = 0`` means "by the start
model's size", resolved before the run is keyed, so the stored config holds the number.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from safetensors import safe_open

from regimescope.errors import BadInput
from regimescope.organisms import load_model, save_model
from regimescope.organisms.load import check_model, parameter_count, weight_files
from regimescope.regimes.curriculum import CurriculumConfig, build_curriculum, leaf_tasks
from regimescope.regimes.recorder import RecorderConfig
from regimescope.store import RunDir, atomic_dir, run_path
from regimescope.store.rundir import RESUME_FILES

CHUNK = 1 << 20  # bytes read at a time when hashing
SUMMARY_KEYS = ("loss", "reward", "accuracy", "probe/reward", "probe/accuracy", "kl_start")


ORGANISM_SCALE = 10_000_000  # parameters: below, a start model counts as an organism
DEFAULT_LR = {  # regime -> (peak lr below ORGANISM_SCALE, at or above it); see default_lr
    "sft": (1e-3, 1e-5),
    "rl": (3e-4, 1e-6),
}


def default_lr(regime: str, parameters: int) -> float:
    """The peak learning rate of a run whose config leaves ``lr`` at 0, by regime and by
    the start model's parameter count (read from its safetensors headers):

    ======  ============================  =====================================
    regime  < 10M parameters (organisms)  >= 10M parameters (pretrained models)
    ======  ============================  =====================================
    sft     1e-3                          1e-5
    rl      3e-4                          1e-6
    ======  ============================  =====================================

    Organisms (50k-1M parameters, trained here from scratch in minutes) need large steps;
    the left column is what ``sft`` and ``rl`` defaulted to before, so an organism's run
    resolves to the same config as it did. For a pretrained checkpoint those steps are
    100-300x the usual fine-tuning range and overwrite what pretraining learned; the right
    column is that range: 1e-5 for SFT (TRL's SFTConfig default and Alpaca use 2e-5) and
    1e-6 for RL (DeepSeekMath's GRPO, arXiv 2402.03300; TRL's GRPOConfig default). An
    explicit ``lr`` always wins.
    """
    small, large = DEFAULT_LR[regime]
    return small if parameters < ORGANISM_SCALE else large


def resolve_lr(regime: str, lr: float, model: str) -> float:
    """``lr``, or ``default_lr`` for the start model when ``lr`` is 0; BadInput if negative."""
    if lr < 0:
        raise BadInput(f"lr must be > 0 (or 0 for the default by model size), got {lr}")
    return lr if lr > 0 else default_lr(regime, parameter_count(model))


def weights_sha256(path: str | Path) -> str:
    """sha256 over the bytes of a model folder's weight files, in a fixed order (hex), after
    the loader check (so a truncated or mismatched folder is BadInput before any hashing)."""
    folder, _ = check_model(path)
    digest = hashlib.sha256()
    for file in weight_files(folder):
        with open(file, "rb") as handle:
            while block := handle.read(CHUNK):
                digest.update(block)
    return digest.hexdigest()


def pin_start(model: str, model_sha256: str) -> str:
    """The hash to record for the start model: computed if not given, checked if given."""
    if not model:
        raise BadInput("no start model; give a model folder (e.g. a pretrain run's model/)")
    actual = weights_sha256(model)
    if model_sha256 and model_sha256 != actual:
        raise BadInput(
            f"the weights in {model!r} changed since the config was made "
            f"(sha256 {actual[:12]}, config says {model_sha256[:12]}); make a new config"
        )
    return actual


def load_start(model: str):
    """(model in train mode with fp32 weights, tokenizer) from the start folder."""
    net, tokenizer = load_model(model)
    if tokenizer.pad_token_id is None:
        raise BadInput(f"the tokenizer in {model!r} has no pad token; set one before training")
    return net.train(), tokenizer


class StartWeights(Mapping):
    """The start weights as the recorder's start snapshot (name -> fp32 tensor), read from
    the start folder one tensor at a time instead of held in memory (4 bytes per parameter
    saved for the whole run). Values equal a snapshot of the loaded model: the model was
    loaded from these files in fp32, and a stored bf16 or fp16 value casts the same way."""

    def __init__(self, folder: str | Path, names: list[str], device: torch.device):
        self.names = names  # the trainable parameters, in the model's order
        self.device = device  # where the model's parameters live
        self.file_of = {}  # parameter name -> the weight file holding it
        for file in weight_files(Path(folder)):
            with safe_open(str(file), "pt") as handle:
                self.file_of |= dict.fromkeys(handle.keys(), file)

    def covers(self) -> bool:
        """Whether every parameter is stored under its own name (else snapshot in memory)."""
        return all(name in self.file_of for name in self.names)

    def __getitem__(self, name: str) -> torch.Tensor:
        with safe_open(str(self.file_of[name]), "pt") as handle:
            return handle.get_tensor(name).float().to(self.device)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def start_weights(folder: str, model: torch.nn.Module) -> Mapping | None:
    """A ``StartWeights`` of ``folder`` if it stores every trainable parameter of ``model``
    by name, else None (the recorder then snapshots in memory)."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    found = StartWeights(folder, names, next(model.parameters()).device)
    return found if found.covers() else None


def frozen_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` in eval mode with gradients off: the reference policy."""
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def completed_run(kind: str, name: str, config, root=None, key=None) -> RunDir | None:
    """The complete run of ``config`` (and ``key``) if the store has one (nothing is created)."""
    run = RunDir(run_path(kind, name, config, root, key))
    return run if run.is_complete() else None


def check_probe_split(curriculum: CurriculumConfig, recorder: RecorderConfig) -> None:
    """BadInput when the recorder's probe split is missing from a curriculum task."""
    if recorder.probe_problems <= 0:
        return
    task = build_curriculum(curriculum, len(curriculum.tasks), 1)
    for leaf in leaf_tasks(task).values():
        if recorder.probe_split not in leaf.splits:
            raise BadInput(
                f"task {leaf.name!r} has no split {recorder.probe_split!r}; "
                f"choose from: {', '.join(leaf.splits)}"
            )


def link_model_files(checkpoint: Path, folder: Path) -> None:
    """Fill ``folder`` with the model files of ``checkpoint`` (not its resume-only files) as
    hard links, so ``model/`` and the last checkpoint share one copy on disk; a copy where
    the file system cannot link."""
    for file in checkpoint.iterdir():
        if file.is_file() and file.name not in RESUME_FILES:
            try:
                os.link(file, folder / file.name)
            except OSError:
                shutil.copy2(file, folder / file.name)


def finish(run: RunDir, model, tokenizer, steps: int, keep_optimizer: bool = False) -> None:
    """Write the final model folder (hard links to the last checkpoint's files, which hold
    the same weights), then the completion marker (first and last metrics), then drop the
    optimizer state unless ``keep_optimizer`` (a complete run is reused, never resumed;
    the state is 2x the model in fp32). The marker comes first, so a kill in between
    leaves a complete run with its state, never a resumable one without it."""
    model.eval()
    final = run.checkpoint_dir(steps)  # saved by the loop at the last step: these weights
    with atomic_dir(run.model_dir) as folder:
        if final.is_dir():
            link_model_files(final, folder)
        else:
            save_model(model, tokenizer, folder)
    metrics = run.read_metrics()
    first, last = (metrics[0], metrics[-1]) if metrics else ({}, {})
    summary = {"steps": steps, "model_dir": str(run.model_dir)}
    summary |= {f"first_{k}": first[k] for k in SUMMARY_KEYS if k in first}
    summary |= {f"final_{k}": last[k] for k in SUMMARY_KEYS if k in last}
    run.mark_complete(summary)
    if not keep_optimizer:
        run.drop_resume_state()
