"""`regimescope probe` and `regimescope patch` on a saved model folder (the planted toy)."""

import json

import pytest

from regimescope.cli import main
from regimescope.organisms import save_model
from tests.mech_toys import LETTERS, planted, prompts


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    toy = planted()
    root = tmp_path_factory.mktemp("planted")
    save_model(toy.model, toy.tokenizer, root / "model")
    lines = [{"prompt": p, "label": "odd" if toy.x[p[-1]] else "even", "type": p[-1]}
             for p in prompts(contexts=4)]  # fmt: skip
    (root / "probe.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    ones = [c for c in LETTERS if toy.x[c]]
    zeros = [c for c in LETTERS if not toy.x[c]]
    pairs = [
        {"clean": f"a{a}", "corrupt": f"a{b}", "target": "1", "foil": "0"}
        for a, b in zip(ones, zeros, strict=True)
    ]
    (root / "pairs.jsonl").write_text("\n".join(json.dumps(p) for p in pairs) + "\n")
    return root


def test_probe_writes_json_and_heatmap(folder, tmp_path):
    out, png = tmp_path / "probe.json", tmp_path / "probe.png"
    argv = ["probe", str(folder / "model"), str(folder / "probe.jsonl"), "--sites",
            "resid_pre,resid_post", "--positions", "-2,-1", "--split", "type"]  # fmt: skip
    assert main([*argv, "--json", str(out), "--plot", str(png)]) == 0
    result = json.loads(out.read_text())
    assert result["labels"] == ["even", "odd"] and result["positions"] == [-2, -1]
    last = result["sites"]["blocks.0.hook_resid_post"]
    assert set(last) == {"model", "random_init"} and len(last["model"]) == 2
    assert last["model"][1]["accuracy"] == 1.0  # the last token's stream holds x
    assert last["model"][0]["accuracy"] < 0.8  # the context letter does not
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_patch_writes_json_and_heatmap(folder, tmp_path):
    out, png = tmp_path / "patch.json", tmp_path / "patch.png"
    argv = ["patch", str(folder / "model"), str(folder / "pairs.jsonl"), "--sites",
            "resid_post,attn_out", "--mode", "noise"]  # fmt: skip
    assert main([*argv, "--json", str(out), "--plot", str(png)]) == 0
    result = json.loads(out.read_text())
    assert result["sites"] == ["blocks.0.hook_attn_out", "blocks.0.hook_resid_post"]
    assert result["tokens"][0] == "<bos>" and result["positions"] == [0, 1, 2]
    assert result["effect"][1][2] == pytest.approx(1.0, abs=1e-6)
    assert result["effect"][0] == pytest.approx([0, 0, 0], abs=1e-6)
    assert len(result["ld_patched"]) == len(result["ld_clean"]) == 20
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "lines, message",
    [
        ([{"clean": "ab", "corrupt": "ac", "target": "10", "foil": "0"}], "single tokens"),
        ([{"clean": "ab", "corrupt": "abc", "target": "1", "foil": "0"}], "equal token lengths"),
        (
            [
                {"clean": "ab", "corrupt": "ac", "target": "1", "foil": "0"},
                {"clean": "abc", "corrupt": "acc", "target": "1", "foil": "0"},
            ],  # fmt: skip
            "one length",
        ),
        ([{"clean": "ab", "target": "1", "foil": "0"}], "'corrupt' must be"),
        (None, "no file"),
    ],
)
def test_patch_refuses_bad_pairs_in_one_line_and_writes_nothing(
    folder, tmp_path, capsys, lines, message
):
    pairs, out, png = tmp_path / "pairs.jsonl", tmp_path / "o.json", tmp_path / "o.png"
    if lines is not None:
        pairs.write_text("\n".join(json.dumps(line) for line in lines))
    argv = ["patch", str(folder / "model"), str(pairs), "--json", str(out), "--plot", str(png)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and not png.exists()


def test_probe_refuses_bad_input_in_one_line(folder, tmp_path, capsys):
    data, out = tmp_path / "probe.jsonl", tmp_path / "o.json"
    model = str(folder / "model")
    cases = [
        (["probe", model, str(tmp_path / "missing.jsonl")], "no file"),
        (["probe", str(tmp_path / "nomodel"), str(folder / "probe.jsonl")], "no model folder"),
        (["probe", model, str(folder / "probe.jsonl"), "--sites", "resid"], "bad --sites"),
        (["probe", model, str(folder / "probe.jsonl"), "--split", "word"], "unknown split"),
        (["probe", model, str(folder / "probe.jsonl"), "--layers", "0,3"], "no block(s) [3]"),
        (["probe", model, str(data)], "every label"),
    ]
    data.write_text(json.dumps({"prompt": "ab", "label": 1}) + "\n")
    for argv, message in cases:
        assert main([*argv, "--json", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not out.exists()
