import pytest
import torch
from safetensors.torch import load_file

from regimescope.errors import BadInput
from regimescope.organisms import preset
from regimescope.regimes.common import warmup_cosine
from regimescope.regimes.pretrain import PretrainConfig, pretrain
from regimescope.store import iter_runs

TINY = PretrainConfig(
    task="arithmetic",
    organism=preset("nano"),
    steps=20,
    batch_size=8,
    warmup_steps=5,
    checkpoint_every=5,
    log_every=2,
)


def weights(run):
    return load_file(str(run.model_dir / "model.safetensors"))


def assert_same_run(a, b):
    assert a.read_metrics() == b.read_metrics()
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_twenty_steps_bit_identical_across_runs(tmp_path):
    a = pretrain(TINY, tmp_path / "a")
    b = pretrain(TINY, tmp_path / "b")
    assert a.is_complete() and len(a.read_metrics()) == 10
    assert_same_run(a, b)
    losses = [r["loss"] for r in a.read_metrics()]
    assert losses[-1] < losses[0]  # it learns something in 20 steps


def test_killed_and_resumed_equals_uninterrupted(tmp_path):
    class Killed(Exception):
        pass

    def kill_at_13(step, record):
        if step == 13:
            raise Killed

    with pytest.raises(Killed):
        pretrain(TINY, tmp_path / "k", on_step=kill_at_13)
    (killed,) = iter_runs(tmp_path / "k")
    assert not killed.is_complete() and killed.checkpoint_steps() == [5, 10]
    assert killed.read_metrics()[-1]["step"] == 12  # metrics went past the last checkpoint
    resumed = pretrain(TINY, tmp_path / "k")
    assert resumed.checkpoint_steps() == [5, 10, 15, 20]
    assert_same_run(resumed, pretrain(TINY, tmp_path / "fresh"))


def test_complete_run_is_reused_not_retrained(tmp_path):
    run = pretrain(TINY, tmp_path)
    seen = []
    again = pretrain(TINY, tmp_path, on_step=lambda s, r: seen.append(s))
    assert again.path == run.path and seen == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"steps": 0}, "steps must be a positive integer"),
        ({"task": "nope"}, "unknown task 'nope'"),
        ({"loss_on": "some"}, "unknown loss_on"),
    ],
)
def test_bad_config_is_refused_before_writing(tmp_path, change, message):
    from dataclasses import replace

    with pytest.raises(BadInput, match=message):
        pretrain(replace(TINY, **change), tmp_path)
    assert not (tmp_path / "pretrain").exists()


def test_warmup_cosine_shape():
    lrs = [warmup_cosine(s, 100, 10, 1.0, 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3)
    assert all(x >= y for x, y in zip(lrs[10:], lrs[11:], strict=False))


def test_a_new_task_version_makes_a_new_run(tmp_path, monkeypatch):
    from regimescope.tasks import get_task

    first = pretrain(TINY, tmp_path)
    monkeypatch.setattr(get_task(TINY.task), "version", "9.9")
    second = pretrain(TINY, tmp_path)
    assert second.path != first.path and second.meta["key"]["task_version"] == "9.9"


def test_edited_training_code_makes_a_new_run(tmp_path, monkeypatch):
    """Runs are keyed by the fingerprint of the training code: a changed loop or objective
    never reuses checkpoints trained under the old one."""
    from regimescope.regimes import pretrain as module

    first = pretrain(TINY, tmp_path)
    assert first.meta["key"]["code"] == module.module_fingerprint("regimescope.regimes.pretrain")
    monkeypatch.setattr(module, "module_fingerprint", lambda name: "0" * 12)
    second = pretrain(TINY, tmp_path)
    assert second.path != first.path and second.meta["key"]["code"] == "0" * 12


def test_two_concurrent_callers_train_a_run_once(tmp_path):
    """The run lock: the second caller waits for the first, then reuses its finished run."""
    import threading

    steps_seen: list[int] = []
    started = threading.Event()

    def on_first_step(step, record):
        started.set()
        steps_seen.append(step)

    def first_caller():
        pretrain(TINY, tmp_path / "shared", on_step=on_first_step)

    thread = threading.Thread(target=first_caller)
    thread.start()
    started.wait(timeout=60)  # the first caller holds the lock and is training
    second = pretrain(TINY, tmp_path / "shared", on_step=lambda s, r: steps_seen.append(-s))
    thread.join()
    assert steps_seen == list(range(1, 21))  # trained once, by the first caller only
    assert second.is_complete()
    assert_same_run(second, pretrain(TINY, tmp_path / "fresh"))
