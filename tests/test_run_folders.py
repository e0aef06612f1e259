"""Fine-tuning defaults that fit a real checkpoint: run folders drop the optimizer state
once a run cannot be resumed, learning rates default by model size, and the recorder
reads the start weights from disk instead of holding a copy."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from regimescope.cli import main
from regimescope.errors import BadInput
from regimescope.organisms import load_model
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.finetune import DEFAULT_LR, default_lr, start_weights
from regimescope.regimes.recorder import RecorderConfig, snapshot
from regimescope.regimes.rl import RLConfig, rl
from regimescope.regimes.sft import SFTConfig, sft
from regimescope.regimes.sft import resolve as resolve_sft
from regimescope.store import iter_runs
from regimescope.store.rundir import RESUME_FILES
from tests.regime_toys import register, save_start

TOY = CurriculumConfig(("toy-pick",))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    return save_start(tmp_path_factory.mktemp("fresh") / "model")


def disk_bytes(path: Path) -> int:
    """Bytes of the files under ``path``, a hard-linked file once."""
    inodes = {p.stat().st_ino: p.stat().st_size for p in path.rglob("*") if p.is_file()}
    return sum(inodes.values())


def resume_files(run) -> dict[int, list[str]]:
    """checkpoint step -> the resume-only files it still holds."""
    return {
        step: [n for n in RESUME_FILES if (run.checkpoint_dir(step) / n).is_file()]
        for step in run.checkpoint_steps()
    }


def sft_cli(fresh: Path, store: Path, *extra: str) -> int:
    sets = ["--set", "checkpoint_every=2", "--probe", "0", "--log-every", "2"]
    return main(
        ["sft", str(fresh), "--task", "arithmetic", "--steps", "4", "--batch-size", "2"]
        + sets
        + ["--store", str(store), *extra]
    )


def test_a_finished_run_keeps_its_optimizer_state_only_when_asked(fresh, tmp_path, capsys):
    assert sft_cli(fresh, tmp_path / "kept", "--keep-optimizer") == 0
    assert sft_cli(fresh, tmp_path / "default") == 0
    (kept,), (default,) = iter_runs(tmp_path / "kept"), iter_runs(tmp_path / "default")
    assert resume_files(kept) == {2: [], 4: list(RESUME_FILES)}  # older states go while training
    assert resume_files(default) == {2: [], 4: []}
    state = sum((kept.checkpoint_dir(4) / n).stat().st_size for n in RESUME_FILES)
    model = (kept.model_dir / "model.safetensors").stat().st_size
    saved = disk_bytes(kept.path) - disk_bytes(default.path)
    print(
        f"\nrun folder on disk: {disk_bytes(kept.path)} B with --keep-optimizer, "
        f"{disk_bytes(default.path)} B by default; model {model} B"
    )
    assert abs(saved - state) < 64 and saved > 1.9 * model  # AdamW's two moments, fp32
    final = kept.checkpoint_dir(4) / "model.safetensors"  # model/ shares the last checkpoint's
    assert os.path.samefile(final, kept.model_dir / "model.safetensors")
    assert disk_bytes(default.path) < 2.2 * model  # two checkpoints' weights, small files
    for run in (kept, default):  # what the studies read is all there
        assert run.is_complete() and (run.checkpoint_dir(2) / "model.safetensors").is_file()
        assert load_model(run.checkpoint_dir(2))[0] is not None


def test_an_unfinished_rl_run_keeps_the_last_state_and_resumes(fresh, tmp_path, monkeypatch):
    register(monkeypatch)
    cfg = RLConfig(
        model=str(fresh),
        curriculum=TOY,
        steps=3,
        prompts_per_step=2,
        samples_per_prompt=2,
        max_new_tokens=2,
        checkpoint_every=1,
        recorder=RecorderConfig(every=1),
    )

    class Killed(Exception):
        pass

    def kill_at_2(step, record):
        if step == 2:
            raise Killed

    with pytest.raises(Killed):
        rl(cfg, tmp_path / "k", on_step=kill_at_2)
    (killed,) = iter_runs(tmp_path / "k")
    assert resume_files(killed) == {1: [], 2: list(RESUME_FILES)} and not killed.is_complete()
    resumed, whole = rl(cfg, tmp_path / "k"), rl(cfg, tmp_path / "w")
    assert resumed.read_metrics() == whole.read_metrics()
    assert resume_files(resumed) == {1: [], 2: [], 3: []}


def test_learning_rate_defaults_by_model_size(fresh, monkeypatch, real_model):
    register(monkeypatch)
    assert [default_lr("sft", n) for n in (52_576, 9_999_999, 10_000_000)] == [1e-3, 1e-3, 1e-5]
    assert [default_lr("rl", n) for n in (1_062_528, 134_515_008)] == [3e-4, 1e-6]
    organism = resolve_sft(SFTConfig(model=str(fresh), curriculum=TOY))
    assert organism.lr == 1e-3  # the organisms' runs keep their old configs (and hashes)
    assert resolve_sft(SFTConfig(model=str(real_model), curriculum=TOY)).lr == 1e-5
    assert resolve_sft(SFTConfig(model=str(fresh), curriculum=TOY, lr=0.02)).lr == 0.02
    with pytest.raises(BadInput, match="need lr > 0"):
        resolve_sft(replace(organism, lr=-1.0))


@pytest.mark.parametrize("regime", ["sft", "rl"])
def test_the_lr_help_repeats_the_table(regime, capsys):
    assert main([regime, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    small, large = DEFAULT_LR[regime]
    assert f"default by start-model size: {small:g} under 10M parameters" in text
    assert f"{large:g} from 10M" in text


def test_start_weights_read_from_disk_equal_a_snapshot(fresh, tmp_path):
    model, _ = load_model(fresh)
    on_disk = start_weights(str(fresh), model)
    in_memory = snapshot(model)
    assert on_disk is not None and list(on_disk) == list(in_memory)
    assert all(torch.equal(on_disk[name], in_memory[name]) for name in in_memory)
    other = torch.nn.Linear(2, 2)  # parameters the folder does not store: snapshot instead
    assert start_weights(str(fresh), other) is None


def test_sft_records_changed_fractions_against_the_start_on_disk(fresh, tmp_path, monkeypatch):
    register(monkeypatch)
    cfg = SFTConfig(
        model=str(fresh),
        curriculum=TOY,
        steps=2,
        batch_size=4,
        lr=1e-2,
        recorder=RecorderConfig(every=1, probe_problems=0),
    )
    first, last = sft(cfg, tmp_path).read_metrics()
    assert 0 < first["changed_fp32"] <= last["changed_fp32"] <= 1


def test_large_models_step_adamw_one_tensor_at_a_time_with_the_same_values():
    from regimescope.organisms import build_organism, preset
    from regimescope.regimes.common import FOREACH_BELOW, build_optimizer

    large = torch.nn.Linear(3200, FOREACH_BELOW // 3200 + 1)
    assert build_optimizer(large, 1e-3, 0.0, (0.9, 0.95)).defaults["foreach"] is False
    found = []
    for foreach in (True, False):  # the organisms' kernel against the large models'
        model, _ = build_organism(preset("nano"), seed=0)
        optimizer = build_optimizer(model, 1e-2, 0.1, (0.9, 0.95))
        assert optimizer.defaults["foreach"] is True
        for group in optimizer.param_groups:
            group["foreach"] = foreach
        ids = torch.randint(3, 100, (4, 12), generator=torch.Generator().manual_seed(1))
        for _ in range(3):
            optimizer.zero_grad()
            model(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
        found.append(model.state_dict())
    assert all(torch.equal(found[0][k], found[1][k]) for k in found[0])
