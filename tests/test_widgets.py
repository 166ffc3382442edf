"""The explorers of cnnedu.widgets: numbers against the models and the papers, figures, errors, wrappers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from cnnedu import widgets as W
from cnnedu.analysis import count_macs, count_params, receptive_field


def _texts(fig: Figure) -> str:
    """All text drawn in a figure (titles, labels, legends, table cells), to check what the reader sees."""
    from matplotlib.text import Text

    return " ".join(t.get_text() for t in fig.findobj(Text))


# ---------------------------------------------------------------------------------------------------------
# conv


def test_conv_numbers_three_3x3_equal_one_7x7_and_seed_counts():
    nums = W.conv_numbers(kernel=3, stride=1, padding=1, dilation=1, n_layers=3, size=32, channels=64)
    assert [r["rf"] for r in nums["layers"]] == [3, 5, 7]
    assert nums["layers"][0]["params"] == 3 * 3 * 3 * 64 + 64 == 1792
    assert nums["layers"][1]["params"] == 3 * 3 * 64 * 64 + 64
    assert nums["output"] == 32 and nums["jump"] == 1
    assert nums["layers"][0]["macs"] == 3 * 3 * 3 * 64 * 32 * 32
    # path counts of the centre unit: 1-2-3-2-1 convolved with itself twice -> (1,3,6,7,6,3,1)
    assert nums["paths_1d"].tolist() == [1, 3, 6, 7, 6, 3, 1]
    assert W.conv_numbers(kernel=5, n_layers=1, padding=2)["layers"][0]["params"] == 4864


@pytest.mark.parametrize("k,s,p,d,n,size", [(3, 1, 1, 1, 3, 32), (3, 2, 1, 1, 4, 64), (5, 2, 2, 2, 3, 64),
                                             (7, 1, 0, 3, 2, 40), (1, 1, 0, 1, 2, 8)])
def test_conv_numbers_agree_with_nn_conv2d_stack(k, s, p, d, n, size):
    layers = [nn.Conv2d(3 if i == 0 else 8, 8, k, s, p, d) for i in range(n)]
    model = nn.Sequential(*layers)
    nums = W.conv_numbers(k, s, p, d, n, size, channels=8)
    assert model(torch.zeros(1, 3, size, size)).shape[-1] == nums["output"]
    assert nums["params"] == count_params(model)
    assert nums["macs"] == count_macs(model, (3, size, size))
    rf = receptive_field(model, (3, size, size))
    assert (rf.size, rf.stride) == (nums["rf"], nums["jump"])
    # the input pixels that reach the centre unit span exactly the theoretical field
    assert len(nums["positions"]) == nums["rf"]


def test_conv_paths_match_gradient_of_centre_unit():
    # with all-ones weights and no nonlinearity, d y_centre / d x counts the paths to each input pixel
    k, s, p, d, n, size = 3, 2, 1, 2, 2, 24
    model = nn.Sequential(*[nn.Conv2d(1, 1, k, s, p, d, bias=False) for _ in range(n)])
    for m in model:
        nn.init.ones_(m.weight)
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = model(x)
    c = (y.shape[-1] - 1) // 2
    (grad,) = torch.autograd.grad(y[0, 0, c, c], x)
    nums = W.conv_numbers(k, s, p, d, n, size, channels=1, in_channels=1)
    pos, counts = nums["positions"], nums["paths_1d"]
    inside = (pos >= 0) & (pos < size)
    expected = torch.zeros(size, dtype=torch.float64)
    expected[torch.as_tensor(pos[inside])] = torch.as_tensor(counts[inside], dtype=torch.float64)
    assert torch.equal(grad[0, 0].double(), torch.outer(expected, expected))


def test_conv_numbers_errors_name_the_parameter():
    for name, bad in (("kernel", 0), ("stride", 0), ("padding", -1), ("dilation", 0), ("n_layers", 0),
                      ("size", 0), ("kernel", 2.5), ("stride", True)):
        with pytest.raises(ValueError, match=name):
            W.conv_numbers(**{name: bad})
    with pytest.raises(ValueError, match="n_layers=8: the feature map vanishes at layer"):
        W.conv_numbers(kernel=7, padding=0, n_layers=8, size=32)


@pytest.mark.parametrize("params", [{}, {"kernel": 1, "padding": 0, "n_layers": 1},
                                    {"kernel": 11, "stride": 2, "padding": 5, "n_layers": 4, "size": 64},
                                    {"kernel": 11, "padding": 20, "dilation": 4, "n_layers": 8, "size": 64}])
def test_conv_update_returns_figure(params):
    fig = W.conv_update(**params)
    assert isinstance(fig, Figure)
    nums = W.conv_numbers(**params)
    assert f"Receptive field {nums['rf']} px" in _texts(fig)
    # the table of layers: one row per layer (up to 12), then the totals
    table = next(t.get_text() for t in fig.axes[1].texts if t.get_text().startswith("layer"))
    assert len(table.splitlines()) == 4 + min(len(nums["layers"]), 13)
    total = table.splitlines()[-1].split()
    assert total[:3] == ["total", f"{nums['output']}×{nums['output']}", str(nums["rf"])]
    assert total[4] == f"{nums['params']:,}"


# ---------------------------------------------------------------------------------------------------------
# SE


def test_se_numbers_per_block():
    nums = W.se_numbers(reduction=16, channels=256)
    assert nums["squeeze"] == 16
    assert nums["block_weights"] == 2 * 256**2 // 16 == 8192
    assert nums["block_params"] == 8192 + 16 + 256
    assert nums["block_macs"] == 8192
    assert nums["alt_params"] == nums["block_params"]
    assert nums["alt_macs"] == 8192 * 56 * 56
    assert W.se_numbers(16, 2048)["size"] == 7 and W.se_numbers(16, 100)["size"] == 14


def test_se_numbers_match_blocks_squeeze_excite():
    from cnnedu.blocks import SqueezeExcite

    for c, r in ((256, 16), (64, 3), (2048, 7.5), (100, 100)):
        se = SqueezeExcite(c, r)
        assert W.se_numbers(r, c)["block_params"] == count_params(se)
        assert W.se_numbers(r, c)["block_macs"] == count_macs(se, (c, 7, 7))


@pytest.mark.parametrize("r", [3, 16])
def test_se_numbers_match_se_resnet50_on_meta(r):
    from cnnedu.models import se_resnet

    with torch.device("meta"):
        model = se_resnet(depth=50, reduction=r)
    nums = W.se_numbers(r, 256)
    assert nums["net_params"] == count_params(model)
    assert nums["net_macs"] == count_macs(model)


def test_se_numbers_against_table10():
    for r, paper in W.SE_TABLE10.items():
        nums = W.se_numbers(r, 256)
        assert nums["paper_params_m"] == paper
        assert abs(nums["net_params"] / 1e6 - paper) / paper < 0.005  # r=4: 35.64 M against 35.7 M
    assert W.se_numbers(16, 256)["net_params"] == 28_088_024  # numbers.md
    assert W.se_numbers(3, 256)["paper_params_m"] is None


def test_se_errors_name_reduction():
    for bad in (0, -4, 300, math.inf, "16"):
        with pytest.raises(ValueError, match="reduction"):
            W.se_numbers(bad, 256)
    with pytest.raises(ValueError, match="channels"):
        W.se_numbers(16, 0)
    with pytest.raises(ValueError, match="reduction"):
        W.se_update(reduction=512, channels=256)


@pytest.mark.parametrize("r,c", [(16, 256), (1, 64), (64, 2048), (2048, 2048)])
def test_se_update_returns_figure(r, c):
    fig = W.se_update(r, c)
    assert isinstance(fig, Figure)
    assert f"{W.se_numbers(r, c)['block_weights']:,}" in _texts(fig)


# ---------------------------------------------------------------------------------------------------------
# MobileNet width / resolution


@pytest.mark.parametrize("alpha,res", [(1.0, 224), (0.75, 192), (0.35, 128), (1.3, 160)])
def test_width_numbers_match_mobilenet_v1(alpha, res):
    from cnnedu.models import mobilenet_v1

    with torch.device("meta"):
        model = mobilenet_v1(width_mult=alpha)
    nums = W.width_numbers(alpha, res)
    assert nums["params"] == count_params(model)
    assert nums["macs"] == count_macs(model, (3, res, res))


def test_width_numbers_against_tables_6_and_7():
    nums = W.width_numbers(1.0, 224)
    assert nums["params"] == 4_231_976 and nums["paper_macs_m"] == 569
    for alpha, (macs, params) in W.MOBILENET_TABLE6.items():
        n = W.width_numbers(alpha, 224)
        assert abs(n["macs"] / 1e6 - macs) / macs < 0.01
        assert round(n["params"] / 1e6, 1) == params
    for res, macs in W.MOBILENET_TABLE7.items():
        n = W.width_numbers(1.0, res)
        assert abs(n["macs"] / 1e6 - macs) / macs < 0.01 and n["paper_macs_m"] == macs
    assert W.width_numbers(0.6, 224)["paper_macs_m"] is None


def test_width_errors():
    for bad in (0, -1.0, math.nan):
        with pytest.raises(ValueError, match="alpha"):
            W.width_numbers(bad, 224)
    with pytest.raises(ValueError, match="resolution"):
        W.width_numbers(1.0, 0)


@pytest.mark.parametrize("alpha,res", [(1.0, 224), (0.1, 96), (1.5, 320)])
def test_width_update_returns_figure(alpha, res):
    fig = W.width_update(alpha, res)
    assert isinstance(fig, Figure)
    assert f"{W.width_numbers(alpha, res)['params']:,} parameters" in _texts(fig)


# ---------------------------------------------------------------------------------------------------------
# EfficientNet phi


def test_phi_numbers_formula():
    nums = W.phi_numbers(1.0)
    assert nums["depth"] == pytest.approx(1.2) and nums["width"] == pytest.approx(1.1)
    assert nums["resolution"] == round(1.15 * 224) == 258
    assert nums["flops_base"] == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    assert 1.9 < nums["flops_base"] < 2.0
    b0 = W.phi_numbers(0.0)
    assert (b0["params"], b0["macs"], b0["resolution"]) == (5_288_548, b0["macs"], 224)
    assert b0["macs_ratio"] == 1.0


def test_phi_numbers_match_model_on_meta():
    from cnnedu.models import efficientnet

    with torch.device("meta"):
        model = efficientnet(phi=1.0)
    nums = W.phi_numbers(1.0)
    assert nums["params"] == count_params(model)
    assert nums["macs"] == count_macs(model, (3, nums["resolution"], nums["resolution"]))


def test_phi_released_models_against_table2_and_numbers_md():
    rel = W.phi_numbers()["released"]
    assert rel["b0"]["params"] == 5_288_548 and rel["b7"]["params"] == 66_347_960  # numbers.md
    assert rel["b7"]["resolution"] == 600
    for name, (params_m, gflops) in W.EFFICIENTNET_TABLE2.items():
        assert abs(rel[name]["params"] / 1e6 - params_m) / params_m < 0.06
        assert abs(rel[name]["macs"] / 1e9 - gflops) / gflops < 0.1
    phis = W.phi_numbers()["released_phi"]
    assert phis["b0"] == 0 and list(phis.values()) == sorted(phis.values()) and 6 < phis["b7"] < 7.5


def test_phi_errors():
    with pytest.raises(ValueError, match="phi"):
        W.phi_numbers(-1.0)
    for name in ("alpha", "beta", "gamma"):
        with pytest.raises(ValueError, match=name):
            W.phi_numbers(1.0, **{name: 0.0})


@pytest.mark.parametrize("phi", [0.0, 1.0, 8.0])
def test_phi_update_returns_figure(phi):
    fig = W.phi_update(phi)
    assert isinstance(fig, Figure)
    assert f"{W.phi_numbers(phi)['resolution']} px" in _texts(fig)


# ---------------------------------------------------------------------------------------------------------
# Swish


def test_swish_numbers():
    one = W.swish_numbers(1.0)
    x = torch.linspace(-3, 0, 30001, dtype=torch.float64)
    y = x * torch.sigmoid(x)
    assert one["min"] == pytest.approx(y.min().item(), abs=1e-8)
    assert one["x_min"] == pytest.approx(x[y.argmin()].item(), abs=1e-3)
    assert W.swish_numbers(4.0)["min"] == pytest.approx(one["min"] / 4)
    # large beta approaches ReLU, beta = 0 is the line x / 2
    assert W.swish_numbers(50.0)["max_gap_to_relu"] < 0.01
    assert W.swish_numbers(0.0)["max_gap_to_relu"] == pytest.approx(3.0)


def test_swish_errors_and_figures():
    for bad in (-1.0, math.inf):
        with pytest.raises(ValueError, match="beta"):
            W.swish_numbers(bad)
    for beta in (0.0, 1.0, 10.0):
        fig = W.swish_update(beta)
        assert isinstance(fig, Figure) and f"β = {beta:g}" in _texts(fig)


# ---------------------------------------------------------------------------------------------------------
# Wrappers and benchmark


@pytest.mark.parametrize("name", ["conv", "se", "width", "phi", "swish"])
def test_widgets_build_and_redraw(name, capsys):
    explorer = getattr(W, f"{name}_widget")()
    assert isinstance(explorer.figure, Figure)
    first = explorer.figure
    control = next(iter(explorer.controls.values()))
    options = getattr(control, "options", None)
    control.value = options[0] if options else control.max
    assert explorer.figure is not first and explorer.error is None
    # the first control of se, width, phi and swish is their main slider: it moves on the fast path
    assert explorer.renderer.full_draws == (2 if name == "conv" else 1)


def test_widget_shows_error_instead_of_raising():
    explorer = W.conv_widget()
    explorer.controls["padding"].value = 0
    explorer.controls["kernel"].value = 11
    explorer.controls["n_layers"].value = 8
    assert "vanishes" in explorer.error


def test_benchmark_updates_reports_percentiles():
    result = W.benchmark_updates(n=2)
    assert set(result) == {"conv", "se", "width", "phi", "swish"}
    assert all(0 < v["p50_ms"] <= v["p95_ms"] for v in result.values())
    drawn = W.benchmark_updates(n=3, render=True)
    assert [drawn[k]["full_draws"] for k in ("se", "width", "phi", "swish")] == [0] * 4  # always the fast path
    assert drawn["conv"]["full_draws"] == 3


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


@pytest.mark.parametrize("update, fast, base, moves", [
    (W.se_update, "reduction", {"reduction": 16, "channels": 256}, (2, 64, 5)),
    (W.width_update, "alpha", {"alpha": 1.0, "resolution": 224}, (0.1, 1.5, 0.65)),
    (W.phi_update, "phi", {"phi": 1.0}, (0.0, 8.0, 3.25)),
    (W.swish_update, "beta", {"beta": 1.0}, (0.0, 10.0, 2.5)),
])
def test_fast_redraw_gives_the_pixels_of_a_full_draw(update, fast, base, moves):
    renderer = W.FigureRenderer((fast,))
    renderer.png(update(**base), base)
    for value in moves:
        values = {**base, fast: value}
        fast_png = renderer.png(update(**values), values)
        full_png = W.FigureRenderer((fast,)).png(update(**values), values)
        assert np.array_equal(_pixels(fast_png), _pixels(full_png)), f"{fast}={value}"
    assert renderer.full_draws == 1
    other = next(k for k in base if k != fast) if len(base) > 1 else None
    if other is not None:  # a slow control forces a full draw
        values = {**base, other: 64 if other == "channels" else 160}
        renderer.png(update(**values), values)
        assert renderer.full_draws == 2


def test_renderer_cache_returns_the_same_image_without_drawing():
    renderer = W.FigureRenderer(())
    first = renderer.png(W.conv_update(kernel=5, padding=2), {"kernel": 5, "padding": 2})
    renderer.png(W.conv_update(kernel=3), {"kernel": 3, "padding": 1})
    assert renderer.full_draws == 2
    again = renderer.png(W.conv_update(kernel=5, padding=2), {"kernel": 5, "padding": 2})
    assert again == first and renderer.full_draws == 2
    small = W.FigureRenderer((), cache_size=1)
    for k in (3, 5, 3):
        small.png(W.conv_update(kernel=k, padding=k // 2), {"kernel": k})
    assert small.full_draws == 3 and len(small.cache) == 1


def test_fast_redraw_changes_the_image():
    renderer = W.FigureRenderer(("phi",))
    first = _pixels(renderer.png(W.phi_update(1.0), {"phi": 1.0}))
    second = _pixels(renderer.png(W.phi_update(5.0), {"phi": 5.0}))
    assert (first != second).any(axis=2).sum() > 500  # cursor, markers and title moved


def _plotted(fig) -> list:
    """What a figure plots, without its titles: line data, bar sizes, scatter offsets, image pixels."""
    import numpy as np

    found = []
    for ax in fig.axes:
        found += [np.asarray(line.get_xydata(), dtype=float).round(9).tolist() for line in ax.get_lines()]
        found += [(round(p.get_width(), 9), round(p.get_height(), 9)) for p in ax.patches
                  if hasattr(p, "get_height")]
        found += [np.asarray(c.get_offsets(), dtype=float).round(9).tolist() for c in ax.collections]
        found += [np.asarray(im.get_array(), dtype=float).round(6).tolist() for im in ax.get_images()]
    return found


@pytest.mark.parametrize(("update", "a", "b"), [
    ("conv_update", {"kernel": 3}, {"kernel": 5}),
    ("se_update", {"reduction": 4}, {"reduction": 32}),
    ("width_update", {"alpha": 1.0}, {"alpha": 0.5}),
    ("phi_update", {"phi": 1.0}, {"phi": 3.0}),
    ("swish_update", {"beta": 1.0}, {"beta": 4.0}),
])
def test_explorers_plot_data_that_follows_the_slider(update, a, b):
    import matplotlib.pyplot as plt

    fn = getattr(W, update)
    first, second = fn(**a), fn(**b)
    try:
        assert _plotted(first) != _plotted(second), f"{update} draws the same data for {a} and {b}"
        assert _plotted(first) == _plotted(fn(**a)), f"{update} is not a function of its sliders"
    finally:
        plt.close("all")
