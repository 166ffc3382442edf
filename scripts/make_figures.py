"""Regenerate the course's slide figures in figures/ (PNG and SVG), without running the notebooks.

    python scripts/make_figures.py        # or: make figures

Activation curves, receptive-field growth, parameter bars per model, EfficientNet scaling curves and a
deconvnet top-9 grid of a small network trained for a few seconds on the embedded data. Notebooks save
their own figures (NN_*.png) when they run; this script writes the course-wide ones (course_*.png).
"""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from cnnedu import data, deconvnet, models, train, viz  # noqa: E402
from cnnedu.analysis import count_macs, count_params, receptive_fields  # noqa: E402
from cnnedu.env import seed_everything  # noqa: E402


def activations() -> None:
    viz.save_figure(viz.activation_curves(beta=1.0), "course_activations")


def receptive_field_growth() -> None:
    growth = {}
    for name, build in (("AlexNet", models.alexnet), ("VGG-16", models.vgg16), ("ResNet-50", models.resnet50)):
        with torch.device("meta"):
            model = build()
        # the main path only: a projection shortcut (1x1 conv) sees less than the branch beside it
        growth[name] = [f.size for f in receptive_fields(model)
                        if f.layer_type in ("Conv2d", "MaxPool2d") and "shortcut" not in f.name]
    viz.save_figure(viz.receptive_field_growth(growth, image_size=224), "course_receptive_field_growth")


def parameter_bars() -> None:
    builders = {"AlexNet": models.alexnet, "VGG-16": models.vgg16, "GoogLeNet": models.googlenet,
                "ResNet-50": models.resnet50, "DenseNet-121": lambda: models.densenet(121),
                "MobileNet v1": models.mobilenet_v1, "MobileNetV2": models.mobilenet_v2,
                "EfficientNet-B0": models.efficientnet_b0}
    params, macs = [], []
    for build in builders.values():
        with torch.device("meta"):
            model = build()
        params.append(count_params(model) / 1e6)
        macs.append(count_macs(model) / 1e9)
    viz.save_figure(viz.model_bars(list(builders), params, "parameters (M)", log=True,
                                   title="Parameters per model"), "course_params")
    viz.save_figure(viz.model_bars(list(builders), macs, "MACs at 224 px (G)", log=True,
                                   title="Compute per image"), "course_macs")


def scaling() -> None:
    from cnnedu.models.efficientnet import efficientnet_cost, resolution_for

    phis = [i / 4 for i in range(0, 29)]
    params, macs = [], []
    for phi in phis:
        p, m = efficientnet_cost(1.1**phi, 1.2**phi, resolution_for(phi))
        params.append(p / 1e6)
        macs.append(m / 1e9)
    fig = viz.scaling_curves(phis, {"parameters (M)": params, "MACs (G)": macs}, xlabel="compound coefficient φ",
                             ylabel="cost", log=True, title="EfficientNet compound scaling (α=1.2, β=1.1, γ=1.15)")
    viz.save_figure(fig, "course_scaling")


def deconvnet_grid() -> None:
    seed_everything(0)
    torch.set_num_threads(1)
    features = nn.Sequential(
        nn.Conv2d(3, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
    )
    model = nn.Sequential()
    model.features = features
    model.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    train_loader, test_loader = data.loaders("shapes", n_train=4000, n_test=1000)
    train.fit(model, (train_loader, test_loader), epochs=2, optimizer="adam", lr=3e-3, progress=False)
    images = test_loader.dataset.tensors[0]
    result = deconvnet.top9(model, images, layer=6, channel=0)
    viz.save_figure(deconvnet.plot_top9(result, title="conv3, channel 0: top-9 projections and patches"),
                    "course_deconvnet_top9")


def main() -> int:
    for step in (activations, receptive_field_growth, parameter_bars, scaling, deconvnet_grid):
        step()
        print(f"{step.__name__}: done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
