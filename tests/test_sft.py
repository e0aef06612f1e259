"""The SFT regime: gold targets, instruction perturbations, self-SFT / expert iteration."""

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from regimescope.cli import main
from regimescope.errors import BadInput
from regimescope.regimes.common import IGNORE
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.sft import SFTConfig, gold_batch, perturb, sft
from regimescope.tasks import get_task, render_prompt
from tests import regime_toys
from tests.regime_toys import register, save_start, warm_start

TOY = CurriculumConfig(("toy-pick",))


@pytest.fixture
def pick_task(monkeypatch):
    return register(monkeypatch)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    return save_start(tmp_path_factory.mktemp("fresh") / "model")


@pytest.fixture(scope="module")
def warm(tmp_path_factory):
    return warm_start(tmp_path_factory.mktemp("warm"))


def weights(run):
    return load_file(str(run.model_dir / "model.safetensors"))


def assert_same_run(a, b):
    assert a.read_metrics() == b.read_metrics()
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_gold_sft_learns_a_clean_mapping(fresh, pick_task, monkeypatch, tmp_path):
    monkeypatch.setattr(regime_toys, "FRACTION", 1.0)  # every gold target is the right letter
    recorder = RecorderConfig(every=10, probe_problems=16, probe_max_new_tokens=4)
    cfg = SFTConfig(model=str(fresh), curriculum=TOY, steps=30, lr=1e-2, recorder=recorder)
    metrics = sft(cfg, tmp_path).read_metrics()
    assert [m["step"] for m in metrics] == [10, 20, 30]
    assert metrics[-1]["loss"] < 0.5 < 1.0 < metrics[0]["loss"]
    assert metrics[-1]["probe/accuracy"] == 1.0
    assert metrics[0]["probe/accuracy"] < 0.5
    assert {"entropy/answer", "entropy/format", "kl_start", "changed_bf16"} <= set(metrics[-1])
    assert metrics[-1]["kl_start"] > metrics[0]["kl_start"] > 0


def test_loss_is_on_completion_tokens_only(fresh, pick_task):
    from regimescope.organisms import load_model

    _, tokenizer = load_model(fresh)
    batch = gold_batch(get_task("toy-pick"), tokenizer, SFTConfig(curriculum=TOY, batch_size=4), 0)
    for ids, labels in zip(batch.input_ids.tolist(), batch.labels.tolist(), strict=True):
        assert labels[:2] == [IGNORE, IGNORE]  # BOS and the digit
        assert labels[2:] == ids[2:] and ids[-1] == tokenizer.eos_token_id


def test_sft_is_bit_identical_and_resumes(fresh, pick_task, tmp_path):
    cfg = SFTConfig(
        model=str(fresh),
        curriculum=TOY,
        steps=6,
        batch_size=8,
        checkpoint_every=2,
        recorder=RecorderConfig(every=1, probe_problems=2, probe_max_new_tokens=4),
    )
    a = sft(cfg, tmp_path / "a")
    assert_same_run(a, sft(cfg, tmp_path / "b"))

    class Killed(Exception):
        pass

    def kill_at_3(step, record):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        sft(cfg, tmp_path / "k", on_step=kill_at_3)
    assert_same_run(sft(cfg, tmp_path / "k"), a)


def test_self_sft_trains_only_on_verified_correct_samples(warm, pick_task, tmp_path):
    from regimescope.organisms import load_model

    cfg = SFTConfig(
        model=str(warm),
        curriculum=TOY,
        data="self",
        rounds=2,
        steps=4,
        batch_size=8,
        self_problems=16,
        self_samples=4,
        max_new_tokens=4,
        recorder=RecorderConfig(every=1, kl=False),
        checkpoint_every=1,
    )
    run = sft(cfg, tmp_path / "a")
    metrics = run.read_metrics()
    assert [m["round"] for m in metrics] == [0, 0, 1, 1]
    task, (_, tokenizer) = get_task("toy-pick"), load_model(warm)
    for r in (0, 1):
        pool = json.loads((run.path / "pools" / f"round_{r:03d}.json").read_text())["pool"]
        assert 0 < len(pool) < 16 * 4  # some but not all samples were correct
        assert metrics[2 * r]["pool_size"] == len(pool)
        for item in pool:
            example = task.example(item["index"], "train", 0)
            text = tokenizer.decode(item["token_ids"], skip_special_tokens=True)
            assert task.verify(example, text).reward == 1.0

    class Killed(Exception):
        pass

    def kill_at_4(step, record):
        if step == 4:
            raise Killed

    with pytest.raises(Killed):  # killed inside round 1: the resumed run reads its pool back
        sft(cfg, tmp_path / "k", on_step=kill_at_4)
    assert_same_run(sft(cfg, tmp_path / "k"), run)


def test_instruction_perturbations_rewrite_the_training_prompt(fresh, tmp_path):
    from regimescope.organisms import load_model
    from regimescope.regimes.curriculum import leaf_tasks

    task = get_task("rules")
    example = task.example(0)
    leaves = leaf_tasks(task)
    assert perturb(example, "original", leaves) == example
    for mode in ("simplified", "empty", "delusive"):
        changed = perturb(example, mode, leaves)
        assert changed.prompt == render_prompt(example.meta, mode) != example.prompt
        assert changed.target == example.target  # the gold label is kept
    _, tokenizer = load_model(fresh)
    cfg = SFTConfig(curriculum=CurriculumConfig(("rules",)), prompt_mode="simplified", batch_size=2)
    batch = gold_batch(task, tokenizer, cfg, 0)
    text = tokenizer.decode(batch.input_ids[0], skip_special_tokens=True)
    assert text.startswith("Labels:") and "Say" not in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt_mode": "delusive"}, "needs an instruction-bearing task"),
        ({"prompt_mode": "shuffled"}, "unknown prompt mode 'shuffled'"),
        ({"data": "gold", "rounds": 2}, "rounds apply to data='self'"),
        ({"data": "teacher"}, "unknown data 'teacher'; choose from: gold, self"),
        ({"steps": 0}, "steps must be a positive integer"),
        (
            {"curriculum": CurriculumConfig(("countdown", "rules"), weights=(1.0,))},
            "1 weights for 2",
        ),
    ],
)
def test_bad_sft_config_is_refused_before_writing(fresh, tmp_path, change, message):
    cfg = SFTConfig(model=str(fresh), curriculum=CurriculumConfig(("countdown",)))
    with pytest.raises(BadInput, match=message):
        sft(replace(cfg, **change), tmp_path)
    assert not (tmp_path / "sft").exists()


def test_cli_sft_runs_and_refuses_bad_input(fresh, tmp_path, capsys):
    store = str(tmp_path / "runs")
    code = main(
        [
            "sft",
            str(fresh),
            "--task",
            "rules",
            "--prompt-mode",
            "empty",
            "--steps",
            "2",
            "--batch-size",
            "4",
            "--probe",
            "2",
            "--store",
            store,
        ]
    )
    assert code == 0 and "loss:" in capsys.readouterr().out
    assert main(["sft", str(fresh), "--data", "teacher", "--store", store]) == 2
    assert "choose from: gold, self" in capsys.readouterr().err
    assert main(["sft", str(tmp_path / "missing"), "--store", store]) == 2


def test_the_recorder_reads_sharpness_and_noise_scale_without_changing_the_run(
    fresh, pick_task, tmp_path
):
    from regimescope.regimes.mechanics_probe import MechanicsConfig

    plain = SFTConfig(
        model=str(fresh), curriculum=TOY, steps=6, batch_size=8, recorder=RecorderConfig(every=3)
    )
    mechanics = MechanicsConfig(sharpness_every=2, sharpness_iterations=5, noise_scale_every=4)
    read = replace(plain, recorder=replace(plain.recorder, mechanics=mechanics))
    a, b = sft(plain, tmp_path / "a"), sft(read, tmp_path / "b")
    assert a.path.name != b.path.name  # the readings are part of the run's key
    metrics = b.read_metrics()
    assert [m["step"] for m in metrics] == [2, 3, 4, 6]  # logged, plus the readings' steps
    assert [m["step"] for m in metrics if "sharpness" in m] == [2, 4, 6]
    assert [m["step"] for m in metrics if "noise_scale" in m] == [4]
    assert all(m["sharpness"] > 0 and m["sharpness_adam"] > 0 for m in metrics if "sharpness" in m)
    wa, wb = weights(a), weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # reading never touches the update
