"""ONNX export of a compiled module (`cnndsl compile --format onnx`), checked against torch's run.

torch.onnx's exporter (torch.export underneath) writes one self-contained file: weights
inside, the batch dimension dynamic, the input named `input` and the output `output` (several
outputs keep their names from `output a, b`), and
cnndsl's marker in the model's doc_string so a later compile may overwrite it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import warnings
from pathlib import Path
from typing import Any

from cnndsl.errors import CnnUsageError
from cnndsl.model import Model
from cnndsl.output_stamps import header_text

PROTOBUF_LIMIT = 2**31  # one ONNX file holds at most 2 GiB; larger models need external data
# What torch.onnx's exporter imports beyond torch; the `onnx` extra installs them.
EXPORTER_PACKAGES = ("onnx", "onnxscript")


def _missing_exporter(error: ImportError) -> CnnUsageError:
    return CnnUsageError(
        f"ONNX export needs {' and '.join(EXPORTER_PACKAGES)} ({error}); "
        "install them with: pip install 'cnndsl[onnx]'"
    )


def require_exporter() -> None:
    """Import what the exporter needs now, so a missing package is a usage error naming the extra."""
    for package in EXPORTER_PACKAGES:
        try:
            importlib.import_module(package)
        except ImportError as error:
            raise _missing_exporter(error) from None


@contextlib.contextmanager
def _quiet():
    """The exporter narrates its steps and warns about optional packages: keep the CLI's output clean."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def check_onnx_size(model: Model) -> None:
    """A CnnUsageError when the network's weights cannot fit in one ONNX file (2 GiB)."""
    size = model.stats().param_bytes
    if size >= PROTOBUF_LIMIT:
        raise CnnUsageError(
            f"{model.name} has {size / 2**30:,.1f} GiB of weights; one ONNX file holds at most 2 GiB"
        )


def export_onnx(module: Any, model: Model, path: Path) -> None:
    """Write `module` (the compiled `model`) to `path` as ONNX."""
    import torch

    size = sum(p.numel() * p.element_size() for p in module.parameters())
    if size >= PROTOBUF_LIMIT:
        raise CnnUsageError(
            f"{model.name} has {size / 2**30:.1f} GiB of weights; one ONNX file holds at most 2 GiB"
        )
    module.eval()
    example = torch.randn(2, *model.input_shape)
    batch = torch.export.Dim("batch")
    try:
        with _quiet():
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                external_data=False,
                input_names=["input"],
                # Several outputs keep the names `output a, b` gave them, in that order.
                output_names=model.output_names if len(model.output_names) > 1 else ["output"],
                dynamic_shapes=({0: batch},),
                verbose=False,
            )
    except ImportError as error:  # a package the exporter imports lazily (onnxscript's own, say)
        raise _missing_exporter(error) from None
    except Exception as error:  # the exporter's failures are many and internal; name them plainly
        raise CnnUsageError(f"ONNX export of {model.name} failed: {type(error).__name__}: {error}") from None
    program.model.doc_string = header_text(model.graph.graph.get("source", ""), model.name)
    program.model.metadata_props["cnndsl.network"] = model.name
    program.save(str(path), external_data=False)
