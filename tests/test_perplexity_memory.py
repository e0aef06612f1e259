"""The perplexity pass scores completions a slice of logits at a time, with results equal to
the whole log-softmax; per-class perplexity says why it is empty."""

from __future__ import annotations

import pytest
import torch

from regimescope.instruments import perplexity as ppl
from regimescope.organisms import build_organism, load_model, preset
from regimescope.tasks.encode import encode_prompt


def reference_nll(model, rows) -> list[list[float]]:
    """The unchunked definition: log_softmax over the whole vocabulary, one row at a time."""
    out = []
    with torch.inference_mode():
        for prompt, completion in rows:
            ids = torch.tensor([prompt + completion])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), dim=-1)
            picked = logp.gather(-1, ids[0, 1:, None]).squeeze(-1)  # [L-1]
            out.append((-picked[len(prompt) - 1 :]).tolist())
    return out


def some_rows(tokenizer, texts: list[tuple[str, str]]):
    return [
        (encode_prompt(tokenizer, p), tokenizer(c, add_special_tokens=False)["input_ids"])
        for p, c in texts
    ]


NANO_TEXTS = [("12+7=", "19"), ("3*4=", "12 then more"), ("1=", "1")]


@pytest.fixture(scope="module")
def nano():
    model, tokenizer = build_organism(preset("nano"), seed=0)
    return model.eval(), tokenizer


@pytest.mark.parametrize("budget", [ppl.LOGITS_BUDGET, 4 * 100 * 3, 1])
@pytest.mark.parametrize("path", ["split", "rows"])
def test_chunked_scores_equal_the_whole_log_softmax(nano, budget, path, monkeypatch):
    model, tokenizer = nano
    monkeypatch.setattr(ppl, "LOGITS_BUDGET", budget)
    if path == "rows":
        monkeypatch.setitem(ppl._HEAD_SPLITS, model, None)  # force the fallback
    rows = some_rows(tokenizer, NANO_TEXTS)
    with torch.inference_mode():
        found = ppl.token_nll(model, rows)
    for got, want in zip(found, reference_nll(model, rows), strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_the_head_sees_a_slice_of_positions_at_a_time(nano, monkeypatch):
    model, tokenizer = nano
    monkeypatch.setattr(ppl, "LOGITS_BUDGET", 4 * 100 * 3 * 2)  # 3 rows x 2 positions x V=100
    rows = some_rows(tokenizer, NANO_TEXTS)
    with torch.inference_mode():
        ppl.mean_nll(model, rows)  # decides the split once (one whole probe row)
        widths = []
        hook = model.get_output_embeddings().register_forward_hook(
            lambda module, args, out: widths.append(tuple(out.shape))
        )
        ppl.mean_nll(model, rows)
        hook.remove()
    positions = max(len(p) + len(c) for p, c in rows) - 1
    assert [w for _, w, _ in widths] == [2] * (positions // 2) + [1] * (positions % 2)
    assert {(b, v) for b, _, v in widths} == {(3, 100)}


def test_a_model_that_rescales_its_logits_is_scored_whole(monkeypatch):
    model, tokenizer = build_organism(preset("nano"), seed=1)
    model.eval()
    plain = model.forward

    def doubled(*args, **kwargs):  # a head followed by a scale (as Cohere, Granite)
        out = plain(*args, **kwargs)
        out.logits = out.logits * 2.0
        return out

    monkeypatch.setattr(model, "forward", doubled)
    rows = some_rows(tokenizer, NANO_TEXTS)
    with torch.inference_mode():
        found = ppl.token_nll(model, rows)
    assert ppl._HEAD_SPLITS[model] is None  # the split did not reproduce the model
    for got, want in zip(found, reference_nll(model, rows), strict=True):
        assert got == pytest.approx(want, rel=1e-5, abs=1e-5)


def test_real_model_chunked_equals_whole(real_model, monkeypatch):
    model, tokenizer = load_model(real_model)
    rows = some_rows(tokenizer, [("What is 2 + 3?", " 2 + 3 = 5."), ("Hi", " there, friend")])
    monkeypatch.setattr(ppl, "LOGITS_BUDGET", 4 * 49152 * 2 * 3)  # 3 positions per slice
    with torch.inference_mode():
        found = ppl.token_nll(model, rows)
    assert ppl._HEAD_SPLITS[model] is not None
    for got, want in zip(found, reference_nll(model, rows), strict=True):
        assert got == pytest.approx(want, rel=1e-4, abs=1e-4)


def test_class_perplexity_says_why_it_is_empty(nano):
    model, tokenizer = nano
    prompts = ["1+1=", "2+2="]
    completions = [[[5, 6, 7]], [[8, 9]]]
    none = [[[None, None, None]], [[None, None]]]
    found = ppl.class_perplexity(model, tokenizer, prompts, completions, none)
    assert found == {} and "none of the 2 scored completions follows" in found.note
    empty = ppl.class_perplexity(model, tokenizer, prompts, [[[]], [[]]], [[[]], [[]]])
    assert empty == {} and "no completion with tokens was scored" in empty.note
    some = [[["answer", None, None]], [[None, None]]]
    labelled = ppl.class_perplexity(model, tokenizer, prompts, completions, some)
    assert set(labelled) == {"answer"} and labelled.note == ""


def test_passk_prints_why_per_class_perplexity_is_empty(tmp_path, capsys):
    from regimescope.cli import main
    from regimescope.organisms import save_model

    folder = save_model(*build_organism(preset("nano"), seed=0), tmp_path / "nano")
    out = tmp_path / "result.json"
    argv = ["passk", "--model", str(folder), "--task", "arithmetic", "--n", "2"]
    argv += ["--problems", "2", "--max-tokens", "4", "--ppl-samples", "2", "--json", str(out)]
    assert main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "PPL under the base by token class, nano: none: none of the 4 scored" in printed
    assert "follows the task's gold template" in out.read_text()
