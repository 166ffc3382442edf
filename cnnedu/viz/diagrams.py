"""Block diagrams drawn as boxes and arrows: where a unit sits inside a residual unit."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from cnnedu.viz._style import _styled

SE_POSITION_TITLES = {
    None: "(a) residual unit",
    "standard": "(b) standard SE",
    "pre": "(c) SE-PRE",
    "post": "(d) SE-POST",
    "identity": "(e) SE-Identity",
}
_SE_COLOUR, _RESIDUAL_COLOUR = "#f4a582", "#92c5de"


def _box(ax: Axes, x: float, y: float, text: str, colour: str) -> None:
    ax.add_patch(FancyBboxPatch((x - 0.16, y - 0.05), 0.32, 0.1, boxstyle="round,pad=0.01", fc=colour, ec="k"))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax: Axes, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "lw": 1.2})


def se_unit(ax: Axes, position: str | None) -> None:
    """Draw one residual unit with the SE unit where ``SEBottleneck(position=...)`` puts it (Hu et al., Fig. 5).

    The input splits into the residual branch (left) and the identity path (right), which meet at ⊕.
    ``"pre"`` puts SE on the residual branch before the residual layers, the identity path untouched;
    ``"standard"`` after them; ``"identity"`` on the identity path; ``"post"`` after the sum; ``None`` no SE.
    """
    if position not in SE_POSITION_TITLES:
        raise ValueError(f"position must be one of {tuple(SE_POSITION_TITLES)}, got {position!r}")
    top = 0.9
    _arrow(ax, 0.5, 0.98, 0.5, top)  # the unit's input, then the split into two paths
    ax.plot([0.5, 0.3], [top, top - 0.06], "k-", lw=1.2)
    ax.plot([0.5, 0.75], [top, top - 0.06], "k-", lw=1.2)
    branch = top - 0.06
    if position == "pre":  # on the residual branch, before the residual layers
        _box(ax, 0.3, 0.74, "SE", _SE_COLOUR)
        _arrow(ax, 0.3, branch, 0.3, 0.79)
        branch = 0.69
    res_y = 0.56 if position == "pre" else 0.64
    _box(ax, 0.3, res_y, "Residual", _RESIDUAL_COLOUR)
    _arrow(ax, 0.3, branch, 0.3, res_y + 0.05)
    low = res_y - 0.05
    if position == "standard":  # on the residual branch, after the residual layers
        _box(ax, 0.3, 0.44, "SE", _SE_COLOUR)
        _arrow(ax, 0.3, low, 0.3, 0.49)
        low = 0.39
    _arrow(ax, 0.3, low, 0.46, 0.3)
    ident_low = top - 0.06
    if position == "identity":
        _box(ax, 0.75, 0.55, "SE", _SE_COLOUR)
        _arrow(ax, 0.75, ident_low, 0.75, 0.6)
        ident_low = 0.5
    _arrow(ax, 0.75, ident_low, 0.54, 0.3)
    ax.text(0.5, 0.27, "⊕", ha="center", va="center", fontsize=16)
    _arrow(ax, 0.5, 0.23, 0.5, 0.15 if position == "post" else 0.05)
    if position == "post":
        _box(ax, 0.5, 0.1, "SE", _SE_COLOUR)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")


@_styled
def se_positions(positions: Sequence[str | None] = tuple(SE_POSITION_TITLES)) -> Figure:
    """The residual unit and the SE positions of Hu et al. (arXiv:1709.01507), Fig. 5 / Table 14, side by side."""
    positions = list(positions)
    if not positions:
        raise ValueError(f"positions must list at least one of {tuple(SE_POSITION_TITLES)}")
    fig, axes = plt.subplots(1, len(positions), figsize=(2.4 * len(positions), 3.6), squeeze=False,
                             layout="constrained")
    for ax, pos in zip(axes[0], positions, strict=True):
        se_unit(ax, pos)
        ax.set_title(SE_POSITION_TITLES[pos], fontsize=10)
    fig.suptitle("Where the SE unit goes in a residual unit (Hu et al., Fig. 5; as cnnedu builds them)")
    return fig
