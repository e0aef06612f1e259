"""The RL regime end to end: it learns, it is deterministic, it resumes, it refuses bad input."""

from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file

from regimescope.cli import main
from regimescope.errors import BadInput
from regimescope.regimes.curriculum import CurriculumConfig
from regimescope.regimes.recorder import RecorderConfig
from regimescope.regimes.rl import RLConfig, rl
from regimescope.store import iter_runs
from regimescope.tasks import get_task
from regimescope.tasks.token_classes import completion_classes
from tests.regime_toys import register, save_start, warm_start

QUIET = RecorderConfig(every=1, update_ratio=False, changed=False, weight_norms=False)


@pytest.fixture
def pick_task(monkeypatch):
    return register(monkeypatch)


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """A warm-started nano organism (short SFT on toy-pick): its model folder."""
    return warm_start(tmp_path_factory.mktemp("warm"))


def toy_config(start, **changes) -> RLConfig:
    base = RLConfig(
        model=str(start),
        curriculum=CurriculumConfig(("toy-pick",)),
        steps=30,
        prompts_per_step=8,
        samples_per_prompt=8,
        max_new_tokens=4,
        lr=3e-3,
        recorder=QUIET,
        checkpoint_every=100,
    )
    return replace(base, **changes)


def weights(run):
    return load_file(str(run.model_dir / "model.safetensors"))


def assert_same_run(a, b):
    assert a.read_metrics() == b.read_metrics()
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_short_grpo_run_raises_reward_on_an_easy_task(start, pick_task, tmp_path):
    run = rl(toy_config(start), tmp_path)
    rewards = [r["reward"] for r in run.read_metrics()]
    assert len(rewards) == 30
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert first < 0.45  # starts near chance (0.25) ...
    assert last > first + 0.2  # ... and climbs (about 0.25 -> 0.7 with this seed)


def test_same_config_gives_bit_identical_runs_and_resume_equals_uninterrupted(
    start, pick_task, tmp_path
):
    cfg = toy_config(
        start,
        steps=6,
        updates_per_batch=2,
        kl_coef=0.05,
        checkpoint_every=2,
        recorder=RecorderConfig(every=1),
    )
    a, b = rl(cfg, tmp_path / "a"), rl(cfg, tmp_path / "b")
    assert_same_run(a, b)
    assert a.read_metrics()[-1]["clip_frac"] >= 0.0 and "kl_k3" in a.read_metrics()[-1]

    class Killed(Exception):
        pass

    def kill_at_5(step, record):
        if step == 5:
            raise Killed

    with pytest.raises(Killed):
        rl(cfg, tmp_path / "k", on_step=kill_at_5)
    (killed,) = iter_runs(tmp_path / "k")
    assert killed.checkpoint_steps() == [2, 4] and not killed.is_complete()
    assert_same_run(rl(cfg, tmp_path / "k"), a)


def test_metrics_lines_carry_the_recorder_statistics(tmp_path):
    recorder = RecorderConfig(every=1, probe_problems=2, probe_max_new_tokens=8)
    cfg = RLConfig(
        model=str(save_start(tmp_path / "m")),
        curriculum=CurriculumConfig(("arithmetic",)),
        steps=2,
        prompts_per_step=2,
        samples_per_prompt=2,
        max_new_tokens=8,
        recorder=recorder,
    )
    line = rl(cfg, tmp_path / "runs").read_metrics()[-1]
    expected = {
        "reward",
        "accuracy",
        "entropy",
        "kl_start",
        "grad_norm",
        "changed_fp32",
        "changed_bf16",
        "weight_norm",
        "weight_norm/layer_0",
        "update_ratio/layer_0",
        "format_share/code",
        "format_share/none",
        "probe/accuracy",
        "probe/reward",
    }
    assert expected <= set(line)
    assert 0.0 <= line["changed_bf16"] <= line["changed_fp32"] <= 1.0
    assert line["kl_start"] >= 0.0


def test_start_model_is_pinned_by_its_weights(start, pick_task, tmp_path):
    from regimescope.regimes.rl import resolve

    folder = save_start(tmp_path / "m")
    cfg = resolve(toy_config(folder))
    assert len(cfg.model_sha256) == 64
    other = resolve(toy_config(save_start(tmp_path / "other", "micro")))
    assert other.model_sha256 != cfg.model_sha256  # a different start: a different run hash
    with pytest.raises(BadInput, match="changed since the config was made"):
        resolve(replace(cfg, model_sha256="0" * 64))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"objective": "ppo"}, "unknown objective 'ppo'; choose from: dr_grpo, grpo, hicra, nsr"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"samples_per_prompt": 1}, "grpo normalises within groups"),
        ({"temperature": 0.0}, "need temperature > 0"),
        ({"loss_agg": "sum"}, "unknown loss aggregation"),
        ({"model": "/no/such/folder"}, "no model folder"),
        ({"curriculum": CurriculumConfig(("nope",))}, "unknown task 'nope'"),
    ],
)
def test_bad_config_is_refused_before_writing(start, pick_task, tmp_path, change, message):
    with pytest.raises(BadInput, match=message):
        rl(toy_config(start, **change), tmp_path)
    assert not (tmp_path / "rl").exists()


def test_plan_labels_carry_over_to_a_sample_that_follows_the_gold_template():
    example = get_task("countdown").example(0)
    sample = "plan 2*7+3\n2*7=14\n14+3=17\nans 17"
    classes = completion_classes(example, sample)
    plan = "".join(ch for ch, c in zip(sample, classes, strict=True) if c == "plan")
    assert plan == "2*7+3"
    assert completion_classes(example, "nonsense") == [None] * len("nonsense")


def test_cli_rl_runs_and_refuses_bad_input(start, pick_task, tmp_path, capsys):
    store = str(tmp_path / "runs")
    code = main(
        [
            "rl",
            str(start),
            "--task",
            "toy-pick",
            "--objective",
            "nsr",
            "--steps",
            "2",
            "--max-tokens",
            "4",
            "--log-every",
            "1",
            "--store",
            store,
            "--set",
            "recorder.kl=false",
        ]
    )
    assert code == 0 and "reward:" in capsys.readouterr().out
    assert main(["rl", str(start), "--objective", "ppo", "--store", store]) == 2
    assert (
        "choose from: dr_grpo, grpo, hicra, nsr, psr, reinforce, w_reinforce"
        in capsys.readouterr().err
    )
    assert main(["rl", str(tmp_path / "missing"), "--store", store]) == 2
    assert main(["rl", str(start), "--set", "nope=1", "--store", store]) == 2


def test_rl_on_a_curriculum_records_each_task(start, pick_task, tmp_path):
    curriculum = CurriculumConfig(("toy-pick", "rules"), order="mixture")
    recorder = replace(QUIET, kl=False)
    line = rl(toy_config(start, curriculum=curriculum, steps=2, recorder=recorder), tmp_path)
    last = line.read_metrics()[-1]
    assert {"reward/toy-pick", "reward/rules", "accuracy/toy-pick"} <= set(last)
    assert line.path.parent.name == "rl" and "mixture" in line.path.name
