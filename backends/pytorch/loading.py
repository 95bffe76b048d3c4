"""Turning generated source into a live Python module, as if it had been imported from a file.

`build()` runs the very source `cnndsl compile` writes, so the in-process module and the file
are the same model. The source is registered with linecache (tracebacks and inspect show the
generated lines) and the module with sys.modules (pickle and torch.jit find the class).
"""

from __future__ import annotations

import hashlib
import linecache
import re
import sys
from types import ModuleType


def load_source(source: str, network: str) -> ModuleType:
    """Execute generated source as a fresh module named after the network and its text."""
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]
    safe = re.sub(r"\W", "_", network)
    name = f"cnndsl_generated_{safe}_{digest}"
    if name in sys.modules:  # the same source compiled before: reuse its class
        return sys.modules[name]
    filename = f"<cnndsl-generated {network} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = ModuleType(name)
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - our own generated code
    sys.modules[name] = module
    return module
