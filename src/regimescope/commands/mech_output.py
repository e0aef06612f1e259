"""What ``probe`` and ``patch`` share: the ``--sites`` option and the layer × position heatmap."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from regimescope.errors import BadInput
from regimescope.instruments.sites import KINDS


def parse_kinds(text: str) -> list[str]:
    """Comma-separated site kinds, each one of ``sites.KINDS``."""
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    if not kinds or any(k not in KINDS for k in kinds):
        raise BadInput(f"bad --sites {text!r}; give a comma-separated list of: {', '.join(KINDS)}")
    return kinds


def parse_positions(text: str | None) -> list[int] | None:
    """Comma-separated token indices (negative from the end), or None."""
    if text is None:
        return None
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        raise BadInput(f"bad --positions {text!r}; give integers such as -3,-2,-1") from None


def parse_layers(text: str | None, names: list[str]) -> list[str]:
    """``names`` kept to the comma-separated layers of ``text`` (None: all), or BadInput."""
    if text is None:
        return names
    try:
        layers = {int(part) for part in text.split(",")}
    except ValueError:
        raise BadInput(f"bad --layers {text!r}; give block indices such as 0,4,8") from None
    kept = [n for n in names if int(n.split(".")[1]) in layers]
    found = {int(n.split(".")[1]) for n in kept}
    if found != layers:
        raise BadInput(f"--layers {text!r}: the model has no block(s) {sorted(layers - found)}")
    return kept


def layer_labels(names: Sequence[str], kinds: Sequence[str]) -> list[str]:
    """The block index of each heatmap row: the layers of the first kind's sites."""
    return [n.split(".")[1] for n in names if n.endswith(f"hook_{kinds[0]}")]


def heatmap_png(
    panels: Sequence[tuple[str, np.ndarray]],
    columns: Sequence[str],
    rows: Sequence[str],
    xlabel: str,
    colorbar: str,
    limits: tuple[float, float],
) -> bytes:
    """One heatmap per (title, [layers, positions] array), side by side, as PNG bytes: rows
    the layers (labelled ``rows``), columns the positions (labelled ``columns``), a
    diverging colour map over ``limits``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = panels[0][1].shape[0]
    width = 1.5 + 0.45 * len(columns) * len(panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(width, 1.2 + 0.4 * layers), squeeze=False)
    for ax, (title, values) in zip(axes[0], panels, strict=True):
        image = ax.imshow(values, vmin=limits[0], vmax=limits[1], cmap="RdBu_r", origin="lower")
        ax.set(title=title, xlabel=xlabel, ylabel="layer")
        ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=7)
        ax.set_yticks(range(layers), rows)
    fig.colorbar(image, ax=axes[0].tolist(), label=colorbar)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
