"""Which files the front end reads: only regular .cnn files of bounded size, each refusal one clean error."""

from __future__ import annotations

import os
import sys

import pytest

import cnndsl
from cnndsl.errors import CnnError, CnnUsageError
from cnndsl.program import MAX_IMPORT_DEPTH
from cnndsl.source import MAX_SOURCE_BYTES

NOT_REGULAR = "it is not a regular file (a device, a pipe or a socket)"
TOO_LARGE = "the file is 2,147,483,648 bytes; a .cnn file may have at most 8 MiB"
NETWORK = "network n {\n    input 3x8x8\n    relu\n}\n"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="needs FIFOs and symbolic links")


def import_error(folder, written: str) -> str:
    """The one message of a file whose first line imports `written`, located at that import."""
    main = folder / "main.cnn"
    main.write_text(f'import "{written}"\n' + NETWORK, encoding="utf-8")
    with pytest.raises(CnnError) as raised:
        cnndsl.load(main)
    [diagnostic] = raised.value.diagnostics
    assert (diagnostic.span.source.name, diagnostic.span.line, diagnostic.span.column) == (str(main), 1, 1)
    return diagnostic.message


@posix_only
@pytest.mark.parametrize(
    "make, written, message",
    [
        (lambda f: (f / "blocks.cnn").mkdir(), "blocks.cnn", "it is a folder, not a file"),
        (lambda f: os.mkfifo(f / "fifo.cnn"), "fifo.cnn", NOT_REGULAR),
        (lambda f: (f / "loop.cnn").symlink_to("loop.cnn"), "loop.cnn", "loop"),
        (lambda f: (f / "zero.cnn").symlink_to("/dev/zero"), "zero.cnn", "/dev/zero, which is not a .cnn"),
        (lambda f: None, "/dev/zero", "only .cnn files can be imported"),
        (lambda f: None, "a\0b.cnn", "a file name cannot contain a NUL character"),
        (lambda f: None, "a" * 100_000 + ".cnn", "file name too long"),
    ],
    ids=["folder", "fifo", "link-loop", "link-to-device", "device", "nul", "huge-name"],
)
def test_an_import_of_what_is_not_a_cnn_file_is_one_error_at_the_import(tmp_path, make, written, message):
    make(tmp_path)
    found = import_error(tmp_path, written)
    assert message in found
    assert len(found) < 200  # a 100,000-character name is not echoed in full


@posix_only
def test_a_cnn_link_to_another_file_is_not_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("network leaked {\n    input 3\n}\nSECRET LINE\n")
    (tmp_path / "blocks.cnn").symlink_to(secret)
    message = import_error(tmp_path, "blocks.cnn")
    assert "which is not a .cnn file" in message
    assert "SECRET" not in message


def test_a_long_chain_of_imports_stops_at_the_limit(tmp_path):
    files = 3 * MAX_IMPORT_DEPTH  # ~490 used to end in "too deeply nested ... (3 levels)"
    for index in range(files):
        text = f'import "f{index + 1}.cnn"\n'
        (tmp_path / f"f{index}.cnn").write_text(text + (NETWORK if index == 0 else ""))
    (tmp_path / f"f{files}.cnn").write_text("block b {\n    relu\n}\n")
    with pytest.raises(CnnError) as raised:
        cnndsl.load(tmp_path / "f0.cnn")
    [diagnostic] = raised.value.diagnostics
    refused = f"f{MAX_IMPORT_DEPTH + 1}.cnn"
    assert diagnostic.message == f"cannot import '{refused}': imports nest more than 100 files deep"
    assert diagnostic.span.source.name.endswith(f"f{MAX_IMPORT_DEPTH}.cnn")


def test_imports_nested_up_to_the_limit_are_fine(tmp_path):
    last = MAX_IMPORT_DEPTH - 1  # main.cnn imports f0.cnn: the first level
    for index in range(last):
        (tmp_path / f"f{index}.cnn").write_text(f'import "f{index + 1}.cnn"\n')
    (tmp_path / f"f{last}.cnn").write_text("block b {\n    relu\n}\n")
    (tmp_path / "main.cnn").write_text('import "f0.cnn"\nnetwork n {\n    input 3x8x8\n    b()\n}\n')
    assert cnndsl.load(tmp_path / "main.cnn").output_shape == (3, 8, 8)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, cli):
    # Sparse: 2 GB that take no disk, and that reading would take seconds and gigabytes.
    with open(tmp_path / "big.cnn", "wb") as file:
        file.truncate(2**31)
    result = cli("check", "big.cnn", cwd=tmp_path)
    assert result.code == 1
    assert result.err == f"cnndsl: error: big.cnn: {TOO_LARGE}\n"
    assert import_error(tmp_path, "big.cnn") == f"cannot import 'big.cnn': {TOO_LARGE}"


def test_a_file_at_the_size_limit_is_read(tmp_path):
    padding = "#" * 99 + "\n"
    text = NETWORK + padding * ((MAX_SOURCE_BYTES - len(NETWORK)) // len(padding))
    (tmp_path / "padded.cnn").write_text(text)
    assert len(text) <= MAX_SOURCE_BYTES
    assert cnndsl.load(tmp_path / "padded.cnn").output_shape == (3, 8, 8)


@pytest.mark.parametrize("spec", [".", "", "..", "/"])
def test_check_of_a_folder_or_an_empty_name_is_a_usage_error(spec, cli, tmp_path):
    result = cli("check", spec, cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("cnndsl: error: ")
    assert "Traceback" not in result.err


@posix_only
def test_check_of_a_fifo_or_a_device_does_not_read_it(cli, tmp_path):
    os.mkfifo(tmp_path / "fifo.cnn")  # reading it would wait for a writer forever
    for spec, shown in [("fifo.cnn", "fifo.cnn"), ("fifo", "fifo"), ("/dev/zero", "/dev/zero")]:
        result = cli("check", spec, cwd=tmp_path)
        assert (result.code, result.err) == (
            2,
            f"cnndsl: error: cannot read {shown}: {NOT_REGULAR}\n",
        )


@pytest.mark.parametrize(
    "spec, message",
    [
        ("", "expected a .cnn file or a built-in architecture name, found an empty name"),
        (123, "expected a .cnn file or a built-in architecture name, found int 123"),
        (None, "expected a .cnn file or a built-in architecture name, found NoneType None"),
        (b"lenet5", "expected a .cnn file or a built-in architecture name, found bytes b'lenet5'"),
        ("a\0b", "a file name cannot contain a NUL character: a\\x00b"),
        ("a" * 100_000, "cannot read " + "a" * 77 + "...: file name too long"),
    ],
)
def test_load_of_something_that_names_no_file_is_a_usage_error(spec, message):
    with pytest.raises(CnnUsageError) as raised:
        cnndsl.load(spec)
    assert raised.value.message == message


def test_a_folder_does_not_hide_the_built_in_of_its_name(tmp_path, monkeypatch):
    (tmp_path / "lenet5").mkdir()
    monkeypatch.chdir(tmp_path)
    assert cnndsl.load("lenet5").params == 61_706



def test_fmt_refuses_an_oversized_file_before_reading_it(tmp_path, cli):
    with open(tmp_path / "big.cnn", "wb") as file:
        file.truncate(2**31)
    result = cli("fmt", "--check", "big.cnn", cwd=tmp_path)
    assert (result.code, result.err) == (2, f"cnndsl: error: cannot read big.cnn: {TOO_LARGE}\n")


def test_fmt_reads_no_more_of_stdin_than_a_file_may_have(cli, monkeypatch):
    class Endless:
        def read(self, size: int = -1) -> str:
            assert size >= 0, "read stdin to its end"
            return "#" * size

    monkeypatch.setattr("sys.stdin", Endless())
    result = cli("fmt", "-")
    assert (result.code, result.err) == (2, "cnndsl: error: cannot read <stdin>: it has more than 8 MiB\n")
