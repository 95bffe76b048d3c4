"""The parser's table cache: plain JSON, used only from a folder and a file no one else can write."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from cnndsl import grammar_cache
from cnndsl.parser import _BracketNewlines, open_grammar

pytestmark = pytest.mark.skipif(grammar_cache.cache_folder() is None, reason="no cache on this system")

KEY = "test-key"
LENET_OK = "lenet5.cnn: ok: lenet5 1x32x32 -> 10"


class _Payload:
    """Unpickling this runs `touch marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def check_lenet5(cache_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    command = [sys.executable, "-m", "cnndsl", "check", "lenet5"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("shared", [True, False], ids=["world-writable", "private"])
def test_a_planted_pickle_never_runs(tmp_path, shared):
    # Lark's own cache was a pickle: a file planted in $XDG_CACHE_HOME/cnndsl ran as the user.
    home = tmp_path / "cache"
    folder = home / "cnndsl"
    folder.mkdir(parents=True)
    marker = tmp_path / "PWNED"
    for name in ["cnn-grammar.lark-cache", grammar_cache.CACHE_NAME]:
        (folder / name).write_bytes(b"0" * 64 + b"\n" + pickle.dumps(_Payload(marker)))
    if shared:
        os.chmod(home, 0o777)
        os.chmod(folder, 0o777)
        for path in folder.iterdir():
            os.chmod(path, 0o666)
    done = check_lenet5(home)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(LENET_OK)
    assert not marker.exists()


def _cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "cnndsl"


def _load(build=open_grammar, key: str = KEY):
    return grammar_cache.load_or_build(build, key, postlex=_BracketNewlines())


def _refuse_to_build():
    raise AssertionError("built the tables although a valid cache was there")


def _saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid cache file for KEY, written by load_or_build itself."""
    folder = _cache_home(tmp_path, monkeypatch)
    _load()
    cache = folder / grammar_cache.CACHE_NAME
    assert cache.is_file()
    return cache


def test_a_private_cache_is_used_and_parses_like_a_built_parser(tmp_path, monkeypatch):
    _saved(tmp_path, monkeypatch)
    cached = _load(_refuse_to_build)
    text = (Path(__file__).parent.parent / "architectures" / "resnet50.cnn").read_text()
    assert cached.parse(text) == open_grammar().parse(text)


def test_a_cache_for_another_grammar_is_rebuilt(tmp_path, monkeypatch):
    _saved(tmp_path, monkeypatch)
    built = []
    _load(lambda: built.append(1) or open_grammar(), "other")
    assert built


def _assert_ignored(tmp_path: Path) -> None:
    built = []
    parser = _load(lambda: built.append(1) or open_grammar())
    assert built, "the cache was used"
    assert parser.parse("network n {\n input 3\n}\n")


def test_a_cache_file_others_can_write_is_ignored(tmp_path, monkeypatch):
    os.chmod(_saved(tmp_path, monkeypatch), 0o666)
    _assert_ignored(tmp_path)


def test_a_cache_folder_others_can_write_is_ignored_and_left_alone(tmp_path, monkeypatch):
    cache = _saved(tmp_path, monkeypatch)
    os.chmod(cache.parent, 0o777)
    cache.unlink()
    _assert_ignored(tmp_path)
    assert not cache.exists(), "wrote into a folder others can write"


def test_a_linked_cache_file_or_folder_is_ignored(tmp_path, monkeypatch):
    cache = _saved(tmp_path, monkeypatch)
    elsewhere = tmp_path / "elsewhere.json"
    cache.rename(elsewhere)
    cache.symlink_to(elsewhere)
    _assert_ignored(tmp_path)
    folder = cache.parent
    folder.rename(tmp_path / "real")
    folder.symlink_to(tmp_path / "real")
    _assert_ignored(tmp_path)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2]", b'{"key": "test-key"}', b"[" * 100_000])
def test_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch, content):
    cache = _saved(tmp_path, monkeypatch)
    cache.write_bytes(content)
    _assert_ignored(tmp_path)
    # ...and replaced by a good one.
    _load(_refuse_to_build)


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="needs root to give files away")
def test_a_cache_another_user_owns_is_ignored(tmp_path, monkeypatch):
    cache = _saved(tmp_path, monkeypatch)
    os.chown(cache, 12345, 12345)
    _assert_ignored(tmp_path)
    os.chown(cache.parent, 12345, 12345)
    _assert_ignored(tmp_path)
