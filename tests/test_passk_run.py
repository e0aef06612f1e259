"""The pass@k experiment end to end: API on a toy task, perplexity, and the CLI."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from regimescope import tasks
from regimescope.cli import main
from regimescope.instruments import coverage as cov
from regimescope.instruments.passk import k_grid
from regimescope.instruments.passk_run import (
    PassKConfig,
    _class_perplexity,
    plot_curves,
    run_passk,
    to_json,
)
from regimescope.instruments.perplexity import class_perplexity, perplexities, same_tokenizer
from regimescope.organisms import build_organism, build_tokenizer, preset, save_model
from regimescope.organisms.presets import llama_config
from regimescope.sampler.decode import Completion, SamplingConfig, sample
from regimescope.tasks import get_task
from regimescope.tasks.base import TOKEN_CLASSES, Example, Score
from regimescope.tasks.encode import encode_prompt


class DigitTask:
    """Toy task: the answer is the completion's first character; gold is a digit."""

    name, version, splits, formats = "toy-digit", "t1", ("train", "test"), ()

    def example(self, index: int, split: str = "train", seed: int = 0) -> Example:
        gold = str((index * 7 + seed) % 10)
        return Example(self.name, split, index, f"q{index}=", gold, gold, ("answer",), None, {})

    def verify(self, example: Example, completion: str) -> Score:
        answer = completion[:1] or None
        return Score(float(answer == example.answer), answer)

    def classify_format(self, completion: str) -> str | None:
        return None


class NoVerifier:
    name, version, splits, formats = "no-verifier", "t1", ("train", "test"), ()


@pytest.fixture(scope="module")
def models():
    return [
        ("base", *build_organism(preset("nano"), seed=0)),
        ("tuned", *build_organism(preset("nano"), seed=1)),
    ]


CFG = PassKConfig(
    problems=12, sampling=SamplingConfig(n=32, max_new_tokens=2, seed=3), ppl_samples=4
)


def test_run_passk_figures_are_consistent(models, tmp_path):
    result = run_passk(models, DigitTask(), CFG)
    assert result.ks == k_grid(32)
    for m in result.models:
        assert len(m.correct) == 12 and m.n == 32
        assert m.passk[1] == pytest.approx(sum(m.correct) / (12 * 32))
        assert all(lo - 1e-12 <= m.passk[k] <= hi + 1e-12 for k, (lo, hi) in m.passk_ci.items())
        assert list(m.passk.values()) == sorted(m.passk.values())  # pass@k rises with k
        assert m.histogram.at_zero == sum(c == 0 for c in m.correct)
        assert m.ppl_under_base["count"] > 0 and m.ppl_under_base["median"] > 1
    base, tuned = result.models
    assert result.coverage.solved["base"] == [i for i, c in enumerate(base.correct) if c]
    assert result.crossover_k == tuned.crossover_k
    assert sum(base.correct) > 0  # the toy task is solvable by chance (~1 in 100 a sample)
    doc = json.loads(json.dumps(to_json(result)))
    assert [m["name"] for m in doc["models"]] == ["base", "tuned"]
    assert doc["models"][0]["correct"] == base.correct
    assert set(doc["models"][0]["passk"]) == {str(k) for k in result.ks}
    assert len(doc["models"][0]["passk_ci"]["1"]) == 2
    assert set(doc["coverage"]) >= {"only", "creation_rate"}
    recorded = ["n", "ks", "temperature", "top_p", "max_new_tokens", "seeds", "task_version"]
    assert {*recorded, "prompt_template", "answer_extraction"} <= set(doc)
    png = plot_curves(result, tmp_path / "curves.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert run_passk(models, DigitTask(), CFG).models[1].correct == tuned.correct  # seeded


def test_null_draws_the_base_again_with_the_next_seed(models):
    plain = to_json(run_passk(models, DigitTask(), CFG))
    assert {"loss_rate_by_model", "net_coverage_by_model"} <= set(plain["coverage"])
    assert set(plain["coverage"]["loss_rate_by_model"]) == {"tuned"}
    assert plain["coverage"]["creation_excess_by_model"] is None and plain["base_again"] is None
    assert plain["settings"]["null"] is False and plain["seeds"]["null"] is None

    result = run_passk(models, DigitTask(), replace(CFG, null=True))
    _, base, tokenizer = models[0]
    prompts = [DigitTask().example(i, "test").prompt for i in range(12)]
    again = sample(base, tokenizer, prompts, replace(CFG.sampling, seed=CFG.sampling.seed + 1))
    direct = [
        sum(c.text[:1] == DigitTask().example(i, "test").answer for c in row)
        for i, row in enumerate(again)
    ]
    assert result.base_again == direct  # the base's second draw, sampling seed + 1
    assert result.base_again != result.models[0].correct  # another draw of the same base
    cover = result.coverage
    assert cover.base_unsolved > 0 and cover.null_creation_rate is not None
    own = cov.creation_rate(result.base_again, result.models[0].correct)
    assert cover.null_creation_rate == pytest.approx(own)  # the base's own draw
    excess = cov.creation_rate(result.base_again, result.models[1].correct) - own
    assert cover.creation_excess_by_model == {"tuned": pytest.approx(excess)}
    doc = json.loads(json.dumps(to_json(result)))
    assert doc["base_again"] == direct and doc["seeds"]["null"] == CFG.sampling.seed + 1
    assert doc["coverage"]["creation_excess_by_model"]["tuned"] == pytest.approx(excess)
    assert doc["coverage"]["null_creation_rate"] == cover.null_creation_rate
    assert doc["coverage"]["loss_rate_by_model"] == plain["coverage"]["loss_rate_by_model"]
    assert doc["models"] == plain["models"]  # the null leaves every model's own draw alone


def test_perplexity_equals_direct_log_likelihood(models):
    _, model, tokenizer = models[0]
    completions = [[[40, 41, 42], [7]], [[50, 2]]]
    values = perplexities(model, tokenizer, ["1+1=", "abc"], completions, batch_size=2)
    for prompt, group, row in zip(["1+1=", "abc"], completions, values, strict=True):
        for ids, value in zip(group, row, strict=True):
            full = encode_prompt(tokenizer, prompt) + ids
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([full])).logits[0], -1)
            start = len(full) - len(ids)
            nll = -sum(float(logp[t - 1, full[t]]) for t in range(start, len(full))) / len(ids)
            assert value == pytest.approx(math.exp(nll), rel=1e-5)


def test_class_perplexity_pools_the_direct_log_likelihood_of_each_class(models):
    _, model, tokenizer = models[0]
    prompts = ["1+1=", "abc"]
    completions = [[[40, 41, 42], [7]], [[50, 2]]]
    classes = [[["plan", "exec", None], ["exec"]], [["answer", "exec"]]]
    found = class_perplexity(model, tokenizer, prompts, completions, classes, batch_size=2)
    pooled: dict[str, list[float]] = {}
    for prompt, group, group_classes in zip(prompts, completions, classes, strict=True):
        for ids, row_classes in zip(group, group_classes, strict=True):
            full = encode_prompt(tokenizer, prompt) + ids
            with torch.no_grad():
                logp = torch.log_softmax(model(torch.tensor([full])).logits[0], -1)
            start = len(full) - len(ids)
            for t, cls in zip(range(start, len(full)), row_classes, strict=True):
                if cls is not None:
                    pooled.setdefault(cls, []).append(-float(logp[t - 1, full[t]]))
    assert set(found) == {"plan", "exec", "answer"}  # the None token counts nowhere
    for cls, nlls in pooled.items():
        assert found[cls]["tokens"] == len(nlls)
        assert found[cls]["ppl"] == pytest.approx(math.exp(sum(nlls) / len(nlls)), rel=1e-5)


def test_gold_completions_are_scored_in_every_class_of_their_target(models):
    _, model, tokenizer = models[0]
    task = get_task("countdown")
    items = [task.example(i, "test") for i in range(3)]
    ids = [tuple(tokenizer(e.target, add_special_tokens=False)["input_ids"]) for e in items]
    gold = [[Completion(e.target, row, True)] for e, row in zip(items, ids, strict=True)]
    found = _class_perplexity(model, tokenizer, items, gold, CFG)
    assert set(found) == set(TOKEN_CLASSES)
    targets = sum(len(row[0].token_ids) + 1 for row in gold)  # EOS counts as format
    assert sum(v["tokens"] for v in found.values()) == targets
    unlabelled = [[Completion("no plan here", (5, 6, 7), True)]]
    assert _class_perplexity(model, tokenizer, items[:1], unlabelled, CFG) == {}


def test_same_tokenizer():
    assert same_tokenizer(build_tokenizer(), build_tokenizer())
    assert not same_tokenizer(build_tokenizer(), build_tokenizer("abc0123456789"))


# ---------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("passk")
    out = {}
    for seed in (0, 1):
        out[f"m{seed}"] = save_model(*build_organism(preset("nano"), seed=seed), root / f"m{seed}")
    tokenizer = build_tokenizer("abcdefghij0123456789 =+-*\n")
    from transformers import LlamaForCausalLM

    other = LlamaForCausalLM(llama_config(preset("nano"), vocab_size=len(tokenizer)))
    out["other"] = save_model(other, tokenizer, root / "other")
    return out


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_cli_writes_json_and_plot(folders, tmp_path, capsys):
    out, png = tmp_path / "passk.json", tmp_path / "passk.png"
    models = ["--model", str(folders["m0"]), "--model", str(folders["m1"])]
    settings = ["--task", "rules", "--n", "8", "--problems", "4", "--max-tokens", "3"]
    argv = ["passk", *models, *settings, "--json", str(out), "--plot", str(png)]
    assert main(argv) == 0
    doc = json.loads(out.read_text())
    assert [m["name"] for m in doc["models"]] == ["m0", "m1"]
    assert all(len(m["correct"]) == 4 and m["n"] == 8 for m in doc["models"])
    assert set(doc["models"][1]["passk"]) == {"1", "2", "4", "8"}
    assert "crossover_k" in doc and "creation_rate" in doc["coverage"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "crossover k*" in capsys.readouterr().out


def test_cli_null_adds_the_excess_over_a_second_base_draw(folders, tmp_path, capsys):
    out = tmp_path / "passk.json"
    models = ["--model", str(folders["m0"]), "--model", str(folders["m1"])]
    settings = ["--task", "rules", "--n", "8", "--problems", "4", "--max-tokens", "3"]
    assert main(["passk", *models, *settings, "--null", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "m1: creation rate" in printed and "null's" in printed and "excess" in printed
    assert "loss rate" in printed and "net coverage" in printed
    doc = json.loads(out.read_text())
    cover = doc["coverage"]
    assert set(cover["creation_excess_by_model"]) == set(cover["loss_rate_by_model"]) == {"m1"}
    assert "null_creation_rate" in cover and "net_coverage_by_model" in cover
    assert len(doc["base_again"]) == 4 and doc["settings"]["null"] is True


def test_cli_prints_perplexity_by_token_class_when_the_task_labels_classes(capsys):
    from types import SimpleNamespace

    from regimescope.commands.passk import _print_classes

    base = SimpleNamespace(name="base", ppl_by_class={"exec": {"ppl": 1.25, "tokens": 40}})
    tuned = SimpleNamespace(name="tuned", ppl_by_class={"plan": {"ppl": 3.5, "tokens": 9}})
    _print_classes([base, tuned])
    out = capsys.readouterr().out
    assert "1.25 (40)" in out and "3.50 (9)" in out and "—" in out
    _print_classes([SimpleNamespace(name="base", ppl_by_class=None)])
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--n", "4", "--ks", "1,8"], "k=8 must lie in [1, n=4]"),
        (["--n", "0"], "n (samples per problem) must be >= 1"),
        (["--model", "/no/such/folder"], "no model folder at '/no/such/folder'"),
        (["--model", "OTHER"], "models have different tokenizers"),
        (["--task", "no-verifier"], "has no verifier"),
        (["--split", "nope"], "has no split 'nope'"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(extra, message, folders, capsys, monkeypatch):
    monkeypatch.setitem(tasks.TASKS, "no-verifier", NoVerifier())
    extra = [str(folders["other"]) if e == "OTHER" else e for e in extra]
    settings = ["--task", "rules", "--problems", "2", "--max-tokens", "2"]
    argv = ["passk", "--model", str(folders["m0"]), *settings, *extra]
    assert main(argv) == 2
    assert message in error_line(capsys)


def test_unique_names_name_store_folders_by_their_run():
    from regimescope.instruments.passk_run import unique_names

    paths = [
        "runs/pretrain/countdown-w128d4-ae80/model",
        "runs/rl/grpo-countdown-3556/checkpoints/step_000100",
        "models/cd",
        "other/cd",
    ]
    assert unique_names(paths) == [
        "countdown-w128d4-ae80",
        "grpo-countdown-3556/step_000100",
        "cd#2",
        "cd#3",
    ]
