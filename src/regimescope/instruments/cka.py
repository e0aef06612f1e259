"""Linear centred kernel alignment (CKA) between two sets of activations of the same inputs
(Kornblith, Norouzi, Lee, Hinton 2019, "Similarity of Neural Network Representations
Revisited", arXiv 1905.00414), and its debiased form.

For activations X [n, d₁] and Y [n, d₂] of n inputs, columns centred:

    CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F · ‖YᵀY‖_F)

which equals HSIC(K, L) / √(HSIC(K, K) · HSIC(L, L)) with K = XXᵀ, L = YYᵀ and
HSIC(K, L) = tr(KHLH) / (n − 1)², H = I − 11ᵀ/n. Dimensionless, in [0, 1]; invariant to
orthogonal transforms and isotropic scaling of either side, not to arbitrary invertible
linear maps. The biased HSIC inflates CKA when n is small against the width; the
debiased form uses the unbiased HSIC estimator (Song et al. 2012, eq. 5; the form of
Nguyen, Raghu, Kornblith 2021, arXiv 2010.15327):

    HSIC₁(K, L) = [tr(K̃L̃) + (1ᵀK̃1)(1ᵀL̃1) / ((n − 1)(n − 2)) − 2 · 1ᵀK̃L̃1 / (n − 2)] / (n(n − 3))

with K̃, L̃ the Gram matrices with their diagonals set to 0 (n ≥ 4). Caveat (Davari et al.
2023, arXiv 2210.16156): CKA is sensitive to a few outlier inputs and can change a lot
without any change of function; read it beside behavioural measures, never alone.
Computed in float64.
"""

from __future__ import annotations

import torch


def _centred(x: torch.Tensor) -> torch.Tensor:
    x = x.double().reshape(x.shape[0], -1)  # [n, d]
    return x - x.mean(dim=0, keepdim=True)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of activations ``x`` [n, ...] and ``y`` [n, ...] of the same n inputs
    (trailing dimensions flattened): ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F) after centring."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y hold {x.shape[0]} and {y.shape[0]} inputs; need the same")
    x, y = _centred(x), _centred(y)
    cross = torch.linalg.matrix_norm(y.T @ x) ** 2  # ‖YᵀX‖²_F; [d₂, d₁] before the norm
    return float(cross / (torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)))


def unbiased_hsic(k: torch.Tensor, l: torch.Tensor) -> torch.Tensor:
    """HSIC₁ of two Gram matrices [n, n] (see the module docstring); n ≥ 4."""
    n = k.shape[0]
    if n < 4:
        raise ValueError(f"the debiased HSIC needs at least 4 inputs, got {n}")
    k, l = k.clone(), l.clone()
    k.fill_diagonal_(0)
    l.fill_diagonal_(0)
    ones = torch.ones(n, dtype=k.dtype, device=k.device)
    trace = (k * l).sum()  # tr(K̃L̃) for symmetric K̃, L̃
    sums = (ones @ k @ ones) * (ones @ l @ ones) / ((n - 1) * (n - 2))
    cross = 2 * (ones @ k @ l @ ones) / (n - 2)
    return (trace + sums - cross) / (n * (n - 3))


def debiased_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """CKA with the unbiased HSIC: HSIC₁(K, L) / √(HSIC₁(K, K) HSIC₁(L, L)), K = XXᵀ, L = YYᵀ
    of the flattened activations; may be slightly negative for unrelated representations."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y hold {x.shape[0]} and {y.shape[0]} inputs; need the same")
    x, y = _centred(x), _centred(y)
    k, l = x @ x.T, y @ y.T  # [n, n] Gram matrices
    return float(unbiased_hsic(k, l) / torch.sqrt(unbiased_hsic(k, k) * unbiased_hsic(l, l)))
