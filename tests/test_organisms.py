import subprocess
import sys

import pytest
import torch

from regimescope.errors import BadInput
from regimescope.organisms import build_organism, count_parameters, load_model, preset, save_model
from regimescope.organisms.load import resolve_device


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("nano", 30e3, 80e3), ("micro", 150e3, 300e3), ("small", 0.8e6, 1.5e6)],
)
def test_preset_sizes(name, low, high):
    model, _ = build_organism(preset(name))
    assert low <= count_parameters(model) <= high


def test_unknown_preset_names_choices():
    with pytest.raises(BadInput, match="unknown preset 'huge'; choose from: micro, nano, small"):
        preset("huge")


def test_same_seed_same_weights_different_seed_different():
    a, _ = build_organism(preset("nano"), seed=1)
    b, _ = build_organism(preset("nano"), seed=1)
    c, _ = build_organism(preset("nano"), seed=2)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_save_load_round_trip_identical_logits(tmp_path):
    model, tok = build_organism(preset("nano"), seed=3)
    save_model(model, tok, tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    loaded, tok2 = load_model(tmp_path / "m")
    ids = torch.tensor([tok("nums 3 5 -> 8\n")["input_ids"]])
    assert torch.equal(model(ids).logits, loaded(ids).logits)
    assert tok2("a+b=c")["input_ids"] == tok("a+b=c")["input_ids"]


def test_plain_transformers_loads_without_regimescope(tmp_path):
    model, tok = build_organism(preset("nano"), seed=4)
    save_model(model, tok, tmp_path / "m")
    expected = model(torch.tensor([[1, 20, 21, 22]])).logits[0, -1, :3].tolist()
    script = (
        "import sys, torch\n"
        "from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        f"folder = {str(tmp_path / 'm')!r}\n"
        "m = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)\n"
        "t = AutoTokenizer.from_pretrained(folder, local_files_only=True)\n"
        "assert not any(k.startswith('regimescope') for k in sys.modules)\n"
        "print(t.decode(t('ab 12')['input_ids']))\n"
        "print(m(torch.tensor([[1, 20, 21, 22]])).logits[0, -1, :3].tolist())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "ab 12"
    assert eval(lines[1]) == pytest.approx(expected, abs=1e-6)


def test_load_refuses_bad_folders(tmp_path):
    with pytest.raises(BadInput, match="no model folder"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no config.json"):
        load_model(tmp_path / "empty")
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "config.json").write_text("{}")
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(BadInput, match="only pickle weights"):
        load_model(tmp_path / "pickled")


def test_resolve_device_names_the_choices():
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(BadInput, match="unknown device 'gpu0'; choose from: cpu, cuda"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="sees no CUDA GPU here; use cpu"):
            resolve_device("cuda")
    else:
        count = torch.cuda.device_count()
        with pytest.raises(BadInput, match=f"this machine has {count} CUDA GPU"):
            resolve_device(f"cuda:{count}")


def test_load_model_places_the_model_on_the_device(tmp_path):
    model, tok = build_organism(preset("nano"), seed=0)
    save_model(model, tok, tmp_path / "m")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    loaded, _ = load_model(tmp_path / "m", device=device)
    assert {p.device.type for p in loaded.parameters()} == {device}
    assert not loaded.training
