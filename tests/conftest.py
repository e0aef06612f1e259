"""Shared fixtures: a quiet transformers, a temporary run store per test."""

from __future__ import annotations

import pytest
import torch
from transformers.utils import logging as hf_logging

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()
torch.set_num_threads(1)  # tests compare bit-identical runs; keep the thread count fixed


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh, empty run store for one test (and no committed findings: a report or demo
    in a test shows only what the test ran)."""
    root = tmp_path / "runs"
    monkeypatch.setenv("REGIMESCOPE_STORE", str(root))
    monkeypatch.setenv("REGIMESCOPE_FINDINGS", str(tmp_path / "findings"))
    return root


@pytest.fixture(scope="session")
def real_model():
    """The folder of a real pretrained instruct model (SmolLM2-135M-Instruct, fp32
    safetensors, BPE tokenizer with a chat template); see tests/real_model.py."""
    from tests.real_model import real_model_dir

    try:
        return real_model_dir()
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def inline_sweep(tmp_path_factory) -> dict:
    """The verdict of tests/sweep.py's study run inline (once per session)."""
    from tests.sweep import inline_verdict

    return inline_verdict(tmp_path_factory.mktemp("inline") / "runs")
