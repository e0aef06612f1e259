"""A model whose mechanism is planted by hand, for the mechanism instruments' tests.

A one-block ``LlamaForCausalLM`` whose attention and MLP write nothing (their output
projections are zero), so the residual stream at the last token is that token's embedding.
Each of ``TYPES`` letters carries two binary features: x (the variable the model uses) along
a direction u, and z (a feature correlated with x, 80% equal, but unused) along v:

    embedding(letter) = x·u + z·v + n_letter + C·w

with n_letter a unit vector in the span of the remaining directions (so every letter is its
own type) and C·w a constant that dominates the norm. Every letter's embedding has the same
norm, so the final RMSNorm is the same division for all of them. The unembedding reads u
only: logit("1") = a·u·ĥ, logit("0") = −a·u·ĥ, every other logit 0. So the answer is "1"
when x = +1 and "0" when x = −1, and z never matters. The basis (u, v, w, rest) is a random
rotation, not the coordinate axes.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from regimescope.organisms.tokenizer import SPECIAL_TOKENS, build_tokenizer
from regimescope.tasks.encode import encode_prompt

TYPES = 40
LETTERS = string.ascii_letters[:TYPES]
ALPHABET = "01" + LETTERS
WIDTH = 16


@dataclass(frozen=True)
class Planted:
    model: LlamaForCausalLM
    tokenizer: object
    x: dict[str, int]  # letter -> 1 or 0 (the used variable; the answer token)
    z: dict[str, int]  # letter -> 1 or 0 (correlated, unused)
    u: torch.Tensor  # [d] unit direction of x
    v: torch.Tensor  # [d] unit direction of z


def planted(seed: int = 0, norm_constant: float = 4.0, readout: float = 8.0) -> Planted:
    tokenizer = build_tokenizer(ALPHABET)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=WIDTH,
        intermediate_size=2 * WIDTH,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        max_position_embeddings=16,
        tie_word_embeddings=False,
        pad_token_id=SPECIAL_TOKENS.index("<pad>"),
        bos_token_id=SPECIAL_TOKENS.index("<bos>"),
        eos_token_id=SPECIAL_TOKENS.index("<eos>"),
    )
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    q, _ = torch.linalg.qr(torch.randn(WIDTH, WIDTH, generator=gen))
    u, v, w, rest = q.T[0], q.T[1], q.T[2], q.T[3:]  # orthonormal rows
    x_sign = torch.tensor([1.0, -1.0]).repeat(TYPES // 2)[torch.randperm(TYPES, generator=gen)]
    flip = torch.rand(TYPES, generator=gen) < 0.2
    z_sign = torch.where(flip, -x_sign, x_sign)
    noise = torch.randn(TYPES, WIDTH - 3, generator=gen)
    noise = (noise / noise.norm(dim=1, keepdim=True)) @ rest  # [TYPES, d], unit, ⟂ u, v, w
    with torch.no_grad():
        embed = model.model.embed_tokens.weight
        embed.copy_(norm_constant * w.expand_as(embed))
        for i, letter in enumerate(LETTERS):
            row = tokenizer.convert_tokens_to_ids(letter)
            embed[row] += x_sign[i] * u + z_sign[i] * v + noise[i]
        model.model.layers[0].self_attn.o_proj.weight.zero_()
        model.model.layers[0].mlp.down_proj.weight.zero_()
        head = model.lm_head.weight
        head.zero_()
        head[tokenizer.convert_tokens_to_ids("1")] = readout * u
        head[tokenizer.convert_tokens_to_ids("0")] = -readout * u
    x = {letter: int(s > 0) for letter, s in zip(LETTERS, x_sign, strict=True)}
    z = {letter: int(s > 0) for letter, s in zip(LETTERS, z_sign, strict=True)}
    return Planted(model, tokenizer, x, z, u, v)


def prompts(contexts: int = 10, seed: int = 0) -> list[str]:
    """Two-letter prompts: a context letter (which cannot matter) then a type letter."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for letter in LETTERS:
        picks = torch.randint(0, TYPES, (contexts,), generator=gen).tolist()
        out += [LETTERS[c] + letter for c in picks]
    return out


def ids(toy: Planted, texts: list[str]) -> torch.Tensor:
    """[N, T] token ids (BOS first) of equal-length prompts."""
    return torch.tensor([encode_prompt(toy.tokenizer, t) for t in texts])


def answer_ids(toy: Planted, letters: list[str], variable: str = "x") -> torch.Tensor:
    """[N] the id of the answer ("1" / "0") each letter's variable gives."""
    values = toy.x if variable == "x" else toy.z
    return torch.tensor([toy.tokenizer.convert_tokens_to_ids(str(values[c])) for c in letters])
