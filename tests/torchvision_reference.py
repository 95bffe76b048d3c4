"""torchvision as the tests' reference model zoo, importable beside a CPU-only torch.

torchvision's wheels from PyPI carry a compiled `_C.so` built against CUDA, which fails to load
beside the CPU build of torch. torchvision then goes on without its C++ ops, but
`torchvision/_meta_registrations.py` registers fake kernels for `torchvision::nms` and
`torchvision::qnms` unconditionally, and registering for an operator that was never defined
fails: `import torchvision` raises "operator torchvision::nms does not exist". Defining the two
schemas (without kernels: the tests never call them) and importing again gets through; the
classification and segmentation models need no custom op and build and run normally.

The schemas are defined only after the import has failed: where `_C.so` does load, it defines
them itself and a second definition would be the error.
"""

from __future__ import annotations

import sys
from types import ModuleType

import pytest

# Held for the life of the process: dropping the Library would remove the definitions again.
_SCHEMAS: list = []


def import_torchvision() -> ModuleType:
    """torchvision, or a pytest skip where torch or torchvision is not installed."""
    torch = pytest.importorskip("torch")
    try:
        return pytest.importorskip("torchvision")
    except RuntimeError as error:
        if "torchvision::nms" not in str(error):
            raise
    # The failed import leaves its submodules behind; the second import must run them afresh.
    for name in [name for name in sys.modules if name == "torchvision" or name.startswith("torchvision.")]:
        del sys.modules[name]
    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _SCHEMAS.append(library)
    return pytest.importorskip("torchvision")
