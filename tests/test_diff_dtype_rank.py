"""Diff across dtypes (what the cast explains vs what training changed) and the rank default."""

from __future__ import annotations

import contextlib
import json

import torch
from safetensors.torch import save_file

from regimescope.cli import main
from regimescope.instruments.diff import DiffConfig, diff_checkpoints
from regimescope.instruments.precision import PanelCounts
from regimescope.instruments.rank import RankConfig, planned_method

NO_RANK = DiffConfig(rank=RankConfig(method="none"))


def fp32_weights(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "model.embed_tokens.weight": torch.randn(30, 16, generator=g) * 0.02,
        "model.layers.0.self_attn.q_proj.weight": torch.randn(16, 16, generator=g) * 0.02,
        "model.layers.0.mlp.up_proj.weight": torch.randn(40, 16, generator=g) * 0.02,
        "model.norm.weight": 1 + torch.randn(16, generator=g) * 1e-3,
    }


def totals(result, run: int = 0) -> PanelCounts:
    tensors = result.runs[run].tensors
    return sum((t.counts for t in tensors), PanelCounts.zero(len(result.config.tolerances)))


def save_pair(tmp_path, base: dict, tuned: dict) -> tuple[str, str]:
    save_file(base, tmp_path / "base.safetensors")
    save_file(tuned, tmp_path / "tuned.safetensors")
    return str(tmp_path / "base.safetensors"), str(tmp_path / "tuned.safetensors")


def test_bf16_copy_of_an_fp32_base_changes_nothing_beyond_the_cast(tmp_path, capsys):
    base = fp32_weights()
    base_path, tuned_path = save_pair(tmp_path, base, {k: v.bfloat16() for k, v in base.items()})
    result = diff_checkpoints(base_path, tuned_path, NO_RANK)
    counts = totals(result)
    assert counts.changed_cast == 0
    assert counts.changed_fp32 > 0.9 * counts.params  # the fp32 view sees the cast everywhere
    code = main(["diff", base_path, tuned_path, "--json", str(tmp_path / "d.json")])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "dtypes differ (base->tuned F32->BF16, 4 of 4 tensors)" in printed
    assert "Nothing changed beyond the cast" in printed and "is the cast alone" in printed
    data = json.loads((tmp_path / "d.json").read_text())
    cast = data["dtype_cast"]
    assert cast["nothing_beyond_cast"] and cast["changed_beyond_cast"] == 0
    assert cast["changed_fp32_by_cast"] == cast["changed_fp32"] == counts.changed_fp32
    assert data["summary"]["changed_beyond_cast"] == 0.0 and data["summary"]["changed_fp32"] > 0.9
    assert data["tensors"][0]["dtype"] == "F32->BF16"


def test_perturbed_bf16_copy_counts_exactly_the_perturbed_entries(tmp_path, capsys):
    base = fp32_weights(1)
    tuned = {k: v.bfloat16() for k, v in base.items()}
    planted = 0
    for t in tuned.values():
        flat = t.view(-1)
        flat[::7] = flat[::7] * 2  # never equal to bf16(w): no weight here is zero
        flat[1::7] = flat[1::7] * 1  # rewritten to the same value: not a change
        planted += flat[::7].numel()
    base_path, tuned_path = save_pair(tmp_path, base, tuned)
    counts = totals(diff_checkpoints(base_path, tuned_path, NO_RANK))
    assert counts.changed_cast == planted
    code = main(["diff", base_path, tuned_path, "--rank", "none"])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 0 and f"({planted:,} parameters)" in printed
    assert "Changed beyond the cast" in printed and "Nothing changed" not in printed


def test_fp16_copy_and_upcast_bf16_base(tmp_path):
    base = fp32_weights(2)
    half = {k: v.half() for k, v in base.items()}
    half["model.norm.weight"][3] += 0.5  # one real change
    counts = totals(diff_checkpoints(*save_pair(tmp_path, base, half), NO_RANK))
    assert counts.changed_cast == 1 and counts.changed_fp32 > 0.9 * counts.params
    low = {k: v.bfloat16() for k, v in base.items()}  # bf16 base, fp32 upcast as tuned
    up = {k: v.float() for k, v in low.items()}
    result = diff_checkpoints(*save_pair(tmp_path, low, up), NO_RANK)
    assert totals(result).changed_cast == totals(result).changed_fp32 == 0
    assert result.to_dict()["dtype_cast"]["dtypes"] == ["BF16->F32"]


def test_same_dtype_has_no_cast_block(tmp_path):
    base = fp32_weights(3)
    tuned = {k: v + 1e-3 for k, v in base.items()}
    data = diff_checkpoints(*save_pair(tmp_path, base, tuned), NO_RANK).to_dict()
    assert "dtype_cast" not in data and "changed_beyond_cast" not in data["summary"]


def test_rank_default_is_exact_on_small_matrices_and_skipped_on_large():
    assert DiffConfig().rank.method == "auto"
    auto = RankConfig()
    assert planned_method((128, 4096), auto) == "exact"  # every organism's matrices
    assert planned_method((129, 129), auto) == "skipped"
    assert planned_method((192, 576), auto) == "skipped"  # the real model's k and v
    assert planned_method((2048, 2048), auto) == "skipped"
    assert planned_method((2048,), auto) == "none"
    assert planned_method((2048, 2048), RankConfig(method="exact")) == "exact"
    randomized = RankConfig(method="randomized")
    assert planned_method((2048, 2048), randomized) == "randomized"
    assert planned_method((512, 2048), randomized) == "exact"  # smaller side <= exact_max


def test_rank_output_names_each_method_and_how_to_ask_for_exact(tmp_path, capsys):
    g = torch.Generator().manual_seed(4)
    base = {
        "model.layers.0.mlp.up_proj.weight": torch.randn(40, 24, generator=g),
        "model.layers.0.self_attn.k_proj.weight": torch.randn(8, 24, generator=g),
    }
    tuned = {k: v + 1e-2 * torch.randn(v.shape, generator=g) for k, v in base.items()}
    base_path, tuned_path = save_pair(tmp_path, base, tuned)
    out = tmp_path / "d.json"
    assert main(["diff", base_path, tuned_path, "--rank-exact-max", "16", "--json", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "exact SVD on 1 matrices with smaller side <= 16" in printed
    assert "skipped on 1 larger ones (--rank exact or --rank randomized" in printed
    methods = {t["name"]: t["rank_method"] for t in json.loads(out.read_text())["tensors"]}
    assert methods == {
        "model.layers.0.mlp.up_proj.weight": "skipped",
        "model.layers.0.self_attn.k_proj.weight": "exact",
    }
    assert main(["diff", base_path, tuned_path, "--rank", "exact", "--json", str(out)]) == 0
    assert "exact SVD on all 2 matrices" in " ".join(capsys.readouterr().out.split())
    data = json.loads(out.read_text())
    assert {t["rank_method"] for t in data["tensors"]} == {"exact"}
    assert data["summary"]["rank"]["skipped"] == 0


def test_help_documents_the_rank_default(capsys):
    with contextlib.suppress(SystemExit):  # typer may exit after printing help
        main(["diff", "--help"])
    text = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "auto (exact SVD on matrices whose smaller side is <= 128, skipped on larger" in text
    assert "[default: auto]" in text
