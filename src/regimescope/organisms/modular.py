"""The modular-addition organism: the one-layer transformer of "The Clock and the Pizza"
(Zhong, Liu, Tegmark, Andreas 2023, arXiv 2306.17844), built as ``Transformer`` in
``code/train-main.py`` of fjzzq2002/pizza (commit b78c0e6), with its attention rate α.

The input is the two operand tokens [a, b] (no "=" token: the paper's default
``eqn_sign=0``; one shared vocabulary of p tokens: ``diff_vocab=0``); the logits are read at
the last position (b), over the p answer classes. One block, residual stream of ``width``:

    x₀ = W_E[tokens] + W_pos                     (token embedding + learned positions)
    x₁ = x₀ + Attn(x₀)                           (``heads`` heads of width // heads, no biases)
    x₂ = x₁ + W_out ReLU(W_in x₁ + b_in) + b_out (``mlp_width`` units)
    logits = x₂[last] W_U

with no LayerNorm anywhere (the paper's ``use_ln`` is accepted and unused) and no causal
mask (its ``mask`` buffer is registered and unused): both positions attend to both. The
attention pattern of each head is

    A = α · softmax(q kᵀ / √d_head) + (1 − α)

exactly as the paper's code writes it (``normalized*attn_coeff + (1-attn_coeff)``): the
non-attentive part adds 1 to every entry, so at α = 0 each position *sums* the two values
(a mean over the sequence would add (1 − α) / 2 and halve the value path at α = 0).
At α = 0 the logits do not depend on W_Q, W_K at all. Only the last position is carried
past the attention (the paper computes both; in one layer the first position's MLP output
never reaches the logits, so the logits and their gradients are the same, at half the
cost). The initialisation is the paper's (Gaussian, scaled as in its ``Embed``,
``PosEmbed``, ``Attention``, ``MLP``, ``Unembed``).

Departures from the paper's code: the embedding table is stored [p, width] (the paper's
W_E is [width, p]) so it reads as the embedding table of ``instruments.clock_pizza``, and
the draw comes from a private generator seeded by ``seed`` (the paper uses the global RNG
unseeded), so the weights differ draw for draw but not in distribution. The ReLU may be
swapped for GELU (a quarter of the paper's sweep used GeLU). The "=" token, the separate
vocabulary for b and deeper models of its sweep are not built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from regimescope.errors import BadInput, choose

ACTIVATIONS = {"relu": torch.relu, "gelu": torch.nn.functional.gelu}
CONTEXT = 2  # positions: the operands a and b


@dataclass(frozen=True)
class ModularConfig:
    p: int = 31  # modulus: operand tokens 0..p − 1 and p answer classes (the paper: 59)
    width: int = 128  # d_model, the residual stream (the paper's default 128)
    heads: int = 4  # attention heads, each of width // heads (the paper: 4)
    mlp_width: int = 512  # hidden units of the MLP block (the paper: 4 · width)
    attention_alpha: float = 1.0  # α: pattern = α · softmax + (1 − α); 1 attentive, 0 constant
    activation: str = "relu"  # one of ACTIVATIONS (the paper: ReLU, GeLU in a quarter of runs)


def check_modular(cfg: ModularConfig) -> None:
    """BadInput for a config that cannot be built."""
    choose("activation", cfg.activation, ACTIVATIONS)
    if cfg.p < 2:
        raise BadInput(f"the modulus p must be at least 2, got {cfg.p}")
    if min(cfg.width, cfg.heads, cfg.mlp_width) <= 0:
        raise BadInput("width, heads and mlp_width must be positive")
    if cfg.width % cfg.heads:
        raise BadInput(f"width {cfg.width} is not a multiple of heads {cfg.heads}")
    if not 0.0 <= cfg.attention_alpha <= 1.0:
        raise BadInput(f"attention_alpha must lie in [0, 1], got {cfg.attention_alpha}")


def modular_parameters(cfg: ModularConfig) -> int:
    """Number of parameters of the model of ``cfg``, without building it."""
    d, m = cfg.width, cfg.mlp_width
    embeddings = 2 * cfg.p * d + CONTEXT * d  # W_E, W_U, W_pos
    attention = 4 * d * d  # W_Q, W_K, W_V: heads · d_head · d each; W_O: d · heads · d_head
    return embeddings + attention + 2 * m * d + m + d  # + W_in, W_out, b_in, b_out


class ModularTransformer(torch.nn.Module):
    """The paper's one-layer transformer on [a, b] (see the module docstring)."""

    def __init__(self, cfg: ModularConfig, seed: int = 0) -> None:
        check_modular(cfg)
        super().__init__()
        self.cfg = cfg
        g = torch.Generator().manual_seed(seed)
        d, m, h, dh = cfg.width, cfg.mlp_width, cfg.heads, cfg.width // cfg.heads

        def gaussian(*shape: int, scale: float) -> torch.nn.Parameter:
            return torch.nn.Parameter(torch.randn(*shape, generator=g) / math.sqrt(scale))

        self.W_E = gaussian(cfg.p, d, scale=d)  # [p, d]: row t embeds token t
        self.W_pos = gaussian(CONTEXT, d, scale=d)  # [2, d]
        self.W_Q = gaussian(h, dh, d, scale=d)  # [heads, d_head, d]
        self.W_K = gaussian(h, dh, d, scale=d)
        self.W_V = gaussian(h, dh, d, scale=d)
        self.W_O = gaussian(d, h * dh, scale=d)  # [d, heads · d_head]
        self.W_in = gaussian(m, d, scale=m)  # [mlp, d]
        self.b_in = torch.nn.Parameter(torch.zeros(m))
        self.W_out = gaussian(d, m, scale=d)  # [d, mlp]
        self.b_out = torch.nn.Parameter(torch.zeros(d))
        self.W_U = gaussian(d, cfg.p, scale=cfg.p)  # [d, p]

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token embeddings [n, 2, d] of ``tokens`` [n, 2] (before the positions are added:
        the x_a, x_b of gradient symmetricity)."""
        return self.W_E[tokens]  # [n, 2, d]

    def heads_of(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Per-head projection [..., heads, s, d_head] of x [..., s, d] by W_Q, W_K or W_V."""
        flat = x @ weight.flatten(0, 1).T  # [..., s, heads · d_head]
        return flat.unflatten(-1, weight.shape[:2]).transpose(-3, -2)  # [..., h, s, d_head]

    def pattern(self, x: torch.Tensor, queries: slice = slice(None)) -> torch.Tensor:
        """Attention pattern [..., heads, queries, 2 (key)] on residual stream x [..., 2, d]
        (all positions as queries by default)."""
        q = self.heads_of(x[..., queries, :], self.W_Q)  # [..., heads, queries, d_head]
        k = self.heads_of(x, self.W_K)  # [..., heads, 2, d_head]
        scores = (q[..., :, None, :] * k[..., None, :, :]).sum(-1)  # [..., h, queries, 2]
        scores = scores / math.sqrt(q.shape[-1])  # broadcast, not bmm: faster for 2 keys
        alpha = self.cfg.attention_alpha
        return alpha * torch.softmax(scores, dim=-1) + (1.0 - alpha)

    def attention(self, x: torch.Tensor, queries: slice = slice(None)) -> torch.Tensor:
        """The attention block's output [..., queries, d] on residual stream x [..., 2, d]."""
        v = self.heads_of(x, self.W_V)  # [..., heads, 2, d_head]
        pattern = self.pattern(x, queries)  # [..., heads, queries, 2]
        z = (pattern[..., None] * v[..., None, :, :]).sum(-2)  # [..., h, queries, d_head]
        z = z.transpose(-3, -2).flatten(-2)  # [..., queries, heads · d_head]
        return z @ self.W_O.T  # [..., queries, d]

    def stream(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The activations at the last position from token embeddings x [..., 2, d]:
        embed, attn_out, resid_mid, mlp_out, final [..., d]; neurons [..., mlp_width].

        Only the last position is carried through the block: in one layer, nothing the
        first position computes after its attention reaches the logits read at the last."""
        resid_pre = x + self.W_pos  # [..., 2, d]
        attn_out = self.attention(resid_pre, slice(-1, None))[..., 0, :]  # [..., d]
        resid_mid = resid_pre[..., -1, :] + attn_out  # [..., d]
        neurons = ACTIVATIONS[self.cfg.activation](resid_mid @ self.W_in.T + self.b_in)
        mlp_out = neurons @ self.W_out.T + self.b_out  # [..., d]
        return {
            "embed": resid_pre[..., -1, :],
            "attn_out": attn_out,
            "resid_mid": resid_mid,
            "neurons": neurons,
            "mlp_out": mlp_out,
            "final": resid_mid + mlp_out,
        }

    def logits_from_embeddings(self, x_a: torch.Tensor, x_b: torch.Tensor) -> torch.Tensor:
        """Logits [..., p] at the last position from operand embeddings x_a, x_b [..., d]
        (the ``logit_fn`` of ``instruments.clock_pizza.gradient_symmetricity``)."""
        x = torch.stack([x_a, x_b], dim=-2)  # [..., 2, d]
        return self.stream(x)["final"] @ self.W_U  # [..., p]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Logits [n, p] at the last position of ``tokens`` [n, 2] (operands a, b)."""
        x = self.embed(tokens)  # [n, 2, d]
        return self.logits_from_embeddings(x[:, 0], x[:, 1])

    def residual(self, tokens: torch.Tensor) -> dict[str, torch.Tensor]:
        """Named activations at the last position of ``tokens`` [n, 2], for CKA: embed,
        attn_out, resid_mid, mlp_out, final [n, d]; neurons [n, mlp_width]."""
        return self.stream(self.embed(tokens))


def build_modular(cfg: ModularConfig, seed: int = 0) -> ModularTransformer:
    """A freshly initialised model of ``cfg``, deterministic in ``seed``."""
    return ModularTransformer(cfg, seed)
