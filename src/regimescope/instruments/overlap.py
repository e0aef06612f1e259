"""Overlap of the changed-parameter masks of two runs from one base, against chance.

For masks A and B over the same n parameters, with |A| = a, |B| = b, densities
p = a/n and q = b/n:

- Jaccard J = |A∩B| / |A∪B|; intersection over the smaller O = |A∩B| / min(a, b).
- Chance: if A and B were drawn uniformly at random and independently at those sizes,
  each of A's a elements lands in B with probability b/n, so E|A∩B| = ab/n = npq, and
  E|A∪B| = a + b − E|A∩B| = n(p + q − pq). Then:
  - chance O = E|A∩B| / min(a, b) = max(p, q). This is exact, because min(a, b) is fixed.
  - chance J ≈ E|A∩B| / E|A∪B| = pq / (p + q − pq). This is the ratio of expectations,
    which differs from E[J] by O(1/n).
- Chance per tensor (``*_by_tensor``): densities differ across tensors; norms, for
  example, are often untouched. A global density then understates the overlap that
  independent runs reach anyway. Summing E|A∩B| = Σ_t a_t b_t / n_t over tensors t
  conditions on each tensor's density; this is the stricter baseline.

The overlap figures of Mukherjee et al. 2025 (arXiv 2505.11711) are compared with
"chance at the same density"; the paper's exact one-sided formula was not verified, and
these are the two-sided expectations above. All figures are unitless fractions in
[0, 1]; a figure whose denominator is zero is NaN.
"""

from __future__ import annotations

import math


def chance_jaccard(p: float, q: float) -> float:
    """pq / (p + q − pq): the Jaccard index independent masks of densities p, q reach.

    >>> chance_jaccard(0.5, 0.5)
    0.3333333333333333
    """
    union = p + q - p * q
    return p * q / union if union > 0 else math.nan


def chance_overlap_min(p: float, q: float) -> float:
    """max(p, q): the intersection over the smaller mask that independent masks reach.

    >>> chance_overlap_min(0.1, 0.3)
    0.3
    """
    return max(p, q) if min(p, q) > 0 else math.nan


def overlap_figures(
    params: int, changed_a: int, changed_b: int, intersection: int, expected_by_tensor: float
) -> dict[str, float | int]:
    """Observed and chance overlap of two masks over ``params`` elements.

    ``expected_by_tensor`` is Σ_t a_t b_t / n_t over the tensors that make up the masks.

    >>> f = overlap_figures(100, 10, 20, 5, 2.0)
    >>> f["jaccard"], f["overlap_min"], f["chance_overlap_min"]
    (0.2, 0.5, 0.2)
    """
    p, q = changed_a / params if params else 0.0, changed_b / params if params else 0.0
    union = changed_a + changed_b - intersection
    smaller = min(changed_a, changed_b)
    union_by_tensor = changed_a + changed_b - expected_by_tensor
    return {
        "params": params,
        "changed_a": changed_a,
        "changed_b": changed_b,
        "intersection": intersection,
        "jaccard": intersection / union if union else math.nan,
        "overlap_min": intersection / smaller if smaller else math.nan,
        "chance_jaccard": chance_jaccard(p, q),
        "chance_overlap_min": chance_overlap_min(p, q),
        "chance_jaccard_by_tensor": expected_by_tensor / union_by_tensor
        if union_by_tensor > 0
        else math.nan,
        "chance_overlap_min_by_tensor": expected_by_tensor / smaller if smaller else math.nan,
    }
