"""PyTorch backend: lowers the IR to torch.nn.Module source and builds it (torch imported lazily)."""

from .backend import TorchBackend

__all__ = ["TorchBackend"]
