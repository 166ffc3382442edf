"""Tests of cnnedu.viz: every plot returns a Figure, draws on a given Axes, and draws the right numbers."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from cnnedu import viz  # noqa: E402
from cnnedu.analysis import ReceptiveField, summary  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labelled_lines(ax):
    return {line.get_label(): line for line in ax.get_lines() if not line.get_label().startswith("_")}


# ---------------------------------------------------------------------------------------------------------
# Activations.


def test_activation_values():
    x = torch.linspace(-8, 8, 161)
    assert viz.ACTIVATIONS["hard_swish"](torch.tensor(3.0)).item() == pytest.approx(3.0)
    assert viz.ACTIVATIONS["hard_swish"](torch.tensor(-3.0)).item() == pytest.approx(0.0)
    assert viz.ACTIVATIONS["hard_sigmoid"](torch.tensor(0.0)).item() == pytest.approx(0.5)
    assert viz.ACTIVATIONS["relu6"](x).max().item() == 6.0
    assert viz.ACTIVATIONS["relu6"](x).min().item() == 0.0
    torch.testing.assert_close(viz.ACTIVATIONS["swish"](x), F.silu(x))
    torch.testing.assert_close(viz.activation("swish", beta=1.0)(x), F.silu(x))
    torch.testing.assert_close(viz.activation("swish", beta=2.0)(x), x * torch.sigmoid(2 * x))
    # MobileNetV3's definitions agree with PyTorch's built-in versions
    torch.testing.assert_close(viz.ACTIVATIONS["hard_swish"](x), F.hardswish(x))
    torch.testing.assert_close(viz.ACTIVATIONS["hard_sigmoid"](x), F.hardsigmoid(x))
    torch.testing.assert_close(viz.ACTIVATIONS["relu"](x), F.relu(x))


def test_activation_derivatives():
    d = viz.activation_derivative
    assert d("relu", [-1.0, 2.0]).tolist() == [0.0, 1.0]
    assert d("relu6", [-1.0, 3.0, 7.0]).tolist() == [0.0, 1.0, 0.0]
    assert d("sigmoid", [0.0]).item() == pytest.approx(0.25)
    assert d("tanh", [0.0]).item() == pytest.approx(1.0)
    assert d("swish", [0.0], beta=5.0).item() == pytest.approx(0.5)
    x = torch.tensor([-2.0, -0.5, 1.0, 2.5], dtype=torch.float64)
    torch.testing.assert_close(d("hard_swish", x), (2 * x + 3) / 6)  # x (x + 3) / 6 inside (-3, 3)
    assert d("hard_swish", [-4.0, 4.0]).tolist() == [0.0, 1.0]
    torch.testing.assert_close(d("hard_sigmoid", [1.0]), torch.tensor([1 / 6], dtype=torch.float64))
    # swish with beta: a central finite difference
    pts = torch.tensor([-2.0, -0.3, 0.7, 3.0], dtype=torch.float64)
    f, h = viz.activation("swish", beta=1.7), 1e-6
    torch.testing.assert_close(d("swish", pts, beta=1.7), (f(pts + h) - f(pts - h)) / (2 * h))


def test_activation_bad_name():
    with pytest.raises(ValueError, match="name"):
        viz.activation("gelu-ish")
    with pytest.raises(ValueError, match="names"):
        viz.activation_curves(names=["nope"])
    with pytest.raises(ValueError, match="x_range"):
        viz.activation_curves(x_range=(2, -2))


def test_activation_curves_two_panels():
    fig = viz.activation_curves(names=["relu", "hard_swish", "swish"], beta=[0.5, 2.0])
    assert isinstance(fig, Figure)
    ax_f, ax_d = fig.axes
    curves, slopes = _labelled_lines(ax_f), _labelled_lines(ax_d)
    assert set(curves) == {"ReLU", "h-swish", "Swish (β=0.5)", "Swish (β=2)"}
    x, y = curves["h-swish"].get_data()
    np.testing.assert_allclose(y[np.argmin(abs(x - 3.0))], 3.0, atol=1e-9)
    x, dy = slopes["ReLU"].get_data()
    assert dy[x < -0.01].max() == 0.0 and dy[x > 0.01].min() == 1.0


def test_activation_curves_on_given_axes():
    fig, ax = plt.subplots()
    assert viz.activation_curves(names=["tanh", "sigmoid"], ax=ax) is fig
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 2  # derivatives, drawn dashed on the same Axes
    fig2, pair = plt.subplots(1, 2)
    assert viz.activation_curves(names=["tanh"], ax=pair) is fig2
    assert "tanh" in _labelled_lines(pair[0]) and "tanh" in _labelled_lines(pair[1])
    fig3, ax3 = plt.subplots()
    assert viz.activation_curves(names=["relu"], derivative=False, ax=ax3) is fig3
    assert len(_labelled_lines(ax3)) == 1


# ---------------------------------------------------------------------------------------------------------
# Costs.

COSTS = {"conv1": (100, 5_000), "conv2": (200, 3_000), "relu": (0, 0), "fc": (700, 2_000)}


def _bar_widths(ax):
    return [p.get_width() for p in ax.patches if isinstance(p, Rectangle)]


def test_layer_bars_panels_from_dict():
    fig = viz.layer_bars(COSTS)
    params_ax, macs_ax = fig.axes
    assert _bar_widths(params_ax) == [100, 200, 700]  # the empty relu row is skipped
    assert _bar_widths(macs_ax) == [5_000, 3_000, 2_000]
    assert [t.get_text() for t in params_ax.get_yticklabels()] == ["conv1", "conv2", "fc"]
    assert "1k" in params_ax.get_xlabel() and "10k" in macs_ax.get_xlabel()  # totals with SI suffixes


def test_layer_bars_percent_and_given_ax():
    fig, ax = plt.subplots()
    assert viz.layer_bars(COSTS, ax=ax) is fig  # one Axes: twin bars in percent of each total
    widths = _bar_widths(ax)
    assert sum(widths[:3]) == pytest.approx(100) and sum(widths[3:]) == pytest.approx(100)
    assert widths[2] == pytest.approx(70) and widths[3] == pytest.approx(50)


def test_layer_bars_by_stage_from_summary():
    table = [("features.0", 10, 100), ("features.1", 0, 0), ("features.2", 20, 300), ("classifier.0", 90, 90)]
    rows = [{"name": n, "params": p, "macs": m} for n, p, m in table]
    fig = viz.layer_bars(SimpleNamespace(rows=rows), by="stage")
    assert _bar_widths(fig.axes[0]) == [30, 90]
    assert _bar_widths(fig.axes[1]) == [400, 90]
    with pytest.raises(ValueError, match="by"):
        viz.layer_bars(COSTS, by="block")
    with pytest.raises(ValueError, match="summary_or_dict"):
        viz.layer_bars([1, 2, 3])


def test_layer_bars_real_summary():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    s = summary(model, (3, 8, 8), depth=1)
    fig = viz.layer_bars(s, log=True)
    assert _bar_widths(fig.axes[0]) == [3 * 8 * 9 + 8, 288 * 10 + 10]
    assert _bar_widths(fig.axes[1]) == [3 * 9 * 8 * 36, 2880]
    assert fig.axes[0].get_xscale() == "log"


def test_model_bars_with_references():
    fig = viz.model_bars(["a", "b", "c"], [61.1e6, 138e6, 3.5e6], "parameters",
                         reference={"a": 60e6, "c": 3.4e6})
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [61.1e6, 138e6, 3.5e6]
    (refs,) = ax.collections
    np.testing.assert_allclose(refs.get_offsets(), [[0, 60e6], [2, 3.4e6]])
    assert ax.get_ylabel() == "parameters"
    assert ax.yaxis.get_major_formatter()(50e6, 0) == "50M"
    fig2, ax2 = plt.subplots()
    assert viz.model_bars(["a", "b"], [1, 2], "MACs", ax=ax2, reference=[None, 2.1]) is fig2
    with pytest.raises(ValueError, match="values"):
        viz.model_bars(["a", "b"], [1], "x")
    with pytest.raises(ValueError, match="reference"):
        viz.model_bars(["a", "b"], [1, 2], "x", reference=[1])


def test_si():
    assert viz.si(61_100_840) == "61.1M"
    assert viz.si(714e6) == "714M"
    assert viz.si(3.664e9) == "3.66G"
    assert viz.si(12_500) == "12.5k"
    assert viz.si(999) == "999"
    assert viz.si(0) == "0"


# ---------------------------------------------------------------------------------------------------------
# Images.


def _image_array(fig):
    (im,) = fig.axes[0].get_images()
    return np.asarray(im.get_array())


def test_image_conversions():
    rng = np.random.default_rng(0)
    rgb = rng.random((20, 30, 3)).astype(np.float32)
    mean, std = np.array(viz.IMAGENET_MEAN), np.array(viz.IMAGENET_STD)
    normalised = torch.from_numpy(((rgb - mean) / std).transpose(2, 0, 1).astype(np.float32))
    np.testing.assert_allclose(viz.images._to_hwc(normalised), rgb, atol=1e-5)
    np.testing.assert_allclose(viz.images._to_hwc(normalised[None]), rgb, atol=1e-5)
    np.testing.assert_allclose(viz.images._to_hwc(rgb.transpose(2, 0, 1)), rgb)
    uint8 = (rgb * 255).astype(np.uint8)
    np.testing.assert_allclose(viz.images._to_hwc(uint8), uint8 / 255, atol=1e-6)
    np.testing.assert_allclose(viz.images._to_hwc(Image.fromarray(uint8)), uint8 / 255, atol=1e-6)
    chw = torch.from_numpy(rgb).permute(2, 0, 1)
    custom = viz.images._to_hwc((chw - 0.5) / 0.25, mean=[0.5] * 3, std=[0.25] * 3)
    np.testing.assert_allclose(custom, rgb, atol=1e-5)
    with pytest.raises(ValueError, match="image"):
        viz.images._to_hwc(np.zeros((2, 3, 8, 8)))


def test_receptive_field_on_image():
    img = np.zeros((100, 120, 3), dtype=np.uint8)
    fig = viz.receptive_field_on_image(img, 40, stride=16)
    ax = fig.axes[0]
    solid, dashed = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert (solid.get_width(), solid.get_height()) == (40, 40)
    assert solid.get_x() + 20 == pytest.approx(59.5) and solid.get_y() + 20 == pytest.approx(49.5)
    assert dashed.get_x() - solid.get_x() == 16  # the next unit's field, one effective stride away
    (grid,) = ax.collections
    xs = np.unique(grid.get_offsets()[:, 0])
    np.testing.assert_allclose(np.diff(xs), 16)
    assert xs.min() >= 0 and xs.max() <= 119
    assert "40 px" in ax.get_legend().get_texts()[0].get_text()


def test_receptive_field_larger_than_image_and_given_ax():
    fig, ax = plt.subplots()
    rf = ReceptiveField(size=427, stride=32, padding=0)
    t = torch.randn(3, 64, 64)  # normalised: de-normalised, not clipped to black
    assert viz.receptive_field_on_image(t, rf, center=(10, 20), ax=ax, label="ResNet-50") is fig
    (square,) = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert square.get_width() == 427 and square.get_label() == "ResNet-50"
    x0, x1 = ax.get_xlim()
    assert x0 < 10 - 213 and x1 > 10 + 213  # the view shows the whole field, beyond the image
    with pytest.raises(ValueError, match="size"):
        viz.receptive_field_on_image(t, -3)


def test_receptive_field_growth():
    fields = [ReceptiveField(size=s, stride=1, padding=0) for s in (3, 5, 7)]
    fig = viz.receptive_field_growth({"plain": fields, "vgg": [3, 5, 6, 10]}, image_size=8)
    lines = _labelled_lines(fig.axes[0])
    assert list(lines["plain"].get_ydata()) == [3, 5, 7]
    assert list(lines["vgg"].get_xdata()) == [1, 2, 3, 4]
    assert "input 8 px" in lines
    fig2, ax = plt.subplots()
    assert viz.receptive_field_growth([1, 3, 5], ax=ax) is fig2
    assert list(ax.get_lines()[0].get_ydata()) == [1, 3, 5]
    with pytest.raises(ValueError, match="sizes"):
        viz.receptive_field_growth({"a": []})


def test_filter_grid_rgb_and_grey():
    w = torch.randn(10, 3, 5, 5)
    mosaic = _image_array(viz.filter_grid(w, ncols=5))
    assert mosaic.shape == (2 * 5 + 1, 5 * 5 + 4, 3)
    tile = mosaic[:5, :5]
    assert tile.min() == pytest.approx(0) and tile.max() == pytest.approx(1)  # normalised per filter
    first = w[0].permute(1, 2, 0)
    np.testing.assert_allclose(tile, (first - first.min()) / (first.max() - first.min()), atol=1e-6)
    conv = nn.Conv2d(16, 8, 3)
    fig, ax = plt.subplots()
    assert viz.filter_grid(conv, ax=ax, normalize="all") is fig
    grey = np.asarray(ax.get_images()[0].get_array())
    assert grey.ndim == 2 and grey.shape == (3 * 3 + 2, 3 * 3 + 2)  # 8 filters on a 3 x 3 grid
    with pytest.raises(ValueError, match="weight"):
        viz.filter_grid(torch.randn(3, 3, 3))
    with pytest.raises(ValueError, match="normalize"):
        viz.filter_grid(w, normalize="max")


def test_feature_maps():
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    mosaic = _image_array(viz.feature_maps(x, n=16))
    assert mosaic.shape == (4, 4 * 2 + 1)
    np.testing.assert_allclose(mosaic[:, :4], np.linspace(0, 1, 16).reshape(4, 4), atol=1e-6)
    fig, ax = plt.subplots()
    assert viz.feature_maps(torch.randn(32, 6, 6), n=8, ax=ax) is fig
    assert "8 of 32" in ax.get_title()
    with pytest.raises(ValueError, match="tensor"):
        viz.feature_maps(torch.randn(2, 3, 4, 4))


def test_image_grid():
    images = torch.rand(12, 3, 8, 8)
    fig = viz.image_grid(images, labels=torch.arange(12) % 3, class_names=["cat", "dog", "car"], ncols=6)
    ax = fig.axes[0]
    assert _image_array(fig).shape == (2 * 8 + 1, 6 * 8 + 5, 3)
    assert [t.get_text() for t in ax.texts][:4] == ["cat", "dog", "car", "cat"]
    fig2, ax2 = plt.subplots()
    pics = [np.full((8, 8, 3), 200, dtype=np.uint8), Image.new("RGB", (8, 8))]
    assert viz.image_grid(pics, labels=[0, 1], predictions=[0, 0], ax=ax2) is fig2
    assert [t.get_color() for t in ax2.texts] == ["green", "red"]
    with pytest.raises(ValueError, match="images"):
        viz.image_grid([])


# ---------------------------------------------------------------------------------------------------------
# Training.


def _history(scale=1.0, epochs=4):
    return SimpleNamespace(
        train_loss=[scale * v for v in (2.0, 1.0, 0.5, 0.25)][:epochs],
        test_loss=[2.2, 1.2, 0.7, 0.5][:epochs],
        train_acc=[0.3, 0.6, 0.8, 0.9][:epochs],
        test_acc=[0.25, 0.5, 0.7, 0.8][:epochs],
        step_loss=[3.0, 2.0, 1.5, 1.0, 0.8, 0.6],
        step_acc=[0.1, 0.2, 0.3, 0.5, 0.6, 0.7],
        epoch_time=[1.0, 2.0, 1.0, 2.0][:epochs],
    )


def test_training_curves_single_and_dict():
    fig = viz.training_curves(_history())
    (line,) = fig.axes[0].get_lines()
    assert list(line.get_ydata()) == [2.0, 1.0, 0.5, 0.25] and list(line.get_xdata()) == [1, 2, 3, 4]
    assert fig.axes[0].get_xlabel() == "epoch"
    fig = viz.training_curves({"relu": _history(), "tanh": _history(2.0)}, metric="test_acc")
    lines = _labelled_lines(fig.axes[0])
    assert list(lines["relu"].get_ydata()) == pytest.approx([25, 50, 70, 80])  # fractions shown in percent
    assert "(%)" in fig.axes[0].get_ylabel()


def test_training_curves_seeds_band_steps_time():
    fig, ax = plt.subplots()
    runs = {"relu": [_history(1.0), _history(3.0, epochs=3)]}
    assert viz.training_curves(runs, ax=ax) is fig
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == pytest.approx([4.0, 2.0, 1.0])  # mean over seeds, shortest run's length
    assert "mean of 2" in line.get_label()
    assert any(isinstance(c, PolyCollection) for c in ax.collections)  # the spread band
    fig = viz.training_curves(_history(), x="step")
    assert len(fig.axes[0].get_lines()[0].get_ydata()) == 6  # train_loss per step is step_loss
    fig = viz.training_curves([_history(), _history()], metric=["train_loss", "test_loss"], x="time")
    solid, dashed = fig.axes[0].get_lines()
    assert list(solid.get_xdata()) == [1.0, 3.0, 4.0, 6.0] and dashed.get_linestyle() == "--"
    with pytest.raises(ValueError, match="metric"):
        viz.training_curves(_history(), metric="val_bleu")
    with pytest.raises(ValueError, match="x"):
        viz.training_curves(_history(), x="minute")


def test_comparison_bars_dict_and_duck_typed():
    fig = viz.comparison_bars({"plain": [1.0, 2.0, 3.0], "residual": [4.0, 4.0, 4.0]})
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == pytest.approx([2.0, 4.0])
    seeds = [c for c in ax.collections if c.get_offsets().shape[0] == 3]
    assert len(seeds) == 2 and sorted(seeds[0].get_offsets()[:, 1]) == [1.0, 2.0, 3.0]
    assert "2 ± 1" in [t.get_text() for t in ax.texts]

    class Comparison:  # the interface of cnnedu.train.Comparison
        results = {"relu": [0.90, 0.92], "tanh": [0.80, 0.82]}
        metric = "test_acc"

        def mean(self, name):
            return float(np.mean(self.results[name]))

        def std(self, name):
            return float(np.std(self.results[name], ddof=1))

    fig2, ax2 = plt.subplots()
    assert viz.comparison_bars(Comparison(), ax=ax2) is fig2
    assert [p.get_height() for p in ax2.patches] == pytest.approx([91.0, 81.0])
    assert "test accuracy" in ax2.get_ylabel()
    with pytest.raises(ValueError, match="comparison"):
        viz.comparison_bars({})


# ---------------------------------------------------------------------------------------------------------
# Matrices, scaling, saving.


def test_heatmap():
    m = np.arange(6.0).reshape(2, 3)
    fig = viz.heatmap(m, row_labels=["a", "b"], col_labels=["x", "y", "z"], title="excitations")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), m)
    assert len(fig.axes) == 2  # the colour bar
    assert [t.get_text() for t in ax.texts] == ["0", "1", "2", "3", "4", "5"]
    fig2, ax2 = plt.subplots()
    assert viz.heatmap(np.random.rand(20, 20), ax=ax2) is fig2 and not ax2.texts
    with pytest.raises(ValueError, match="row_labels"):
        viz.heatmap(m, row_labels=["a"])


def test_scaling_curves_marks():
    phi = np.arange(8.0)
    fig = viz.scaling_curves(phi, {"MACs": 2.0 ** phi}, xlabel="phi", ylabel="MACs", log=True,
                             marks={"B0": 0, "B2.5": 2.5})
    ax = fig.axes[0]
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert [float(d.get_ydata()[0]) for d in dots] == [1.0, 6.0]  # interpolated between samples
    assert [t.get_text() for t in ax.texts] == ["B0", "B2.5"]
    assert ax.get_yscale() == "log"
    fig2, ax2 = plt.subplots()
    assert viz.scaling_curves([1, 2], {"a": [1, 2], "b": [2, 3]}, ax=ax2, marks=[1.5]) is fig2
    with pytest.raises(ValueError, match="series"):
        viz.scaling_curves([1, 2], {"a": [1]})


def test_save_figure(tmp_path, monkeypatch):
    monkeypatch.delenv("CNNEDU_FIGURES", raising=False)
    fig = viz.activation_curves(names=["relu"], derivative=False)
    png, svg = viz.save_figure(fig, "relu", directory=tmp_path / "out")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text()
    with Image.open(png) as im:  # 150 dpi: the default 6.4 x 4 inch figure is about 960 px wide
        assert 800 < im.width < 1100
    monkeypatch.setattr(viz.saving, "_repository_root", lambda: tmp_path / "repo")
    png, _ = viz.save_figure(fig, "relu.png")
    assert png == tmp_path / "repo" / "figures" / "relu.png" and png.exists()
    monkeypatch.setattr(viz.saving, "_repository_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    _, svg = viz.save_figure(fig, "r", directory="slides_figs")
    assert svg == tmp_path / "slides_figs" / "r.svg" and svg.exists()
    with pytest.raises(ValueError, match="name"):
        viz.save_figure(fig, "../escape")
    assert viz.saving._repository_root() is None or (viz.saving._repository_root() / "cnnedu").is_dir()


def test_save_figure_goes_to_the_scratch_folder_under_tests(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNEDU_FIGURES", str(tmp_path / "scratch"))
    monkeypatch.setattr(viz.saving, "_repository_root", lambda: tmp_path / "repo")
    fig = viz.activation_curves(names=["relu"], derivative=False)
    png, svg = viz.save_figure(fig, "relu")
    assert png == tmp_path / "scratch" / "relu.png" and svg.exists()
    assert not (tmp_path / "repo").exists()
    png, _ = viz.save_figure(fig, "relu", directory=tmp_path / "chosen")  # an explicit folder is kept
    assert png.parent == tmp_path / "chosen"


def test_se_positions_draws_every_position_and_rejects_unknown_ones():
    fig = viz.se_positions()
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == list(viz.diagrams.SE_POSITION_TITLES.values())
    # SE-PRE: one SE box, drawn above the residual box on the left (residual) branch, not on the identity path
    pre = fig.axes[2]
    boxes = {t.get_text(): t.get_position() for t in pre.texts if t.get_text() in ("SE", "Residual")}
    assert boxes["SE"][0] == boxes["Residual"][0] < 0.5 and boxes["SE"][1] > boxes["Residual"][1]
    with pytest.raises(ValueError, match="position"):
        viz.se_positions(["before"])
    with pytest.raises(ValueError, match="positions"):
        viz.se_positions([])
