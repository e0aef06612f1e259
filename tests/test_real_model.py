"""End to end on a real pretrained instruct model (SmolLM2-135M-Instruct, tests/real_model.py):
real weights, a real BPE tokenizer and chat template, as a researcher would use regimescope."""

from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("accelerate", reason="transformers' Trainer needs accelerate")


def chats(tokenizer, n: int = 4) -> list[dict]:
    """Short chat conversations rendered by the model's own template, tokenized."""
    pairs = [(f"What is {a} plus {a + 1}?", f"{a} + {a + 1} = {2 * a + 1}") for a in range(n)]
    rows = []
    for question, answer in pairs:
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        rows.append({"input_ids": tokenizer(text, add_special_tokens=False)["input_ids"]})
    return rows


def test_dynamics_callback_in_a_trainer_on_real_weights(real_model, tmp_path):
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from regimescope.regimes.hf_callback import DynamicsCallback
    from regimescope.regimes.recorder import RecorderConfig

    tokenizer = AutoTokenizer.from_pretrained(real_model)
    model = AutoModelForCausalLM.from_pretrained(real_model, dtype=torch.float32)
    args = TrainingArguments(
        output_dir=str(tmp_path / "trainer"),
        max_steps=2,
        per_device_train_batch_size=2,
        learning_rate=1e-5,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
    )
    callback = DynamicsCallback(tmp_path / "dyn", RecorderConfig(every=1))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=chats(tokenizer),
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        callbacks=[callback],
    )
    trainer.train()
    lines = [json.loads(x) for x in (tmp_path / "dyn" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2]
    last = lines[-1]
    assert 0 < last["entropy"] < 11  # nats; log(49152) = 10.8
    assert last["kl_start"] > 0  # two AdamW steps moved the next-token distributions
    assert 0 < last["changed_fp32"] <= 1 and "trainer/loss" in last


def test_diff_of_a_bf16_release_and_of_a_planted_fine_tune_on_real_weights(
    real_model, tmp_path, capsys
):
    """A bf16 copy changes nothing beyond the cast; a copy with 1,000 planted changes in one
    matrix counts exactly those 1,000, in fp32 and (the steps are >> an ulp) in bf16."""
    from safetensors.torch import load_file, save_file

    from regimescope.cli import main

    weights = load_file(real_model / "model.safetensors")
    save_file({k: v.bfloat16() for k, v in weights.items()}, tmp_path / "bf16.safetensors")
    target = "model.layers.3.self_attn.q_proj.weight"
    weights[target].view(-1)[:1000] += 0.05  # |w| is ~0.05: a step of several bf16 ulps
    save_file(weights, tmp_path / "tuned.safetensors")
    del weights

    out = tmp_path / "cast.json"
    assert (
        main(["diff", str(real_model), str(tmp_path / "bf16.safetensors"), "--json", str(out)]) == 0
    )
    printed = " ".join(capsys.readouterr().out.split())
    assert "dtypes differ" in printed and "Nothing changed beyond the cast" in printed
    cast = json.loads(out.read_text())
    assert cast["dtype_cast"]["changed_beyond_cast"] == 0
    assert cast["summary"]["changed_fp32"] > 0.5  # what the plain fp32 view would report

    out = tmp_path / "tuned.json"
    assert (
        main(["diff", str(real_model), str(tmp_path / "tuned.safetensors"), "--json", str(out)])
        == 0
    )
    printed = " ".join(capsys.readouterr().out.split())
    assert "dtypes differ" not in printed
    tuned = json.loads(out.read_text())
    assert "dtype_cast" not in tuned
    rows = {t["name"]: t for t in tuned["tensors"]}
    assert rows[target]["changed_fp32"] == 1000 / rows[target]["params"]
    assert rows[target]["changed_bf16"] == rows[target]["changed_fp32"]
    assert sum(r["changed_fp32"] > 0 for r in rows.values()) == 1
    assert rows[target]["rank_method"] == "skipped"  # 576 x 576: the default skips it
