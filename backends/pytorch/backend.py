"""The `torch` backend plugin: source for `cnndsl compile`, live modules for `Model.build`, ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnndsl.errors import CnnUsageError
from cnndsl.model import Model
from cnndsl.plugins import require_module

OPTIONS = {
    "logits": "leave out a trailing softmax/sigmoid so the module returns scores for the loss",
}


def _options(given: dict[str, Any]) -> dict[str, Any]:
    """Check options by name and type: a misspelled option must not be silently ignored."""
    for name, value in given.items():
        if name not in OPTIONS:
            known = ", ".join(sorted(OPTIONS))
            raise CnnUsageError(f"the torch backend has no option '{name}'; its options: {known}")
        if not isinstance(value, bool):
            raise CnnUsageError(f"the torch backend's option '{name}' takes True or False, not {value!r}")
    return {"logits": given.get("logits", False)}


def _require_torch() -> Any:
    return require_module("torch", "torch")


class TorchBackend:
    """Lowers a checked network to a torch.nn.Module whose names follow the .cnn node ids."""

    name = "torch"
    file_suffix = ""
    formats = ("python", "onnx")

    def generate_source(self, model: Model, **options: Any) -> str:
        """A standalone module (importing only torch) defining the network's nn.Module subclass."""
        settings = _options(options)
        _require_torch()
        from .parameters import parameterized_plan
        from .render import render_source

        return render_source(parameterized_plan(model, **settings))

    def build(self, model: Model, **options: Any) -> Any:
        """The network as a torch.nn.Module, built from exactly the source `generate_source` gives."""
        from cnndsl.memory import check_fits

        from .loading import load_source
        from .naming import class_name

        source = self.generate_source(model, **options)
        check_fits(model)  # before torch allocates: its own failure is a C++ message or a backtrace
        module = load_source(source, model.name)
        return getattr(module, class_name(model.name))()

    def export(self, model: Model, path: str | Path, fmt: str = "onnx", **options: Any) -> None:
        """Write the network in another format: `onnx` (weights as initialised, batch size dynamic)."""
        if fmt not in self.formats or fmt == "python":
            raise CnnUsageError(
                f"the torch backend cannot export '{fmt}'; formats: {', '.join(self.formats)}"
            )
        from .export import check_onnx_size, export_onnx, require_exporter

        _require_torch()
        require_exporter()  # before building the module: a missing package is the first thing to say
        check_onnx_size(model)  # from the summary's figures, before any weight is allocated
        export_onnx(self.build(model, **options), model, Path(path))
