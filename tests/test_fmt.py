"""`cnndsl fmt`: canonical, idempotent, meaning-preserving, comment-keeping, atomic."""

from __future__ import annotations

import os
import random
import re
import stat
from pathlib import Path

import pytest
from conftest import ARCHITECTURES, EXAMPLES, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnndsl.errors import CnnError
from cnndsl.formatter import format_text
from cnndsl.loader import load

SOURCES = sorted([*ARCHITECTURES.glob("*.cnn"), *EXAMPLES.glob("*.cnn")])
NETWORK_FILES = [p for p in sorted(ARCHITECTURES.glob("*.cnn")) if p.name != "resnet_blocks.cnn"]


def _split_comment(line: str) -> tuple[str, str]:
    """Code and comment of one line (the sources have no '#' inside strings)."""
    code, sep, comment = line.partition("#")
    return code, sep + comment


SPACE = ["", " "]


def scramble_spacing(text: str, rng: random.Random) -> str:
    """The same program with different horizontal whitespace: indentation, gaps, padding."""
    lines = []
    for line in text.split("\n"):
        code, comment = _split_comment(line)
        if code.strip():
            code = re.sub(r"[ \t]+", lambda _: rng.choice([" ", "  ", "\t", "   "]), code.strip())
            # Room inside brackets and around `=`, `,`, `;`, `:` and `*` is never significant,
            # but a call's name must stay glued to its "(", so nothing goes before "(".
            code = re.sub(r"([(\[])", lambda m: m[1] + rng.choice(["", " ", "  "]), code)
            # A comparison (`==`, `<=`) is one token: room goes around it, not inside it.
            separators = r"(==|!=|<=|>=|[)\],;:=*])"
            code = re.sub(separators, lambda m: rng.choice(SPACE) + m[1] + rng.choice(SPACE), code)
            code = rng.choice(["", " ", "\t", "        ", "  "]) + code
        lines.append(code + rng.choice(["", " ", "   "]) + comment + rng.choice(["", "  "]))
    return "\n".join(lines)


def scramble_layout(text: str, rng: random.Random) -> str:
    """Also move statements onto their own lines and add empty lines: same meaning, new layout."""
    text = scramble_spacing(text, rng)
    lines = []
    for line in text.split("\n"):
        code, comment = _split_comment(line)
        if ";" in code and rng.random() < 0.5:
            code = code.replace(";", "\n")
        lines.append(code + comment)
        if rng.random() < 0.2:
            lines.append(rng.choice(["", "   ", "\n"]))
    return "\n".join(lines)


def _comments(text: str) -> list[str]:
    return [comment.rstrip() for line in text.splitlines() if (comment := _split_comment(line)[1])]


def _summaries(folder: Path) -> dict[str, str]:
    return {path.name: load(folder / path.name).summary("json") for path in NETWORK_FILES}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_shipped_files_are_formatted(path):
    result = run_cli("fmt", "--check", str(path))
    assert result.code == 0, result.err
    assert format_text(path.read_text()) == path.read_text()


@pytest.mark.parametrize("seed", range(3))
def test_spacing_does_not_matter(seed):
    rng = random.Random(seed)
    for path in SOURCES:
        original = path.read_text()
        scrambled = scramble_spacing(original, rng)
        assert scrambled != original
        assert format_text(scrambled) == format_text(original), path.name


@pytest.mark.parametrize("seed", range(2))
def test_formatting_keeps_meaning_and_comments(tmp_path, seed):
    rng = random.Random(seed)
    for path in ARCHITECTURES.glob("*.cnn"):
        original = path.read_text()
        scrambled = scramble_layout(original, rng)
        formatted = format_text(scrambled)
        assert format_text(formatted) == formatted, f"{path.name}: not idempotent"
        assert _comments(formatted) == _comments(original), path.name
        (tmp_path / path.name).write_text(formatted)
    for name, summary in _summaries(tmp_path).items():
        assert summary == load(ARCHITECTURES / name).summary("json"), name


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), index=st.integers(0, len(SOURCES) - 1))
def test_formatting_is_idempotent(seed, index):
    text = scramble_layout(SOURCES[index].read_text(), random.Random(seed))
    once = format_text(text)
    assert format_text(once) == once


MESSY = """\


   # A header comment
import    "blocks.cnn"   # where the blocks live
network   tiny ( classes = 10 , width=2*4 ) {    # the network
input 1x6x6
conv 1 3x3 weights=[[1,0,-1],   # row 1
   [1,0,-1],# row 2
          [1,0,-1]] bias = false
        # an own-line comment


  relu;leakyrelu -0.1 ;;
  conv width * 2+1 3x3 pad=( 1,1 )
  x1 : stage( 64 , blocks = (2 - 1) ) * ( 3 )
  repeat 2 { conv 4 3x3 pad=same ; relu }
  residual { relu } shortcut { relu;relu }
  c: concat { branch { } branch { conv 3 1x1 }
  # between branches
  branch { maxpool 3x3 stride=1 pad=1; conv 2 1x1 } }
  fc classes       # short
  softmax # a longer comment
  # before the brace

}
block b { relu }
# the end
"""

CANONICAL = """\
# A header comment
import "blocks.cnn"  # where the blocks live

network tiny(classes=10, width=2 * 4) {  # the network
    input 1x6x6
    conv 1 3x3 weights=[[1, 0, -1],  # row 1
                        [1, 0, -1],  # row 2
                        [1, 0, -1]] bias=false
    # an own-line comment

    relu; leakyrelu -0.1
    conv width*2+1 3x3 pad=(1, 1)
    x1: stage(64, blocks=(2 - 1)) * (3)
    repeat 2 { conv 4 3x3 pad=same; relu }
    residual { relu } shortcut { relu; relu }
    c: concat {
        branch { }
        branch { conv 3 1x1 }
        # between branches
        branch { maxpool 3x3 stride=1 pad=1; conv 2 1x1 }
    }
    fc classes  # short
    softmax     # a longer comment
    # before the brace
}

block b {
    relu
}
# the end
"""


def test_canonical_layout():
    assert format_text(MESSY) == CANONICAL
    assert format_text(CANONICAL) == CANONICAL


def test_layout_details():
    # a hanging bracket indents its contents by 4 and closes at the statement's indentation
    hanging = "network n {\n input 3x8x8\n conv 2 1x1 weights=[\n1, 2,\n3, 4,\n5, 6]\n}\n"
    assert format_text(hanging) == (
        "network n {\n    input 3x8x8\n    conv 2 1x1 weights=[\n"
        "        1, 2,\n        3, 4,\n        5, 6]\n}\n"
    )
    # a backslash continuation is kept, the next line indented once more
    continued = "network n {\n  input 3x8x8\n  conv 2 \\\n 1x1\n}\n"
    assert format_text(continued) == "network n {\n    input 3x8x8\n    conv 2 \\\n        1x1\n}\n"
    # unary minus and the repetition `*` are told apart from arithmetic by the parse
    signs = "block b(n) {\n  leakyrelu -0.1\n  conv n - 1 1x1\n  b(n)*2\n}\n"
    assert format_text(signs) == "block b(n) {\n    leakyrelu -0.1\n    conv n-1 1x1\n    b(n) * 2\n}\n"
    # Windows line endings stay Windows line endings
    assert format_text("network n {\r\n input 3x8x8\r\n}\r\n") == "network n {\r\n    input 3x8x8\r\n}\r\n"
    assert format_text("") == ""
    assert format_text("# only a comment") == "# only a comment\n"


ADAPTIVE_MESSY = """block x(out, stride=1) {
  residual if stride==1 and in_channels==out and not (in_height<2 or in_width >= 3) {   # skip?
    if in_channels*2 == out { relu } else if in_channels != out {
       # inner
       tanh
    }   else {sigmoid}
    s: sum { branch { relu }  branch {  } }
    gate {globalavgpool;conv in_channels 1x1; sigmoid}
    chunk 2 index=1; conv out 1x1 bias=out>3
  }
}
"""
ADAPTIVE_CANONICAL = """block x(out, stride=1) {
    residual if stride == 1 and in_channels == out and not (in_height < 2 or in_width >= 3) {  # skip?
        if in_channels*2 == out { relu } else if in_channels != out {
            # inner
            tanh
        } else { sigmoid }
        s: sum {
            branch { relu }
            branch { }
        }
        gate { globalavgpool; conv in_channels 1x1; sigmoid }
        chunk 2 index=1; conv out 1x1 bias=out>3
    }
}
"""


def test_adaptive_constructs_layout():
    # conditions keep spaces around comparisons; in layer arguments they are unspaced, like `*`;
    # `sum` puts one branch per line, like `concat`
    assert format_text(ADAPTIVE_MESSY) == ADAPTIVE_CANONICAL
    assert format_text(ADAPTIVE_CANONICAL) == ADAPTIVE_CANONICAL


def test_fmt_rewrites_in_place_atomically(tmp_path):
    path = tmp_path / "messy.cnn"
    path.write_text(MESSY)
    path.chmod(0o640)
    result = run_cli("fmt", str(path))
    assert result.code == 0, result.err
    assert path.read_text() == CANONICAL
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert f"reformatted {path}" in result.err
    assert sorted(os.listdir(tmp_path)) == ["messy.cnn"]  # no temporary file left behind
    assert run_cli("fmt", str(path)).err == ""  # nothing more to do


def test_check_names_files_and_changes_nothing(tmp_path):
    messy, tidy = tmp_path / "messy.cnn", tmp_path / "tidy.cnn"
    messy.write_text(MESSY)
    tidy.write_text(CANONICAL)
    result = run_cli("fmt", "--check", str(messy), str(tidy))
    assert result.code == 1
    assert f"would reformat {messy}" in result.err and str(tidy) not in result.err
    assert messy.read_text() == MESSY
    assert run_cli("fmt", "--check", str(tidy)).code == 0


def test_diff_prints_a_unified_diff(tmp_path):
    path = tmp_path / "messy.cnn"
    path.write_text(MESSY)
    result = run_cli("fmt", "--diff", str(path))
    assert result.code == 0
    assert result.out.startswith(f"--- {path}\n+++ {path} (formatted)\n@@ ")
    assert "+    relu; leakyrelu -0.1\n" in result.out and "-  relu;leakyrelu -0.1 ;;\n" in result.out
    assert path.read_text() == MESSY
    assert run_cli("fmt", "--diff", "--check", str(path)).code == 1


def test_folder_and_stdin(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.cnn").write_text(MESSY)
    (tmp_path / "notes.txt").write_text("not .cnn {")
    assert run_cli("fmt", str(tmp_path)).code == 0
    assert (tmp_path / "sub" / "a.cnn").read_text() == CANONICAL
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(MESSY))
    result = run_cli("fmt", "-")
    assert result.code == 0 and result.out == CANONICAL


def test_syntax_error_leaves_the_file_alone(tmp_path):
    path = tmp_path / "broken.cnn"
    text = "network n {\n    input 3x8x8\n    conv 3 3x3 (\n}\n"
    path.write_text(text)
    before = path.stat().st_mtime_ns
    result = run_cli("fmt", str(path))
    assert result.code == 1
    assert result.err.startswith(f"{path}:4:1: error: expected an expression, found '}}'")
    assert "Traceback" not in result.err
    assert path.read_text() == text and path.stat().st_mtime_ns == before


def test_missing_file_is_a_usage_error(tmp_path):
    tidy = tmp_path / "tidy.cnn"
    tidy.write_text(MESSY)
    result = run_cli("fmt", str(tidy), str(tmp_path / "nope.cnn"))
    assert result.code == 2
    assert "no such file or folder" in result.err
    assert tidy.read_text() == MESSY  # checked before anything was written


def test_a_symbolic_link_keeps_pointing_at_its_file(tmp_path):
    real, link = tmp_path / "real.cnn", tmp_path / "link.cnn"
    real.write_text(MESSY)
    link.symlink_to(real.name)
    assert run_cli("fmt", str(link)).code == 0
    assert link.is_symlink() and real.read_text() == CANONICAL


def test_a_folder_without_cnn_files_is_a_usage_error(tmp_path):
    result = run_cli("fmt", "--check", str(tmp_path))
    assert result.code == 2
    assert f"no .cnn files in the folder {tmp_path}" in result.err


def test_the_guard_refuses_a_changed_program_or_a_lost_comment():
    # Formatter bugs must never reach the user: the re-parse check compares meaning and comments.
    from cnndsl.formatter import _parse_with_comments, _require_same_program
    from cnndsl.source import SourceFile

    text = "network n {\n    input 3x8x8\n    relu; relu  # both\n}\n"
    tree, comments = _parse_with_comments(text)
    source = SourceFile("n.cnn", text)
    same = "network n {\n    input 3x8x8\n    relu\n    relu  # both\n}\n"
    _require_same_program(source, tree, comments, same)  # a `;` or a line break: the same program
    for broken, why in [
        ("network n {\n    input 3x8x8\n    relu relu  # both\n}\n", "would mean something else"),
        ("network n {\n    input 3x8x8\n    relu; relu\n}\n", "would lose or change a comment"),
        ("network n {\n    input 3x8x8\n    relu; relu  # both\n", "does not parse"),
    ]:
        with pytest.raises(CnnError, match=why):
            _require_same_program(source, tree, comments, broken)
