"""The bad-input corpus: `cnndsl check` on each tests/bad/*.cnn prints exactly the errors it names.

Each file starts with its expectations, one per error, in the order they are reported:

    # expect: 3:10: unknown layer 'covn' (did you mean 'conv'?)
    # expect: imports/cycle_b.cnn:2:1: import cycle: ...   (an error in an imported file)
    #   in block stage(128) called at name.cnn:20:5        (the call chain of the error above)

Companion files that the cases import live in tests/bad/imports/ and are not cases themselves.
"""

from __future__ import annotations

import io
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from cnndsl.cli import main

BAD = Path(__file__).resolve().parent / "bad"
CASES = sorted(BAD.glob("*.cnn"))
EXPECT = re.compile(r"^# expect: (?:(?P<file>[^\s:]+\.cnn):)?(?P<line>\d+):(?P<column>\d+): (?P<message>.+)$")
CHAIN = re.compile(r"^#(?P<frame>   in block .+)$")
HEADLINE = re.compile(r"^\S+:\d+:\d+: error: ")


def expected_lines(case: Path) -> list[str]:
    """The headlines and call-chain lines the case's comments promise, as the CLI renders them."""
    expected = []
    for line in case.read_bytes().decode("utf-8", errors="replace").splitlines():
        if match := EXPECT.match(line):
            where = match["file"] or case.name
            expected.append(f"{where}:{match['line']}:{match['column']}: error: {match['message']}")
        elif match := CHAIN.match(line):
            expected.append(match["frame"][1:])  # the CLI indents chain lines by two spaces
    return expected


def check(case: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.chdir(BAD)  # so files are named as a user in that folder would see them
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["check", case.name])
    return code, out.getvalue(), err.getvalue()


def test_the_corpus_covers_the_spec():
    names = {case.stem for case in CASES}
    # The kinds of mistakes the issue asks for, each with at least one file.
    for required in [
        "syntax_expected",
        "unknown_layer",
        "unknown_block",
        "unknown_parameter",
        "missing_argument",
        "extra_argument",
        "duplicate_argument",
        "non_integer_size",
        "non_positive_size",
        "stride_zero",
        "kernel_too_large",
        "residual_mismatch",
        "concat_mismatch",
        "fc_before_flatten",
        "recursion",
        "import_cycle",
        "import_missing",
        "absurd_sizes",
        "several_errors",
        "block_chain",
        # issue 9: named values, several outputs, crops
        "named_value_before_definition",
        "named_value_sibling_branch",
        "named_value_unknown",
        "crop_larger_than_input",
        "output_unknown_name",
    ]:
        assert required in names, f"tests/bad/{required}.cnn is missing"


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_bad_file_reports_its_errors(case: Path, monkeypatch: pytest.MonkeyPatch):
    expected = expected_lines(case)
    assert expected, f"{case.name} names no `# expect:` line"
    code, out, err = check(case, monkeypatch)
    assert code == 1, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    reported = [line for line in lines if HEADLINE.match(line) or line.startswith("  in block ")]
    assert reported == expected
    headlines = [i for i, line in enumerate(lines) if HEADLINE.match(line)]
    for index in headlines:
        # Each error shows its source line and a caret under the culprit.
        if "found the end of the file" not in lines[index]:
            assert re.fullmatch(r"\s*\^+", lines[index + 2]), "\n".join(lines[index : index + 3])
    summary = lines[-1]
    if len(headlines) > 1:
        assert summary == f"{len(headlines)} errors"
