"""Instruments: pure functions over tensors, samples and checkpoints that measure a run."""
