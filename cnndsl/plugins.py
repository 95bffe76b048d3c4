"""Backend plugins: found through the `cnndsl.backends` entry-point group, loaded on demand."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from .errors import CnnUsageError
from .expressions import did_you_mean

if TYPE_CHECKING:
    from .model import Model

GROUP = "cnndsl.backends"


class Backend(Protocol):
    """What a backend provides. Third-party backends register the same way as ours."""

    name: str

    def build(self, model: Model, **options: Any) -> Any:
        """An executable object for `model` (a torch.nn.Module, a NumPy engine, ...)."""

    def generate_source(self, model: Model, **options: Any) -> str:
        """A standalone Python module implementing `model` (for `cnndsl compile`)."""


def available_backends() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def get_backend(name: str) -> Backend:
    """The backend registered as `name`; a CnnUsageError listing the others if there is none."""
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        names = available_backends()
        listing = ", ".join(names) if names else "none are installed"
        raise CnnUsageError(f"unknown backend '{name}'{did_you_mean(name, names)}; available: {listing}")
    loaded = found[0].load()
    return loaded() if isinstance(loaded, type) else loaded


def require_module(module: str, extra: str) -> ModuleType:
    """Import a backend's framework, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise CnnUsageError(
            f"this backend needs {module}, which is not installed ({error}); "
            f"install it with: pip install 'cnndsl[{extra}]'"
        ) from None
