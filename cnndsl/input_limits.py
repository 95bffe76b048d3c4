"""Limits on a program's size, counted cheaply in one pass over the text before parsing it."""

from __future__ import annotations

import re
from itertools import islice
from operator import methodcaller

from .errors import CnnSyntaxError
from .source import MAX_SOURCE_BYTES, SourceFile, Span

# Parsing costs about 50 microseconds a statement: 1,000,000 statements took 54 s and 1.3 GB
# before the 100,000-op limit of one network applied. Half as many again leaves room for blocks
# and several networks in one file; a file past the limit is refused before parsing.
MAX_STATEMENTS = 150_000
# Up to eight names, numbers and symbols a statement (`conv 64 3x3 stride=2` has six); a line
# of a million numbers is no network either.
MAX_TOKENS = 8 * MAX_STATEMENTS

# A line's first character of code, or a ';': at least one per statement (a statement continued
# over several lines inside brackets counts more than once, which only errs on the safe side).
# Comments match too, so that their words and semicolons are skipped, but leave group 1 empty.
_STATEMENT = re.compile(r"#[^\n]*|(^[\t\f ]*[^\s#]|;)", re.MULTILINE)
# One name, number or symbol: at least one per token. A number is one, as the grammar reads it
# (`-0.125,` is three), so that a megabyte of literal weights, read as one array, stays well
# inside the limit.
_TOKEN = re.compile(r"#[^\n]*|([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?(?!\w)|\w+|[^\s\w#])")


def _past_limit(pattern: re.Pattern[str], text: str, limit: int) -> int | None:
    """Where group 1 of `pattern` matches for the (limit + 1)th time, if it does.

    The regex, the filter and islice all run in C: a few milliseconds a megabyte.
    """
    ends = filter((-1).__ne__, map(methodcaller("end", 1), pattern.finditer(text)))
    return next(islice(ends, limit, None), None)


def check_size(source: SourceFile) -> None:
    """Raise CnnSyntaxError, at the spot where a limit is passed, for text too large to parse."""
    text = source.text
    if len(text) > MAX_SOURCE_BYTES:
        message = f"the text is longer than {MAX_SOURCE_BYTES // 2**20} MiB, the most a .cnn file may have"
        raise CnnSyntaxError(message, Span(source, MAX_SOURCE_BYTES, MAX_SOURCE_BYTES + 1))
    if text.count("\n") + text.count(";") > MAX_STATEMENTS:
        end = _past_limit(_STATEMENT, text, MAX_STATEMENTS)
        if end is not None:
            message = f"more than {MAX_STATEMENTS:,} statements in one file, the most it may have"
            raise CnnSyntaxError(message, Span(source, end - 1, end))
    if len(text) > MAX_TOKENS:
        end = _past_limit(_TOKEN, text, MAX_TOKENS)
        if end is not None:
            message = f"more than {MAX_TOKENS:,} names, numbers and symbols in one file, the most it may have"
            raise CnnSyntaxError(message, Span(source, end - 1, end))
