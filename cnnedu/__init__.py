"""cnnedu: the helper library behind the CNN architectures course (AlexNet 2012 to EfficientNet 2019)."""

from cnnedu.env import get_device, setup

__all__ = ["setup", "get_device"]
__version__ = "0.1.0"
