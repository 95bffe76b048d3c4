"""Training a checked network with PyTorch: `cnndsl train` and `cnndsl.backends.pytorch.training.train`."""

from .config import TrainingConfig, resolve
from .loop import train
from .session import train_from_command

__all__ = ["TrainingConfig", "resolve", "train", "train_from_command"]
