"""Notebook 12 (SENet): the bars-and-dots task that needs global context, and the SE explorer's Table 10 errors."""

from __future__ import annotations

import pytest
import torch

from cnnedu import data, train
from cnnedu import widgets as W
from cnnedu.blocks import SqueezeExcite


def test_bars_dots_labels_are_bar_xor_count():
    ds, vertical, many = data.bars_dots_dataset(64, size=24, seed=3, factors=True)
    x, y = ds.tensors
    assert x.shape == (64, 3, 24, 24) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(y, vertical ^ many)
    # the four (orientation, count) combinations are balanced
    assert torch.bincount(2 * many + vertical, minlength=4).tolist() == [16] * 4
    red = (x[:, 0] > 0.9) & (x[:, 1] < 0.2)  # a dot is 2 x 2 red pixels; overlapping dots share some
    counts = red.flatten(1).sum(1)
    assert (counts[many == 0] <= 4 * 4).all() and (counts[many == 1] > 4 * 4).all()  # 4 or 8 dots
    white = (x.min(dim=1).values > 0.9).flatten(1).sum(1)  # the bar: 7 white pixels, fewer under a dot
    assert (white <= 7).all() and (white >= 1).all()


def test_bars_dots_bar_orientation_is_drawn():
    ds, vertical, _ = data.bars_dots_dataset(32, size=16, many=1, few=0, noise=0.0, seed=0, factors=True)
    white = ds.tensors[0].min(dim=1).values > 0.9  # (N, H, W)
    for img, v in zip(white, vertical, strict=True):
        rows, cols = img.nonzero(as_tuple=True)
        extent = (rows.max() - rows.min(), cols.max() - cols.min())
        assert extent == ((6, 0) if v else (0, 6))


def test_bars_dots_repeats_by_seed_and_loaders_split_it():
    a, b = data.bars_dots_dataset(16, seed=1), data.bars_dots_dataset(16, seed=1)
    assert all(torch.equal(s, t) for s, t in zip(a.tensors, b.tensors, strict=True))
    assert not torch.equal(a.tensors[0], data.bars_dots_dataset(16, seed=2).tensors[0])
    train_l, test_l = data.loaders("bars_dots", batch_size=8, n_train=24, n_test=8, size=16, seed=0)
    full = data.bars_dots_dataset(32, size=16, seed=0)
    assert torch.equal(test_l.dataset.tensors[0], full.tensors[0][24:])
    assert len(train_l.dataset) == 24 and len(data.BARS_DOTS_CLASSES) == 2


def test_bars_dots_global_statistic_is_not_in_the_brightness():
    # the count changes only the few red pixels: the mean of the green channel hardly moves
    ds, _, many = data.bars_dots_dataset(400, size=24, seed=0, factors=True)
    green = ds.tensors[0][:, 1].mean(dim=(1, 2))
    assert abs(green[many == 1].mean() - green[many == 0].mean()) < 0.02


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 0}, "n must be"), ({"size": 4}, "size must be"), ({"few": 8, "many": 8}, "few must be smaller"),
    ({"length": 30}, "length must be at most"), ({"noise": -1}, "noise must be"),
])
def test_bars_dots_errors_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.bars_dots_dataset(**kwargs)


def test_the_squeeze_reads_the_count_that_a_window_cannot():
    # a channel that detects red (what a first convolution can learn), squeezed by SE's global average pooling,
    # separates the two counts in every image
    ds, _, many = data.bars_dots_dataset(200, size=24, seed=0, factors=True)
    red = ((ds.tensors[0][:, 0] > 0.9) & (ds.tensors[0][:, 1] < 0.2)).float()[:, None]
    z = SqueezeExcite(1, reduction=1).pool(red).flatten()
    assert z[many == 1].min() > z[many == 0].max()
    # a 5 x 5 window in the middle usually holds no dot at all, for either count
    window = ds.tensors[0][:, :, 10:15, 10:15]
    has_dot = ((window[:, 0] > 0.9) & (window[:, 1] < 0.2)).flatten(1).any(1)
    assert has_dot[many == 0].float().mean() < 0.5 and has_dot[many == 1].float().mean() < 0.5


def test_the_notebook_recipe_trains_and_claims():
    loaders = data.loaders("bars_dots", batch_size=16, n_train=32, n_test=16, size=16, seed=0)

    def net(recal=None):
        from cnnedu.blocks import ConvBNAct
        layers = [ConvBNAct(3, 8, 3), ConvBNAct(8, 8, 3, 2)] + ([recal(8, reduction=4)] if recal else [])
        return torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 2))

    comp = train.compare({"no SE": net, "SE": lambda: net(SqueezeExcite)}, loaders, seeds=(0, 1), epochs=1,
                         device="cpu", **train.QUICK)
    acc = {k: [100 * v for v in vs] for k, vs in comp.results.items()}
    c = train.claim("SE beats no SE", acc, "SE", "no SE", paper="Hu et al. 2018, Table 16", metric="test accuracy",
                    unit="%", seeds=comp.seeds)
    assert c.higher_is_better and c.verdict in train.VERDICTS


def test_se_explorer_plots_table10_error_that_follows_the_slider():
    import matplotlib.pyplot as plt

    try:
        for r, top1 in W.SE_TABLE10_TOP1.items():
            assert W.se_numbers(r, 256)["paper_top1"] == top1
            fig = W.se_update(r, 256)
            ax_err = fig.axes[-1]  # the twin (error) axis comes last
            marker = [ln for ln in ax_err.get_lines() if ln.get_animated()]
            assert len(marker) == 1 and marker[0].get_xydata().tolist() == [[r, top1]]
            assert f"top-1 {top1:.2f} %" in fig.axes[0].get_title()
            static = [ln for ln in ax_err.get_lines() if not ln.get_animated()]
            assert [22.29, 22.25, 22.26, 22.28, 22.72] in [list(ln.get_ydata()) for ln in static]
            assert any(set(ln.get_ydata()) == {W.RESNET50_TOP1} for ln in static)  # ResNet-50's 23.30 %
            plt.close(fig)
        fig = W.se_update(3, 256)  # not in Table 10: no error marker, and the title says so
        ax_err = fig.axes[-1]
        marker = [ln for ln in ax_err.get_lines() if ln.get_animated()]
        assert torch.isnan(torch.tensor(marker[0].get_ydata(), dtype=torch.float)).all()
        assert "r not in Table 10" in fig.axes[0].get_title() and W.se_numbers(3)["paper_top1"] is None
    finally:
        plt.close("all")
