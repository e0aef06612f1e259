"""Checkpoint reading for diff: layouts, sharding, dtypes, and every bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from regimescope.cli import main
from regimescope.errors import BadInput
from regimescope.instruments.checkpoint_io import open_checkpoint
from regimescope.instruments.diff import DiffConfig, diff_checkpoints
from regimescope.instruments.rank import RankConfig

NO_RANK = DiffConfig(rank=RankConfig(method="none"))


def weights(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "model.embed_tokens.weight": torch.randn(20, 8, generator=g),
        "model.layers.0.self_attn.q_proj.weight": torch.randn(8, 8, generator=g),
        "model.layers.0.mlp.up_proj.weight": torch.randn(16, 8, generator=g),
        "model.layers.1.input_layernorm.weight": torch.ones(8),
        "model.norm.weight": torch.ones(8),
    }


def perturbed(w: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every other element of every tensor moved by 1e-3."""
    out = {}
    for name, t in w.items():
        bump = torch.zeros(t.numel())
        bump[::2] = 1e-3
        out[name] = t + bump.reshape(t.shape)
    return out


def save_sharded(tensors: dict[str, torch.Tensor], folder) -> None:
    """Two shards and a model.safetensors.index.json, as save_pretrained writes them."""
    folder.mkdir()
    names = sorted(tensors)
    shards = {
        "model-00001-of-00002.safetensors": names[:2],
        "model-00002-of-00002.safetensors": names[2:],
    }
    weight_map = {}
    for file, part in shards.items():
        save_file({n: tensors[n] for n in part}, folder / file)
        weight_map |= {n: file for n in part}
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": weight_map})
    )


def figures(result) -> list[tuple]:
    return [
        (t.name, t.counts.changed_fp32, t.counts.changed_bf16, t.counts.changed_atol)
        for t in result.runs[0].tensors
    ]


def test_ranged_reads_return_the_stored_values(tmp_path):
    tensors = {
        "a": torch.randn(7, 5),
        "b": torch.randn(3).bfloat16(),
        "c": torch.randn(4, 2).half(),
    }
    save_file(tensors, tmp_path / "x.safetensors")
    checkpoint = open_checkpoint(tmp_path / "x.safetensors")
    try:
        out = np.empty(40, np.float32)
        for name, t in tensors.items():
            flat = t.float().flatten()
            for start, stop in ((0, flat.numel()), (1, 3), (flat.numel() - 1, flat.numel())):
                checkpoint.read(name, start, stop, out)
                assert torch.equal(torch.from_numpy(out[: stop - start]), flat[start:stop])
        assert checkpoint.tensors["b"].dtype == "BF16" and checkpoint.tensors["a"].shape == (7, 5)
    finally:
        checkpoint.close()


def test_single_file_folder_and_sharded_layouts_agree(tmp_path):
    base, tuned = weights(), perturbed(weights())
    save_file(base, tmp_path / "base.safetensors")
    save_file(tuned, tmp_path / "tuned.safetensors")
    (tmp_path / "folder").mkdir()
    save_file(tuned, tmp_path / "folder" / "model.safetensors")
    save_sharded(base, tmp_path / "sharded")
    reference = diff_checkpoints(
        tmp_path / "base.safetensors", [tmp_path / "tuned.safetensors"], NO_RANK
    )
    for b, t in (
        ("sharded", "folder"),
        ("sharded", "tuned.safetensors"),
        ("base.safetensors", "folder"),
    ):
        result = diff_checkpoints(tmp_path / b, [tmp_path / t], NO_RANK)
        assert figures(result) == figures(reference)
    assert [t.name for t in reference.runs[0].tensors][:3] == [
        "model.embed_tokens.weight",
        "model.layers.0.mlp.up_proj.weight",
        "model.layers.0.self_attn.q_proj.weight",
    ]


def test_folder_of_unindexed_shards_is_read_whole(tmp_path):
    base = weights()
    (tmp_path / "parts").mkdir()
    names = sorted(base)
    save_file({n: base[n] for n in names[:3]}, tmp_path / "parts" / "a.safetensors")
    save_file({n: base[n] for n in names[3:]}, tmp_path / "parts" / "b.safetensors")
    save_file(base, tmp_path / "whole.safetensors")
    result = diff_checkpoints(tmp_path / "parts", [tmp_path / "whole.safetensors"], NO_RANK)
    assert len(result.runs[0].tensors) == len(base)
    assert all(t.counts.changed_fp32 == 0 for t in result.runs[0].tensors)


def test_integer_tensors_are_skipped_not_compared(tmp_path):
    base = weights() | {"model.position_ids": torch.arange(10)}
    save_file(base, tmp_path / "a.safetensors")
    save_file(base, tmp_path / "b.safetensors")
    result = diff_checkpoints(tmp_path / "a.safetensors", [tmp_path / "b.safetensors"], NO_RANK)
    assert result.skipped == ("model.position_ids",)


# --- bad input: one line, exit 2, nothing written --------------------------------------------


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main(["diff", *map(str, args)])
    err = capsys.readouterr().err.strip()
    return code, err


def assert_bad(capsys, tmp_path, *args, says: str) -> None:
    out = tmp_path / "out.json"
    code, err = run_cli(capsys, *args, "--json", out)
    assert code == 2, err
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert says in err, err
    assert not out.exists() and not list(tmp_path.glob(".out.json*"))


def test_names_that_differ_are_named(tmp_path, capsys):
    base = weights()
    tuned = {k.replace("model.", "transformer."): v for k, v in base.items()}
    save_file(base, tmp_path / "a.safetensors")
    save_file(tuned, tmp_path / "b.safetensors")
    assert_bad(
        capsys,
        tmp_path,
        tmp_path / "a.safetensors",
        tmp_path / "b.safetensors",
        says="only in base: model.embed_tokens.weight, model.layers.0.mlp.up_proj.weight, ",
    )
    code, err = run_cli(capsys, tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    assert "(+2 more)" in err and "only in tuned: transformer.embed_tokens.weight" in err


def test_shapes_that_differ_are_named(tmp_path, capsys):
    base = weights()
    tuned = base | {"model.layers.0.mlp.up_proj.weight": torch.randn(8, 16)}
    save_file(base, tmp_path / "a.safetensors")
    save_file(tuned, tmp_path / "b.safetensors")
    assert_bad(
        capsys,
        tmp_path,
        tmp_path / "a.safetensors",
        tmp_path / "b.safetensors",
        says="model.layers.0.mlp.up_proj.weight [16, 8] vs [8, 16]",
    )


@pytest.mark.parametrize("cut", [7, 100, -4])
def test_truncated_file(tmp_path, capsys, cut):
    save_file(weights(), tmp_path / "a.safetensors")
    data = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "b.safetensors").write_bytes(data[:cut])
    assert_bad(
        capsys, tmp_path, tmp_path / "a.safetensors", tmp_path / "b.safetensors", says="truncated"
    )


def test_corrupt_header(tmp_path, capsys):
    save_file(weights(), tmp_path / "a.safetensors")
    data = bytearray((tmp_path / "a.safetensors").read_bytes())
    data[8:12] = b"}}}}"
    (tmp_path / "b.safetensors").write_bytes(bytes(data))
    assert_bad(
        capsys, tmp_path, tmp_path / "a.safetensors", tmp_path / "b.safetensors", says="corrupt"
    )


def test_header_offsets_that_do_not_tile_the_data(tmp_path, capsys):
    header = {
        "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "v": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    raw = json.dumps(header).encode()
    (tmp_path / "b.safetensors").write_bytes(len(raw).to_bytes(8, "little") + raw + bytes(12))
    save_file({"w": torch.zeros(2), "v": torch.zeros(2)}, tmp_path / "a.safetensors")
    assert_bad(
        capsys, tmp_path, tmp_path / "a.safetensors", tmp_path / "b.safetensors", says="overlaps"
    )


def test_folder_without_weights_and_missing_paths(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "config.json").write_text("{}")
    save_file(weights(), tmp_path / "a.safetensors")
    assert_bad(
        capsys, tmp_path, tmp_path / "empty", tmp_path / "a.safetensors", says="holds no weights"
    )
    assert_bad(
        capsys, tmp_path, tmp_path / "a.safetensors", tmp_path / "nope", says="no checkpoint at"
    )
    (tmp_path / "notes.txt").write_text("hi")
    assert_bad(
        capsys,
        tmp_path,
        tmp_path / "notes.txt",
        tmp_path / "a.safetensors",
        says="not a checkpoint",
    )


def test_sharded_index_naming_a_missing_shard(tmp_path, capsys):
    save_sharded(weights(), tmp_path / "sharded")
    os.remove(tmp_path / "sharded" / "model-00002-of-00002.safetensors")
    save_file(weights(), tmp_path / "a.safetensors")
    assert_bad(capsys, tmp_path, tmp_path / "sharded", tmp_path / "a.safetensors", says="missing")


def test_bad_options_and_outputs(tmp_path, capsys):
    save_file(weights(), tmp_path / "a.safetensors")
    a = tmp_path / "a.safetensors"
    assert_bad(capsys, tmp_path, a, a, "--atol", "1e-5,x", says="--atol")
    assert_bad(capsys, tmp_path, a, a, "--atol", "-1", says="positive")
    assert_bad(capsys, tmp_path, a, a, "--rank", "fast", says="unknown rank method 'fast'")
    code, err = run_cli(capsys, a, a, "--parquet", tmp_path / "no" / "t.parquet")
    assert code == 2 and "does not exist" in err
    with pytest.raises(BadInput, match="at least one tuned"):
        diff_checkpoints(a, [], NO_RANK)


# --- pickle ---------------------------------------------------------------------------------


class Trap:
    """Unpickling this runs ``open(marker, "w")``: a stand-in for arbitrary code."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("suffix", [".bin", ".pt", ".pth"])
def test_pickle_with_side_effects_never_runs(tmp_path, capsys, suffix):
    marker = tmp_path / "pwned"
    trap = tmp_path / f"model{suffix}"
    torch.save({"w": torch.zeros(3), "payload": Trap(str(marker))}, trap)
    assert not marker.exists()
    save_file({"w": torch.zeros(3)}, tmp_path / "a.safetensors")
    assert_bad(capsys, tmp_path, tmp_path / "a.safetensors", trap, says="--allow-pickle")
    assert_bad(capsys, tmp_path, trap, tmp_path / "a.safetensors", "--allow-pickle", says="refused")
    folder = tmp_path / "hf"
    folder.mkdir()
    os.replace(trap, folder / "pytorch_model.bin")
    assert_bad(capsys, tmp_path, folder, tmp_path / "a.safetensors", says="pickle")
    assert_bad(
        capsys, tmp_path, folder, tmp_path / "a.safetensors", "--allow-pickle", says="refused"
    )
    assert not marker.exists()


def test_plain_state_dict_pickle_loads_with_allow_pickle(tmp_path, capsys):
    base, tuned = weights(), perturbed(weights())
    torch.save(base, tmp_path / "base.pt")
    save_file(tuned, tmp_path / "tuned.safetensors")
    save_file(base, tmp_path / "base.safetensors")
    result = diff_checkpoints(
        tmp_path / "base.pt", [tmp_path / "tuned.safetensors"], NO_RANK, allow_pickle=True
    )
    reference = diff_checkpoints(
        tmp_path / "base.safetensors", [tmp_path / "tuned.safetensors"], NO_RANK
    )
    assert figures(result) == figures(reference)
    code, _ = run_cli(
        capsys,
        tmp_path / "base.pt",
        tmp_path / "tuned.safetensors",
        "--allow-pickle",
        "--rank",
        "none",
    )
    assert code == 0


def test_single_tuned_path_and_result_forms(tmp_path):
    save_file(weights(), tmp_path / "a.safetensors")
    save_file(perturbed(weights()), tmp_path / "b.safetensors")
    result = diff_checkpoints(str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"))
    data = result.to_dict()
    assert data["summary"]["changed_fp32"] == pytest.approx(0.5, abs=0.02)
    assert data["tensors"][0]["rank_method"] == "exact"
    assert len(result.tensor_frame()) == len(weights())
