"""The recorder inside a plain transformers Trainer on a tiny organism (regimes/hf_callback.py)."""

import json

import pytest
import torch

from regimescope.organisms import build_organism, preset
from regimescope.regimes.recorder import RecorderConfig
from regimescope.tasks import get_task
from regimescope.tasks.encode import encode_example

pytest.importorskip("accelerate", reason="transformers' Trainer needs accelerate")
from transformers import Trainer, TrainingArguments  # noqa: E402

from regimescope.regimes.hf_callback import DynamicsCallback  # noqa: E402


class Encoded(torch.utils.data.Dataset):
    """Countdown examples as fixed-length next-token examples with completion-only labels."""

    def __init__(self, tokenizer, n: int = 16, width: int = 48, start: int = 0):
        task = get_task("countdown")
        self.rows, self.classes = [], []
        for i in range(start, start + n):
            enc = encode_example(tokenizer, task.example(i))
            ids = (enc.input_ids + [tokenizer.pad_token_id] * width)[:width]
            keep = (enc.completion_mask + [0] * width)[:width]
            labels = [t if k else -100 for t, k in zip(ids, keep, strict=True)]
            self.rows.append({"input_ids": torch.tensor(ids), "labels": torch.tensor(labels)})
            self.classes.append(torch.tensor((enc.class_ids + [-1] * width)[:width]))

    def probe(self) -> dict:
        """All rows as one batch, with token classes (which the Trainer's batches lack)."""
        batch = {key: torch.stack([row[key] for row in self.rows]) for key in self.rows[0]}
        return batch | {"class_ids": torch.stack(self.classes)}

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def train(tmp_path, callbacks, steps: int = 4):
    model, tokenizer = build_organism(preset("nano"), seed=0)
    args = TrainingArguments(
        output_dir=str(tmp_path / "trainer"),
        max_steps=steps,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        logging_steps=2,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        data_seed=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=Encoded(tokenizer), callbacks=callbacks)
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h]


def test_callback_records_dynamics_of_a_plain_trainer_run(tmp_path):
    _, tokenizer = build_organism(preset("nano"))
    probe = Encoded(tokenizer, n=8, start=100).probe()
    callback = DynamicsCallback(tmp_path / "dyn", RecorderConfig(every=2), probe=probe)
    losses = train(tmp_path, [callback])
    lines = [json.loads(x) for x in (tmp_path / "dyn" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 4]
    last = lines[-1]
    for key in (
        "update_ratio/layer_0",
        "changed_fp32",
        "changed_bf16",
        "weight_norm",
        "entropy",
        "entropy/plan",
        "entropy/exec",
        "kl_start",
        "grad_norm_clipped",
        "trainer/loss",
    ):
        assert key in last, key
    assert last["changed_fp32"] > 0.5 and 0 < last["update_ratio/layer_0"] < 1
    assert last["kl_start"] > lines[0]["kl_start"] > 0
    assert 0 < last["entropy"] < torch.log(torch.tensor(100.0)).item()
    assert last["trainer/loss"] == pytest.approx(losses[-1])


def test_callback_does_not_change_the_training(tmp_path):
    plain = train(tmp_path / "plain", [])
    watched = train(
        tmp_path / "watched", [DynamicsCallback(tmp_path / "m.jsonl", RecorderConfig(every=1))]
    )
    assert plain == watched
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == 4


class Sequences(torch.utils.data.Dataset):
    """Countdown examples as plain token lists of varied length, for a standard collator."""

    def __init__(self, tokenizer, n: int = 16):
        task = get_task("countdown")
        self.rows = [
            {"input_ids": encode_example(tokenizer, task.example(i)).input_ids} for i in range(n)
        ]

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        return self.rows[i]


def collated_run(tmp_path, dataset, collator, config):
    model, _ = build_organism(preset("nano"), seed=0)
    args = TrainingArguments(
        output_dir=str(tmp_path / "trainer"),
        max_steps=2,
        per_device_train_batch_size=4,
        learning_rate=1e-2,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        seed=0,
        remove_unused_columns=False,
    )
    callback = DynamicsCallback(tmp_path / "dyn", config)
    trainer = Trainer(
        model=model, args=args, train_dataset=dataset, data_collator=collator, callbacks=[callback]
    )
    trainer.train()
    lines = (tmp_path / "dyn" / "metrics.jsonl").read_text().splitlines()
    return callback, [json.loads(x) for x in lines]


def test_callback_reads_the_standard_collators_batch_encoding(tmp_path):
    from transformers import BatchEncoding, DataCollatorForLanguageModeling

    _, tokenizer = build_organism(preset("nano"))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    assert isinstance(collator([Sequences(tokenizer)[0]]), BatchEncoding)  # not a dict
    callback, lines = collated_run(
        tmp_path, Sequences(tokenizer), collator, RecorderConfig(every=1)
    )
    assert [x["step"] for x in lines] == [1, 2]
    assert lines[-1]["kl_start"] > 0 and lines[-1]["entropy"] > 0
    assert callback.ref is not None


def test_callback_keeps_no_reference_copy_when_batches_hold_no_tokens(tmp_path, caplog):
    def prompts_only(rows):  # TRL-style batches: prompts as text, no input_ids
        return {"prompt": [str(r["input_ids"][:3]) for r in rows], "dummy": torch.zeros(len(rows))}

    _, tokenizer = build_organism(preset("nano"))
    callback = DynamicsCallback(tmp_path / "dyn", RecorderConfig(every=1))

    class Loader:  # a dataloader whose batches a collator made without input_ids
        def __iter__(self):
            return iter([prompts_only([Sequences(tokenizer)[0]])])

    model, _ = build_organism(preset("nano"), seed=0)
    from transformers import TrainerControl, TrainerState

    with caplog.at_level("WARNING"):
        callback.on_train_begin(
            None, TrainerState(), TrainerControl(), model=model, train_dataloader=Loader()
        )
    assert callback.ref is None
    assert "no input_ids" in caplog.text


def test_callback_refuses_a_probe_without_tokens(tmp_path):
    with pytest.raises(ValueError, match="input_ids"):
        DynamicsCallback(tmp_path, probe={"labels": torch.zeros(2, 3)})


def test_callback_reads_sharpness_and_noise_scale_without_changing_the_training(tmp_path):
    from regimescope.regimes.mechanics_probe import MechanicsConfig, sharpness_stats

    _, tokenizer = build_organism(preset("nano"))
    probe = Encoded(tokenizer, n=6, start=100).probe()
    mechanics = MechanicsConfig(sharpness_every=2, sharpness_iterations=30, noise_scale_every=3)
    callback = DynamicsCallback(
        tmp_path / "dyn", RecorderConfig(every=4), probe=probe, mechanics=mechanics
    )
    assert train(tmp_path / "watched", [callback]) == train(tmp_path / "plain", [])
    lines = [json.loads(x) for x in (tmp_path / "dyn" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [2, 3, 4]  # sharpness at 2, 4; noise at 3; log at 4
    assert {"sharpness", "sharpness_adam"} <= set(lines[0]) and "noise_scale" not in lines[0]
    assert "noise_scale" in lines[1] and "sharpness" not in lines[1]
    assert "changed_fp32" in lines[2] and "sharpness" in lines[2]
    assert lines[2]["sharpness"] > 0 and lines[2]["sharpness_adam"] > 0
    assert lines[1]["trace_cov"] > 0 and lines[1]["noise_scale"] > 0

    # the reading is the instrument's: the same model and probe give the same number
    model, _ = build_organism(preset("nano"), seed=1)
    first = sharpness_stats(model, probe, None, mechanics)
    again = sharpness_stats(model, probe, None, mechanics)
    assert first == again and "sharpness_adam" not in first  # no optimizer, no P
