"""``regimescope diff`` end to end on real Hugging Face folders: an organism, perturbed copies."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from regimescope.cli import main
from regimescope.organisms import build_organism, count_parameters, preset, save_model

EMBED = "model.embed_tokens.weight"


@pytest.fixture(scope="module")
def organisms(tmp_path_factory):
    """base/, tuned/ and tuned2/ folders; returns (root, base state, tuned state, model)."""
    root = tmp_path_factory.mktemp("organisms")
    model, tokenizer = build_organism(preset("nano"))
    save_model(model, tokenizer, root / "base")
    base = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == EMBED:
                p[:50] += 1e-2  # rows 50.. are tokens never seen: left untouched
            elif p.dim() == 2:
                p.view(-1)[::3] += 1e-2  # every third weight: visible in bf16
            else:
                p += 1e-4  # norms at 1.0: below half a bf16 ulp (2^-8), invisible in bf16
    save_model(model, tokenizer, root / "tuned")
    tuned = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2 and name != EMBED:
                p.view(-1)[1::3] += 1e-2
    save_model(model, tokenizer, root / "tuned2")
    return root, base, tuned, model


def test_diff_writes_json_parquet_plot_on_an_organism_pair(organisms, tmp_path, capsys):
    root, base, tuned, model = organisms
    out = {
        "json": tmp_path / "d.json",
        "parquet": tmp_path / "d.parquet",
        "plot": tmp_path / "d.png",
    }
    code = main(
        [
            "diff",
            str(root / "base"),
            str(root / "tuned"),
            "--json",
            str(out["json"]),
            "--parquet",
            str(out["parquet"]),
            "--plot",
            str(out["plot"]),
            "--tensors",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "total" in printed and "model.layers.0.self_attn.q_proj.weight" in printed
    assert "embedding rows with no update" in printed
    data = json.loads(out["json"].read_text())
    names = {k for k, v in base.items() if k != "lm_head.weight"}  # tied: stored once
    params = sum(base[k].numel() for k in names)
    assert params == count_parameters(model)
    changed = sum(int((tuned[k] != base[k]).sum()) for k in names)
    bf16 = sum(int((tuned[k].bfloat16() != base[k].bfloat16()).sum()) for k in names)
    summary = data["summary"]
    assert summary["params"] == params
    assert summary["changed_fp32"] == pytest.approx(changed / params)
    assert summary["changed_bf16"] == pytest.approx(bf16 / params)
    assert set(summary["changed_atol"]) == {"1e-08", "1e-07", "1e-06", "1e-05", "1e-04", "1e-03"}
    assert summary["changed_atol"]["1e-03"] == pytest.approx(bf16 / params)  # only the 1e-2 updates
    assert summary["frozen_rows"] == 50 and summary["embedding_rows"] == 100
    without = summary["without_frozen_rows"]
    assert without["params"] == params - 50 * 32
    assert without["changed_fp32"] == pytest.approx(changed / (params - 50 * 32))
    norms = next(k for k in data["kinds"] if k["kind"] == "norm")
    assert norms["changed_fp32"] == 1.0 and norms["changed_bf16"] == 0.0
    assert norms["bf16_invisible_pred"] == norms["bf16_invisible_measured"] == 1.0
    tensors = {t["name"]: t for t in data["tensors"]}
    assert set(tensors) == names
    q = tensors["model.layers.0.self_attn.q_proj.weight"]
    assert q["shape"] == [32, 32] and q["kind"] == "attn_q" and q["layer"] == 0
    assert q["rank_method"] == "exact" and 0 < q["rank_fraction"] <= 1 and q["stable_rank"] >= 1
    assert tensors["model.norm.weight"]["rank"] is None
    assert [layer["layer"] for layer in data["layers"]] == [0, 1, 2]
    assert "overlap" not in data
    frame = pd.read_parquet(out["parquet"])
    assert len(frame) == len(names) and {"name", "changed_fp32", "changed_atol_1e-05"} <= set(
        frame.columns
    )
    assert out["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*tmp"))


def test_several_tuned_runs_report_overlap(organisms, tmp_path, capsys):
    root, *_ = organisms
    out = tmp_path / "d.json"
    code = main(
        [
            "diff",
            str(root / "base"),
            str(root / "tuned"),
            str(root / "tuned2"),
            "--json",
            str(out),
            "--rank",
            "none",
        ]
    )
    assert code == 0
    assert "overlap of changed-parameter masks" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert [r["tuned"] for r in data["runs"]] == [str(root / "tuned"), str(root / "tuned2")]
    assert data["summary"] == data["runs"][0]["summary"]
    fp32 = next(r for r in data["overlap"] if r["view"] == "fp32")
    assert fp32["overlap_min"] == 1.0  # run 2 kept every change of run 1 and added more
    assert fp32["jaccard"] > fp32["chance_jaccard"]
    assert data["tensors"][0]["rank"] is None


def test_randomized_rank_is_stated(organisms, capsys):
    root, *_ = organisms
    code = main(
        [
            "diff",
            str(root / "base"),
            str(root / "tuned"),
            "--rank",
            "randomized",
            "--rank-exact-max",
            "8",
            "--rank-sketch",
            "4",
        ]
    )
    assert code == 0
    assert "randomized (top 4" in capsys.readouterr().out.replace("\n", " ")


def test_failure_leaves_no_output(organisms, tmp_path, capsys):
    root, *_ = organisms
    other, tokenizer = build_organism(preset("micro"))
    save_model(other, tokenizer, tmp_path / "micro")
    out = tmp_path / "d.json"
    code = main(["diff", str(root / "base"), str(tmp_path / "micro"), "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "tensor shapes differ" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "micro"]
