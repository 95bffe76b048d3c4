"""The docs cannot rot: every example in docs/language.md checks, the layer reference matches
the op table, and every `$ cnndsl ...` command in the docs prints what the page shows.

After an intended change of output, refresh the pages with
    python tests/test_docs.py --update
and read the diff before committing it.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ARCHITECTURES, EXAMPLES, ROOT, run_cli

from cnndsl import ops
from cnndsl.loader import check_all
from cnndsl.op_reference import replace_section
from cnndsl.source import SourceFile

LANGUAGE = ROOT / "docs" / "language.md"
TUTORIAL = ROOT / "docs" / "tutorial.md"
# `cnndsl run` reports how long it took; that number changes from run to run.
TIMING = re.compile(r"in \d+(?:\.\d+)? ms")
FENCE = re.compile(r"^```(\S*)\n(.*?)^```$", re.M | re.S)
OUTPUT_OF = re.compile(r"^<!-- (\$ cnndsl [^\n]*?) -->\n```\S*\n(.*?)^```$", re.M | re.S)
FILE_COPY = re.compile(r"^<!-- (examples/\S+\.cnn) -->\n```cnn\n(.*?)^```$", re.M | re.S)


@dataclass(frozen=True)
class Example:
    line: int
    command: str
    shown: str  # the output as the page shows it
    start: int  # offsets of `shown` in the page
    end: int


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def cnn_blocks(text: str) -> list[tuple[int, str]]:
    return [(_line(text, m.start()), m[2]) for m in FENCE.finditer(text) if m[1] == "cnn"]


def console_examples(text: str) -> list[Example]:
    """Each `$ cnndsl ...` line of a console block with the output below it, and each
    `<!-- $ cnndsl ... -->` comment with the fenced block right after it."""
    examples = []
    for match in FENCE.finditer(text):
        if match[1] != "console":
            continue
        body_start = match.start(2)
        for command in re.finditer(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", match[2], re.M):
            examples.append(
                Example(
                    _line(text, body_start + command.start()),
                    command[1],
                    command[2],
                    body_start + command.start(2),
                    body_start + command.end(2),
                )
            )
    for match in OUTPUT_OF.finditer(text):
        line = _line(text, match.start())
        examples.append(Example(line, match[1][2:], match[2], match.start(2), match.end(2)))
    return sorted(examples, key=lambda e: e.line)


def run_example(command: str) -> str:
    words = shlex.split(command)
    assert words[0] == "cnndsl", f"only cnndsl commands run in the docs: {command}"
    result = run_cli(*words[1:], cwd=ROOT)
    return result.out + result.err


def _normalise(output: str) -> str:
    return TIMING.sub("in N ms", output).rstrip("\n") + "\n"


README = ROOT / "README.md"
DOCUMENTS = (LANGUAGE, TUTORIAL, README)
COMMAND_EXAMPLES = [(doc, example) for doc in DOCUMENTS for example in console_examples(doc.read_text())]


# ----- docs/language.md ---------------------------------------------------------------------
CNN_EXAMPLES = [
    (doc, line, source) for doc in (LANGUAGE, README) for line, source in cnn_blocks(doc.read_text())
]


@pytest.mark.parametrize(
    "document,line,source", CNN_EXAMPLES, ids=[f"{doc.name}:{line}" for doc, line, _ in CNN_EXAMPLES]
)
def test_language_examples_check(document, line, source):
    # As if the example were a file next to the built-in architectures, so imports resolve.
    path = ARCHITECTURES / "language_example.cnn"
    models = check_all(SourceFile(f"{document.name}:{line}", source, path))
    assert models or "block " in source


@pytest.mark.parametrize("kind", ops.LAYER_KINDS)
def test_every_layer_kind_is_documented_with_an_example(kind):
    text = LANGUAGE.read_text()
    heading = text.find(f"\n### `{kind}`\n")
    assert heading >= 0, f"docs/language.md has no section for {kind}"
    section = text[heading : text.find("\n### ", heading + 1)]
    examples = [source for _, source in cnn_blocks(section)]
    assert any(re.search(rf"^\s*{kind}\b", source, re.M) for source in examples), kind


def test_layer_reference_matches_the_op_table():
    text = LANGUAGE.read_text()
    assert replace_section(text) == text, "regenerate: python -m cnndsl.op_reference docs/language.md"


def test_language_names_every_keyword_of_the_grammar():
    grammar = (ROOT / "grammars" / "cnn.lark").read_text()
    keywords = set(re.findall(r'"([a-z]+)"', grammar))
    text = LANGUAGE.read_text()
    structure = {"import", "network", "block", "repeat", "residual", "shortcut", "concat", "branch"}
    assert keywords == structure | {"if", "else", "gate", "sum", "and", "or", "not", "from", "output"}
    assert all(f"`{word}`" in text for word in keywords)


# ----- console examples of every document; then docs/tutorial.md ----------------------------
@pytest.mark.parametrize(
    "document,example",
    COMMAND_EXAMPLES,
    ids=[f"{doc.name}:{example.line}: {example.command[:60]}" for doc, example in COMMAND_EXAMPLES],
)
def test_commands_print_what_the_docs_show(document, example):
    assert _normalise(run_example(example.command)) == _normalise(example.shown)


@pytest.mark.parametrize("name", [m[1] for m in FILE_COPY.finditer(TUTORIAL.read_text())])
def test_tutorial_shows_example_files_as_they_are(name):
    copies = [m[2] for m in FILE_COPY.finditer(TUTORIAL.read_text()) if m[1] == name]
    assert copies == [(ROOT / name).read_text()] * len(copies)


def test_tutorial_uses_every_example_file():
    text = TUTORIAL.read_text()
    for path in sorted(EXAMPLES.glob("*")):
        assert f"examples/{path.name}" in text, f"docs/tutorial.md never mentions examples/{path.name}"


def test_pictures_exist():
    for document in (LANGUAGE, TUTORIAL):
        for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", document.read_text()):
            assert (document.parent / target).is_file(), target


def update(document: Path) -> int:
    """Rewrite the command outputs and file copies in `document` with what is true now."""
    text = document.read_text()
    changed = 0
    for match in reversed(list(FILE_COPY.finditer(text))):
        current = (ROOT / match[1]).read_text()
        if current != match[2]:
            changed += 1
            text = text[: match.start(2)] + current + text[match.end(2) :]
    for example in sorted(console_examples(text), key=lambda e: e.start, reverse=True):
        output = run_example(example.command).rstrip("\n") + "\n"
        if _normalise(output) != _normalise(example.shown):
            changed += 1
            text = text[: example.start] + output + text[example.end :]
    document.write_text(text)
    return changed


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/test_docs.py --update")
    for document in DOCUMENTS:
        print(f"{document.relative_to(ROOT)}: updated {update(document)} examples")
