"""cnndsl: a declarative compiler for convolutional neural networks."""

from .errors import CnnError
from .loader import builtin_architectures, load, loads
from .model import Model

__version__ = "0.1.0"
__all__ = ["CnnError", "Model", "builtin_architectures", "load", "loads", "__version__"]
