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
