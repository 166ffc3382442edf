"""The model zoo: one factory function per architecture, each with its paper's knobs as keyword arguments.

Every model builds on the meta device (``with torch.device("meta"): ...``) so it can be counted without
memory, and each family module holds its stage table written like the paper's table.
"""

from cnnedu.models._torchvision import load_pretrained, load_state_dict_by_order, torchvision_model
from cnnedu.models.alexnet import *  # noqa: F403
from cnnedu.models.baseline import *  # noqa: F403
from cnnedu.models.densenet import *  # noqa: F403
from cnnedu.models.efficientnet import *  # noqa: F403
from cnnedu.models.googlenet import *  # noqa: F403
from cnnedu.models.mobilenet_v1 import *  # noqa: F403
from cnnedu.models.mobilenet_v2 import *  # noqa: F403
from cnnedu.models.mobilenet_v3 import *  # noqa: F403
from cnnedu.models.resnet import *  # noqa: F403
from cnnedu.models.resnext import *  # noqa: F403
from cnnedu.models.senet import *  # noqa: F403
from cnnedu.models.vgg import *  # noqa: F403
from cnnedu.models.wide_resnet import *  # noqa: F403
from cnnedu.models.xception import *  # noqa: F403
from cnnedu.models.zfnet import *  # noqa: F403

__all__ = ["load_pretrained", "load_state_dict_by_order", "torchvision_model"]
