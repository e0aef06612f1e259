"""Gradient symmetricity and distance irrelevance: the two metrics that tell the Clock from
the Pizza in a model computing c = (a + b) mod p (Zhong, Liu, Tegmark, Andreas 2023, "The
Clock and the Pizza: Two Stories in Mechanistic Explanation of Neural Networks", NeurIPS,
arXiv 2306.17844; definitions checked against ``code/eval-main.ipynb`` of fjzzq2002/pizza,
commit 4c7f2f3).

With x_a, x_b the input embedding vectors of the two operand tokens (the token embeddings,
before any positional embedding is added; ``forward_h`` in the notebook) and Q_c the output
logit of class c (raw logit, not log-probability):

    gradient symmetricity = (1/N) Σ_{(a, b, c)} cos(∂Q_c/∂x_a, ∂Q_c/∂x_b)

over N = 100 triples drawn without replacement from all p³, in the notebook's order
(``random.Random(42).shuffle`` of the list of (a, b, c) in row-major order, first N). Unit:
cosine, in [−1, 1]. A Pizza reads its inputs through x_a + x_b, so both gradients coincide
(≈ 1); a Clock multiplies the two operands' rotations, so the gradients differ by a rotation
of angle ω(a − b) and average towards 0.

With Q[a, b] the logit of the correct answer (a + b) mod p for every input pair, reindexed
as Q[s, d] with s = (a + b) mod p, d = (a − b) mod p:

    distance irrelevance = mean_d std_s Q[s, d] / std_{s,d} Q[s, d]

with population standard deviations (numpy's default, ddof = 0; ``np.mean(np.std(oo,
axis=0)) / np.std(oo.flatten())`` in the notebook, whose ``oo`` is indexed [s][d]).
Dimensionless, ≥ 0; 1 when the correct logit depends on s alone (Clock), 0 when it depends
on d alone (Pizza, whose correct logit carries a factor |cos(ω(a − b)/2)|).

Departures from the notebook: p must be odd (the paper uses the prime 59); for even p the
map (a, b) → (s, d) is not one-to-one and the notebook silently overwrites cells of its
table, here it is an error. A zero gradient, where the notebook would average a NaN, is an
error, as is a constant logit table, where distance irrelevance is 0/0.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import torch

Embedding = torch.Tensor | Callable[[int], torch.Tensor]  # [V, d] table, or token -> [d]
LogitFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_a [d], x_b [d]) -> [V]
ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (a [n], b [n]) -> [n, V]


def sample_triples(p: int, samples: int = 100, seed: int = 42) -> list[tuple[int, int, int]]:
    """``samples`` distinct (a, b, c) in [0, p)³, exactly the notebook's draw for seed 42.

    Shuffling the row-major indices of the p³ triples gives the same permutation as the
    notebook's shuffle of the triples themselves (``shuffle`` only depends on the length)."""
    if not 0 < samples <= p**3:
        raise ValueError(f"samples must lie in [1, p³ = {p**3}], got {samples}")
    order = list(range(p**3))
    random.Random(seed).shuffle(order)
    return [(i // (p * p), i // p % p, i % p) for i in order[:samples]]


def _leaf(embedding: Embedding, token: int) -> torch.Tensor:
    vector = embedding[token] if isinstance(embedding, torch.Tensor) else embedding(token)
    if vector.dim() != 1:
        raise ValueError(f"an embedding vector must be 1-D [d], got shape {tuple(vector.shape)}")
    return vector.detach().clone().requires_grad_(True)


def _cosine(u: torch.Tensor, v: torch.Tensor) -> float:
    u, v = u.double().flatten(), v.double().flatten()
    return float(u @ v / (torch.linalg.vector_norm(u) * torch.linalg.vector_norm(v)))


def gradient_cosine(logit_fn: LogitFn, x_a: torch.Tensor, x_b: torch.Tensor, c: int) -> float:
    """cos(∂Q_c/∂x_a, ∂Q_c/∂x_b) at one input; ``x_a``, ``x_b`` are leaves needing grad."""
    with torch.enable_grad():
        logits = logit_fn(x_a, x_b)
        if logits.dim() != 1 or logits.shape[0] <= c:
            raise ValueError(
                f"logit_fn must return a 1-D tensor of logits [V] with V > {c}, "
                f"got shape {tuple(logits.shape)}"
            )
        grads = torch.autograd.grad(logits[c], (x_a, x_b), allow_unused=True)
    if any(g is None or not bool(g.any()) for g in grads):
        raise ValueError(f"∂Q_{c}/∂x is zero for an operand; the cosine is undefined")
    return _cosine(*grads)


def gradient_symmetricity(
    logit_fn: LogitFn,
    embedding: Embedding,
    p: int,
    samples: int = 100,
    seed: int = 42,
    embedding_b: Embedding | None = None,
) -> float:
    """Mean of cos(∂Q_c/∂x_a, ∂Q_c/∂x_b) over ``sample_triples(p, samples, seed)``.

    ``logit_fn(x_a, x_b)`` takes the two operand embedding vectors [d] and returns the
    logits [V ≥ p] at the answer position: the caller wraps its model so that the token
    embeddings are inputs (add positions, run the blocks, unembed). ``embedding`` is the
    embedding table [V, d] (row t embeds token t) or a function token -> [d];
    ``embedding_b`` embeds the second operand where it has its own tokens (the notebook's
    ``diff_vocab``), and defaults to ``embedding``. The seed 42 reproduces the notebook's
    triples. Call it with the model in eval mode. For the notebook's model, say:

        def logit_fn(x_a, x_b):
            x = model.pos_embed(torch.stack([x_a, x_b])[None])  # [1, 2, d]
            for block in model.blocks:
                x = block(x)
            return model.unembed(x)[0, -1]  # [V]

        gradient_symmetricity(logit_fn, model.embed.W_E.T, p)  # W_E is [d, V]
    """
    embedding_b = embedding if embedding_b is None else embedding_b
    for table in (embedding, embedding_b):
        if isinstance(table, torch.Tensor) and (table.dim() != 2 or table.shape[0] < p):
            raise ValueError(f"an embedding table must be [V ≥ {p}, d], got {tuple(table.shape)}")
    total = 0.0
    triples = sample_triples(p, samples, seed)
    for a, b, c in triples:
        total += gradient_cosine(logit_fn, _leaf(embedding, a), _leaf(embedding_b, b), c)
    return total / len(triples)


def correct_logit_table(model_fn: ModelFn, p: int) -> torch.Tensor:
    """Q[a, b] = logit of the correct class (a + b) mod p, float64 [p, p].

    ``model_fn(a, b)`` takes two int64 tensors of operand tokens [n] and returns the logits
    at the answer position [n, V ≥ p]; it is called once on all p² pairs, without grad."""
    a = torch.arange(p).repeat_interleave(p)  # [p²]: 0,0,…,1,1,…
    b = torch.arange(p).repeat(p)  # [p²]: 0,1,…,0,1,…
    with torch.no_grad():
        logits = model_fn(a, b)
    if logits.dim() != 2 or logits.shape[0] != p * p or logits.shape[1] < p:
        raise ValueError(
            f"model_fn must return logits [p² = {p * p}, V ≥ {p}], got {tuple(logits.shape)}"
        )
    correct = logits.gather(1, ((a + b) % p).to(logits.device)[:, None])  # [p², 1]
    return correct.detach().double().cpu().reshape(p, p)  # [a, b]


def _as_table(correct_logits: torch.Tensor | np.ndarray, p: int) -> torch.Tensor:
    q = torch.as_tensor(correct_logits).detach().cpu().double()
    if q.shape != (p, p):
        raise ValueError(f"correct_logits must be [p, p] = [{p}, {p}], got {tuple(q.shape)}")
    if p % 2 == 0 or p < 3:
        raise ValueError(f"p must be odd and ≥ 3 for (a, b) -> (a+b, a−b) to be one-to-one: {p}")
    return q


def sum_difference_table(correct_logits: torch.Tensor | np.ndarray, p: int) -> torch.Tensor:
    """Reindex Q[a, b] [p, p] as Q[s, d], s = (a + b) mod p, d = (a − b) mod p (p odd)."""
    q = _as_table(correct_logits, p)
    a, b = torch.arange(p)[:, None], torch.arange(p)[None, :]  # broadcast to [p, p]
    out = torch.empty_like(q)
    out[(a + b) % p, (a - b) % p] = q  # one-to-one for odd p
    return out


def distance_irrelevance(correct_logits: torch.Tensor | np.ndarray, p: int) -> float:
    """mean_d std_s Q[s, d] / std Q of the correct-logit table Q[a, b] [p, p] (see the
    module docstring); population standard deviations. Clock ≈ 1, Pizza low."""
    q = sum_difference_table(correct_logits, p)  # [s, d]
    spread = q.std(correction=0)
    if spread == 0:
        raise ValueError("the correct logits are constant; distance irrelevance is 0/0")
    return float(q.std(dim=0, correction=0).mean() / spread)  # std over s, mean over d
