"""Lark's built parse tables cached as JSON (never a pickle) in a folder only this user can write."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable
from typing import Any

from lark import Lark
from lark.grammar import Rule
from lark.lexer import TerminalDef

# Building the LALR tables takes about 0.1 s, a third of a `cnndsl check`; loading them takes 0.02 s.
# Lark's own cache is a pickle, and unpickling a file runs any code it names, so a file planted
# in a shared folder would run as the user. JSON only ever yields plain data.
CACHE_NAME = "cnn-grammar.json"
# The file is about 80 KB; anything much larger is not ours.
MAX_CACHE_BYTES = 4 * 1024 * 1024
# Raise when the layout written below changes, so that older files are rebuilt rather than misread.
CACHE_FORMAT = 1
# Options that Lark keeps in its serialized form but that are objects, given again on loading.
_LIVE_OPTIONS = ("postlex", "import_paths", "source_path", "_plugins", "lexer_callbacks")
_NEEDS_ALL = ("O_NOFOLLOW", "O_DIRECTORY")


def cache_folder() -> str | None:
    """$XDG_CACHE_HOME/cnndsl, or ~/.cache/cnndsl; None where this system cannot open it safely."""
    if not all(hasattr(os, flag) for flag in _NEEDS_ALL) or os.open not in os.supports_dir_fd:
        return None  # e.g. Windows: no way to open the file without following links; build instead
    root = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(root):  # the XDG spec: a relative path is to be ignored
        root = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "cnndsl")


def cache_key(grammar: str, options: dict[str, Any]) -> str:
    """Changes with the grammar, the Lark version, the options and this file's layout."""
    import lark

    plain = (str, int, float, bool, type(None))
    described = sorted((name, v if isinstance(v, plain) else type(v).__name__) for name, v in options.items())
    text = json.dumps([CACHE_FORMAT, lark.__version__, grammar, repr(described)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_or_build(build: Callable[[], Lark], key: str, **live_options: Any) -> Lark:
    """The parser from the cache if a private, valid cache file holds `key`; else build() it and
    save it there. A cache that is missing, stale, corrupt or not private is ignored, never fatal."""
    folder = _private_folder()
    if folder is None:
        return build()
    try:
        cached = _read(folder, key)
        if cached is not None:
            try:
                return Lark._load_from_dict(cached["data"], cached["memo"], **live_options)
            except Exception:  # noqa: BLE001 - a damaged file of plain data: rebuild it
                pass
        parser = build()
        _write(folder, key, parser)
        return parser
    finally:
        os.close(folder)


def _is_private(status: os.stat_result) -> bool:
    """Owned by this user and writable by no one else."""
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _private_folder() -> int | None:
    """A descriptor of the cache folder (created 0700 if missing), or None if others could change it.

    The folder is opened without following a link and checked through its descriptor, so it cannot
    be swapped for another between the check and the use.
    """
    path = cache_folder()
    if path is None:
        return None
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        folder = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except (OSError, ValueError):
        return None
    try:
        if _is_private(os.fstat(folder)):
            return folder
    except OSError:
        pass
    os.close(folder)
    return None


def _read(folder: int, key: str) -> dict[str, Any] | None:
    try:
        descriptor = os.open(CACHE_NAME, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode) or not _is_private(status) or status.st_size > MAX_CACHE_BYTES:
            return None
        try:
            cached = json.loads(file.read(MAX_CACHE_BYTES + 1), object_hook=_decode_pairs)
        except (OSError, ValueError, RecursionError):
            return None
    if not isinstance(cached, dict) or cached.get("key") != key:
        return None
    return cached


def _write(folder: int, key: str, parser: Lark) -> None:
    """Write the tables to a private temporary file, then rename it over the cache in one step."""
    data, memo = parser.memo_serialize([TerminalDef, Rule])
    data = dict(data, options={k: v for k, v in data["options"].items() if k not in _LIVE_OPTIONS})
    try:
        text = json.dumps({"key": key, "data": _encode_pairs(data), "memo": _encode_pairs(memo)})
    except (TypeError, ValueError):
        return  # a Lark version that serializes something else: no cache, nothing lost
    temporary = f".{CACHE_NAME}.{os.getpid()}.tmp"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        with os.fdopen(os.open(temporary, flags, 0o600, dir_fd=folder), "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, CACHE_NAME, src_dir_fd=folder, dst_dir_fd=folder)
    except OSError:
        try:
            os.unlink(temporary, dir_fd=folder)
        except OSError:
            pass


def _encode_pairs(value: Any) -> Any:
    """JSON keys are strings; Lark's tables are keyed by numbers, kept here as [key, value] pairs."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode_pairs(v) for k, v in value.items()}
        return {"__pairs__": [[_encode_pairs(k), _encode_pairs(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode_pairs(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _decode_pairs(value: dict[str, Any]) -> Any:
    if len(value) == 1 and "__pairs__" in value:
        return {(tuple(k) if isinstance(k, list) else k): v for k, v in value["__pairs__"]}
    return value
