"""Oversized programs are refused early, with an error where the limit is passed; stray text is capped."""

from __future__ import annotations

import pytest

import cnndsl
from cnndsl import parser
from cnndsl.errors import CnnError, CnnSyntaxError
from cnndsl.input_limits import MAX_STATEMENTS, MAX_TOKENS, check_size
from cnndsl.source import MAX_SOURCE_BYTES, SourceFile

HEAD = "network n {\n    input 3x8x8\n"


def only_error(text: str) -> tuple[int, int, str]:
    with pytest.raises(CnnError) as raised:
        cnndsl.loads(text, name="big.cnn")
    [diagnostic] = raised.value.diagnostics
    return diagnostic.span.line, diagnostic.span.column, diagnostic.message


def test_a_million_statements_are_refused_before_parsing():
    # They used to take 54 s and 1.3 GB before the 100,000-op limit applied.
    line, column, message = only_error(HEAD + "relu\n" * 1_000_000 + "}\n")
    assert message == f"more than {MAX_STATEMENTS:,} statements in one file, the most it may have"
    assert (line, column) == (MAX_STATEMENTS + 1, 1)


def test_statements_on_one_line_count_too():
    line, _, message = only_error(HEAD + "relu;" * 1_000_000 + "\n}\n")
    assert line == 3
    assert message.startswith(f"more than {MAX_STATEMENTS:,} statements")


def test_a_line_of_a_million_numbers_is_refused_before_parsing():
    line, _, message = only_error(HEAD + "    conv " + "1 " * (MAX_TOKENS + 10) + "\n}\n")
    assert line == 3
    assert message == f"more than {MAX_TOKENS:,} names, numbers and symbols in one file, the most it may have"


def test_text_longer_than_a_file_may_be_is_refused():
    padding = "#" * 1023 + "\n"
    line, _, message = only_error(HEAD + "}\n" + padding * (MAX_SOURCE_BYTES // len(padding) + 1))
    assert message == "the text is longer than 8 MiB, the most a .cnn file may have"
    assert line == MAX_SOURCE_BYTES // len(padding) + 3


def test_the_limits_leave_room_for_the_largest_network_and_for_comments():
    check_size(SourceFile("ok.cnn", HEAD + "    conv 64 3x3 stride=2\n" * (MAX_STATEMENTS - 3) + "}\n"))
    # Comments count for neither limit, whatever they hold.
    comment = "# conv 16 3x3; relu; a b\n"
    check_size(SourceFile("ok.cnn", HEAD + "}\n" + comment * (MAX_STATEMENTS + 1)))
    with pytest.raises(CnnSyntaxError):
        check_size(SourceFile("big.cnn", HEAD + "    relu\n" * (MAX_STATEMENTS - 1) + "}\n"))


def test_a_megabyte_line_of_stray_characters_stops_after_a_few_recoveries(monkeypatch):
    # One error per line is reported, but every stray character was a recovery: 17 s for 1 MB.
    calls = []
    describe = parser._syntax_diagnostic
    monkeypatch.setattr(parser, "_syntax_diagnostic", lambda *args: calls.append(1) or describe(*args))
    line, column, message = only_error(HEAD + "    " + "\x01" * 1_000_000 + "\n}\n")
    assert (line, column, message) == (3, 5, "unexpected character '\\x01'")
    assert len(calls) <= parser.MAX_SYNTAX_RECOVERIES + 1


def test_many_stray_characters_on_many_lines_still_report_twenty_errors():
    with pytest.raises(CnnError) as raised:
        cnndsl.loads(HEAD + "    relu @@@@@\n" * 100 + "}\n")
    assert len(raised.value.diagnostics) == parser.MAX_SYNTAX_ERRORS
