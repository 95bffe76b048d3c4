"""Golden outputs in tests/golden: the LeNet-5 summary views and a sample of rendered diagnostics.

After an intended change of output, run `python -m pytest tests/test_cli_golden.py --update-golden`
and review the diff of tests/golden before committing it.
"""

from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
BAD = Path(__file__).resolve().parent / "bad"
# Bad files whose diagnostics together show every part of the rendering: positions, source lines,
# carets under whole tokens, call chains, several errors per file, imported files.
DIAGNOSTIC_SAMPLES = ["block_chain.cnn", "several_errors.cnn", "syntax_expected.cnn", "import_missing.cnn"]


def assert_golden(request: pytest.FixtureRequest, name: str, text: str) -> None:
    path = GOLDEN / name
    if request.config.getoption("--update-golden"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"{path} is missing: run pytest with --update-golden to create it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"output differs from {path} (--update-golden refreshes it)"


@pytest.mark.parametrize(
    ("format", "name"), [("table", "lenet5_summary.txt"), ("json", "lenet5_summary.json")]
)
def test_lenet5_summary(cli, request, format, name):
    result = cli("summary", "lenet5", "--format", format)
    assert result.code == 0, result.err
    assert_golden(request, name, result.out)


def test_diagnostics_sample(cli, request, monkeypatch):
    monkeypatch.chdir(BAD)
    parts = []
    for sample in DIAGNOSTIC_SAMPLES:
        result = cli("check", sample)
        assert result.code == 1
        parts.append(f"$ cnndsl check {sample}\n{result.err}")
    assert_golden(request, "diagnostics.txt", "\n".join(parts))
