"""Model organisms: tiny causal LMs that *are* Hugging Face ``LlamaForCausalLM`` models.

Built from a config, nothing downloaded. One size dial, ``width``, sets the rest:
heads = width // 16 (head size 16), MLP width = 4 * width, depth from the preset.
Because an organism is a plain transformers model, every instrument that runs on it
runs unchanged on a user's real checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from regimescope.errors import choose
from regimescope.organisms.tokenizer import SPECIAL_TOKENS, build_tokenizer


@dataclass(frozen=True)
class OrganismConfig:
    width: int = 64  # d_model; heads = width // 16, MLP width = 4 * width
    depth: int = 3  # number of transformer blocks
    context: int = 256  # max positions (longest prompt + completion, in tokens)
    tie_embeddings: bool = True  # share input embedding and LM head (saves params at tiny size)


def nano() -> OrganismConfig:
    """~50k parameters: smoke tests, instant training."""
    return OrganismConfig(width=32, depth=3)


def micro() -> OrganismConfig:
    """~200k parameters: the default for quick studies."""
    return OrganismConfig(width=64, depth=3)


def small() -> OrganismConfig:
    """~1M parameters: enough to learn the arithmetic mixture in minutes on CPU."""
    return OrganismConfig(width=128, depth=4)


PRESETS = {"nano": nano, "micro": micro, "small": small}


def preset(name: str) -> OrganismConfig:
    """The named preset's config; BadInput lists the valid names."""
    choose("preset", name, PRESETS)
    return PRESETS[name]()


def llama_config(cfg: OrganismConfig, vocab_size: int) -> LlamaConfig:
    """The transformers config of an organism (BOS/EOS/PAD ids follow the tokenizer)."""
    heads = max(1, cfg.width // 16)
    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.width,
        intermediate_size=4 * cfg.width,
        num_hidden_layers=cfg.depth,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=cfg.context,
        tie_word_embeddings=cfg.tie_embeddings,
        pad_token_id=SPECIAL_TOKENS.index("<pad>"),
        bos_token_id=SPECIAL_TOKENS.index("<bos>"),
        eos_token_id=SPECIAL_TOKENS.index("<eos>"),
        initializer_range=0.02,
    )


def build_organism(cfg: OrganismConfig, seed: int = 0):
    """A freshly initialised organism and its tokenizer, deterministic in ``seed``."""
    tokenizer = build_tokenizer()
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(cfg, vocab_size=len(tokenizer)))
    return model.float().eval(), tokenizer


def count_parameters(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters())
