"""Chat templates and BOS placement (tasks.chat, tasks.encode), on organisms and a real model."""

from __future__ import annotations

import hashlib
import json

import pytest
from tokenizers import processors
from transformers import AutoTokenizer

from regimescope.cli import main
from regimescope.errors import BadInput
from regimescope.organisms import build_organism, preset, save_model
from regimescope.organisms.tokenizer import build_tokenizer
from regimescope.tasks import TASKS, encode_example, encode_prompt
from regimescope.tasks.chat import ChatTask, render, with_chat_template

# sha256 of the organisms' encodings of 10 train examples of five tasks, as made before chat
# templates existed (git 4e31720); any change to how organisms are encoded breaks it
ORGANISM_DIGEST = "4b8189e6e57d26c4590c0de5854d74c27a92b35e794b22948e32e06e11bf0332"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_organism_encodings_are_pinned():
    tok = build_tokenizer()
    digest = hashlib.sha256()
    for name in ["arithmetic", "countdown", "rules", "strings-depth2-a", "mix"]:
        for i in range(10):
            example = TASKS[name].example(i, "train", 0)
            encoded = encode_example(tok, example)
            rows = [encode_prompt(tok, example.prompt), encoded.input_ids]
            rows += [encoded.completion_mask, encoded.class_ids]
            digest.update(json.dumps(rows).encode())
    assert digest.hexdigest() == ORGANISM_DIGEST
    assert encode_prompt(tok, "ab\n") == [tok.bos_token_id, 14, 15, 99]
    assert with_chat_template(TASKS["arithmetic"], tok, "auto") is TASKS["arithmetic"]
    with pytest.raises(BadInput, match="has no chat template; use --chat-template auto or off"):
        with_chat_template(TASKS["arithmetic"], tok, "on")


def test_a_tokenizer_that_adds_bos_itself_gets_one_bos():
    tok = build_tokenizer()  # a Llama-3-like tokenizer: adds BOS itself and has a template
    bos = tok.bos_token_id
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A", special_tokens=[("<bos>", bos)]
    )
    tok.chat_template = "{{ bos_token }}{% for m in messages %}U:{{ m['content'] }}{% endfor %}A:"
    assert encode_prompt(tok, "ab") == [bos, 14, 15]
    rendered = render(tok, "ab")
    assert rendered == "<bos>U:abA:" and encode_prompt(tok, rendered).count(bos) == 1


def test_chat_verification_reads_free_text_but_countdown_keeps_its_plan_check():
    tok = build_tokenizer()
    tok.chat_template = "{% for m in messages %}U:{{ m['content'] }}{% endfor %}A:"
    mix = with_chat_template(TASKS["mix"], tok, "on")
    assert mix.version.endswith("+chat1")
    by_task = {}
    for i in range(30):
        example = mix.example(i, "test")
        by_task.setdefault(example.task, example)
    arithmetic, countdown = by_task["arithmetic"], by_task["countdown"]
    assert arithmetic.prompt.startswith("U:") and arithmetic.prompt.endswith("A:")
    said = f"Step #1 ... so the answer is {arithmetic.answer}."
    assert mix.verify(arithmetic, said).reward == 1.0
    assert mix.verify(countdown, f"The answer is {countdown.answer}.").reward == 0.0  # an echo
    assert mix.verify(countdown, countdown.target).reward == 1.0


def test_chat_template_on_the_real_model(real_model):
    tok = AutoTokenizer.from_pretrained(real_model)
    bos = tok.bos_token_id  # SmolLM2's BOS is ChatML's <|im_start|>
    plain = encode_prompt(tok, "What is 2+3?")
    assert plain[0] != bos  # template off: no bare chat marker before plain text
    task = with_chat_template(TASKS["arithmetic"], tok, "auto")
    assert isinstance(task, ChatTask) and task.version == "1.0+chat1"
    example = task.example(0, "test")
    assert example.prompt.startswith("<|im_start|>system\n")
    assert example.prompt.endswith("<|im_start|>assistant\n")
    assert example.meta["raw_prompt"] in example.prompt
    ids = encode_prompt(tok, example.prompt)
    assert ids[0] == bos and ids[1] != bos  # one BOS, the template's own
    gold = example.answer
    decoy = f"Step #1: add. #2: subtract. The answer is {gold}."
    assert task.verify(example, decoy).reward == 1.0
    assert TASKS["arithmetic"].verify(example, decoy).reward == 0.0  # the organisms' rule


def test_bad_chat_template_mode_is_one_line(tmp_path, capsys):
    folder = tmp_path / "nano"
    save_model(*build_organism(preset("nano"), seed=0), folder)
    argv = ["eval", str(folder), "--task", "arithmetic", "--chat-template"]
    assert main([*argv, "maybe"]) == 2
    assert "unknown --chat-template mode 'maybe'; choose from: auto, off, on" in one_error_line(
        capsys
    )
    assert main([*argv, "on"]) == 2
    assert "tokenizer has no chat template" in one_error_line(capsys)


def test_eval_and_passk_on_the_real_model_with_a_jsonl_file(real_model, tmp_path, capsys):
    problems = tmp_path / "problems.jsonl"
    lines = [
        {"prompt": "What is 2+3? Answer with a number.", "answer": 5},
        {"prompt": "What is 10-4? Answer with a number.", "answer": 6},
        {
            "prompt": "What is the capital of France? One word.",
            "answer": "(?i)paris",
            "verifier": "regex",
        },
    ]
    problems.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "eval.json"
    argv = ["eval", str(real_model), "--task", str(problems), "--chat-template", "auto"]
    assert main([*argv, "--problems", "3", "--max-tokens", "24", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["version"].endswith("+chat1") and len(report["shown"]) == 3
    first = report["shown"][0]
    assert first["prompt"].startswith("<|im_start|>system") and first["gold"] == "5"
    assert first["answer"] == "5" and first["reward"] == 1.0  # "2 + 3 = 5"
    assert all("answer" in s and "reward" in s for s in report["shown"])
    out = tmp_path / "passk.json"
    argv = ["passk", "--model", str(real_model), "--task", str(problems), "--problems", "2"]
    assert (
        main([*argv, "--n", "2", "--max-tokens", "8", "--ppl-samples", "1", "--json", str(out)])
        == 0
    )
    result = json.loads(out.read_text())
    assert result["prompt_template"].startswith("the tokenizer's chat template")
    assert result["shown"][0]["prompt"].startswith("<|im_start|>system")
    assert result["models"][0]["ppl_under_base"]["median"] > 1.0
