import json
import os

import pytest

from regimescope.organisms import OrganismConfig
from regimescope.store import atomic_dir, open_run, write_json_atomic
from regimescope.store.query import runs_table


def test_atomic_write_leaves_old_file_on_crash(tmp_path, monkeypatch):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": 1})

    def crash(*args, **kwargs):
        raise OSError("disk died")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left behind


def test_atomic_dir_is_all_or_nothing(tmp_path):
    target = tmp_path / "ckpt"
    with pytest.raises(RuntimeError), atomic_dir(target) as folder:
        (folder / "half.bin").write_bytes(b"123")
        raise RuntimeError("killed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(target) as folder:
        (folder / "whole.bin").write_bytes(b"123")
    assert (target / "whole.bin").read_bytes() == b"123"


def test_open_run_reuses_folder_by_config_hash(store):
    a = open_run("pretrain", "x", OrganismConfig())
    b = open_run("pretrain", "x", OrganismConfig())
    c = open_run("pretrain", "x", OrganismConfig(width=32))
    assert a.path == b.path != c.path
    assert a.config == {"width": 64, "depth": 3, "context": 256, "tie_embeddings": True}
    assert {"versions", "git_commit", "started"} <= set(a.meta)
    assert not a.is_complete()
    a.mark_complete({"ok": True})
    assert a.is_complete() and a.summary() == {"ok": True} and "finished" in a.meta


def test_metrics_skip_torn_line_and_truncate(store):
    run = open_run("pretrain", "x", OrganismConfig())
    for step in (10, 20, 30):
        run.append_metrics({"step": step, "loss": 1.0 / step})
    with open(run.path / "metrics.jsonl", "a") as handle:
        handle.write('{"step": 40, "lo')  # a kill in the middle of a write
    assert [r["step"] for r in run.read_metrics()] == [10, 20, 30]
    run.truncate_metrics(20)
    assert [r["step"] for r in run.read_metrics()] == [10, 20]
    table = runs_table()
    assert list(table["last_step"]) == [20] and list(table["complete"]) == [False]


def test_rundir_accepts_a_string_path(tmp_path):
    from regimescope.store import RunDir

    assert RunDir(str(tmp_path)).model_dir == tmp_path / "model"


def test_exclusive_makes_a_second_holder_wait(store):
    import threading
    import time

    run = open_run("test", "lock", OrganismConfig())
    order: list[str] = []
    held = threading.Event()

    def holder():
        with run.exclusive():
            held.set()
            time.sleep(0.3)
            order.append("first released")

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(timeout=10)
    with run.exclusive():
        order.append("second entered")
    thread.join()
    assert order == ["first released", "second entered"]
