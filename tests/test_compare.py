"""`regimescope compare`: CKA per layer pair, calibration and diversity of two checkpoints."""

import json

import numpy as np
import pytest
import torch

from regimescope.cli import main
from regimescope.instruments.compare import (
    cka_matrix,
    completion_probability,
    last_token_states,
)
from regimescope.organisms import build_organism, load_model, preset, save_model
from regimescope.tasks import get_task
from regimescope.tasks.base import examples


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Two nano organisms with different initialisations, saved as model folders."""
    root = tmp_path_factory.mktemp("pair")
    folders = []
    for seed in (0, 1):
        model, tokenizer = build_organism(preset("nano"), seed=seed)
        folders.append(save_model(model, tokenizer, root / f"seed{seed}"))
    return folders


def test_a_model_against_itself_has_cka_one_on_the_diagonal(pair):
    model, tokenizer = load_model(pair[0])
    prompts = [e.prompt for e in examples(get_task("arithmetic"), 12, "test")]
    states = last_token_states(model, tokenizer, prompts)
    assert len(states) == model.config.num_hidden_layers + 1
    assert all(s.shape == (12, model.config.hidden_size) for s in states)
    same = cka_matrix(states, states)
    # every arithmetic prompt ends with the same token: its embedding row is constant, so
    # CKA of the embedding layer is 0/0 and reported as nan, not as a number
    assert np.isnan(same[0, 0]) and same.diagonal()[1:] == pytest.approx(1.0)
    other, other_tokenizer = load_model(pair[1])
    across = cka_matrix(states, last_token_states(other, other_tokenizer, prompts))
    inner = across[1:, 1:]  # two initialisations: related, not identical
    assert across.shape == same.shape and ((inner > 0.05) & (inner < 0.999)).all()


def test_completion_probability_is_the_product_of_next_token_probabilities(pair):
    model, tokenizer = load_model(pair[0])
    prompt, completion = "12+7=", [tokenizer.convert_tokens_to_ids(c) for c in "19"]
    with torch.no_grad():
        ids = [tokenizer.bos_token_id] + tokenizer("12+7=", add_special_tokens=False)["input_ids"]
        expected = 1.0
        for token in [*completion, tokenizer.eos_token_id]:
            probs = torch.softmax(model(input_ids=torch.tensor([ids])).logits[0, -1].double(), -1)
            expected *= float(probs[token])
            ids.append(token)
    found = completion_probability(model, tokenizer, prompt, completion, finished=True)
    assert found == pytest.approx(expected, rel=1e-6)


def test_compare_cli_writes_json_and_heatmap_and_refuses_bad_input(pair, tmp_path, capsys):
    out, png = tmp_path / "compare.json", tmp_path / "cka.png"
    argv = ["compare", str(pair[0]), str(pair[1]), "--task", "arithmetic", "--problems", "6"]
    argv += ["--samples", "3", "--max-tokens", "8", "--json", str(out), "--plot", str(png)]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert {"A", "B", "cka", "models"} <= set(result)
    for model in result["models"].values():
        assert 0 <= model["ece"] <= 1 and 0 <= model["accuracy"] <= 1
        assert sum(model["reliability"]["counts"]) == 6
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["compare", str(pair[0]), str(pair[1]), "--task", "nope"]) == 2
    bad = main(["compare", str(pair[0]), str(tmp_path / "missing"), "--task", "arithmetic"])
    assert bad == 2
    assert "Traceback" not in capsys.readouterr().err
