"""What SFT and RL share: the start model (pinned by a hash of its weights) and the end.

SFT and RL start from any local Hugging Face model folder (an organism's ``model/``, a
checkpoint, a user's model). The run config records the folder AND the sha256 of its
weight files, so the run's hash (its store folder) changes when the start model does,
and a run is never resumed or reused on top of different weights. Both end the same way:
the final model folder, then the completion marker with a summary of the last metrics.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import torch

from regimescope.errors import BadInput
from regimescope.organisms import check_model_folder, load_model, save_model
from regimescope.regimes.curriculum import CurriculumConfig, build_curriculum, leaf_tasks
from regimescope.regimes.recorder import RecorderConfig
from regimescope.store import RunDir, atomic_dir, run_path

CHUNK = 1 << 20  # bytes read at a time when hashing
SUMMARY_KEYS = ("loss", "reward", "accuracy", "probe/reward", "probe/accuracy", "kl_start")


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a model folder: ``model.safetensors`` or the index's shards."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / shard for shard in shards]
    return [folder / "model.safetensors"]


def weights_sha256(path: str | Path) -> str:
    """sha256 over the bytes of a model folder's weight files, in a fixed order (hex)."""
    folder = check_model_folder(path)
    digest = hashlib.sha256()
    for file in weight_files(folder):
        if not file.is_file():
            raise BadInput(f"{str(folder)!r} lists weight file {file.name!r}, which is missing")
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


def finish(run: RunDir, model, tokenizer, steps: int) -> None:
    """Write the final model folder, then the completion marker (first and last metrics)."""
    model.eval()
    with atomic_dir(run.model_dir) as folder:
        save_model(model, tokenizer, folder)
    metrics = run.read_metrics()
    first, last = (metrics[0], metrics[-1]) if metrics else ({}, {})
    summary = {"steps": steps, "model_dir": str(run.model_dir)}
    summary |= {f"first_{k}": first[k] for k in SUMMARY_KEYS if k in first}
    summary |= {f"final_{k}": last[k] for k in SUMMARY_KEYS if k in last}
    run.mark_complete(summary)
