"""The shared sampler: every completion the lab draws, for training and for measuring.

- ``decode``: n completions per prompt with the prompt's forward pass done once
  (``sample``, ``SamplingConfig``, ``Completion``, ``HFSampler``);
- ``tokens``: the counter-based draw of one token (same seed, same samples, any batch);
- ``prefix_attention``: cascade attention that reads one copy of a prompt's keys;
- ``cache``: completions kept on disk, keyed by weights, prompts, config and this
  package's source, so a rerun redraws nothing.
"""

from regimescope.sampler.decode import Completion, HFSampler, Sampler, SamplingConfig, sample

__all__ = ["Completion", "HFSampler", "Sampler", "SamplingConfig", "sample"]
