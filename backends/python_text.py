"""Text from a .cnn program made safe to paste into generated Python, and the check that it was.

Everything a backend writes into a generated module that it did not write itself (file names,
comments, source lines, names) goes through one of these functions: `comment_text` for a `#`
comment, `docstring_text` for a line inside a triple-quoted docstring, `string_literal` for a
quoted string. `checked_source` then compiles the module before anyone writes or runs it.
"""

from __future__ import annotations

import re

from cnndsl.errors import CnnError

# A quote that could help close a `"""` docstring: any but the last of a run of quotes.
_QUOTE_IN_RUN = re.compile(r'"(?=")')
_LITERAL_ESCAPES = {'"': '\\"', "\\": "\\\\"}


def _escape(character: str) -> str:
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` on one line that shows as it reads: whitespace as spaces, the rest as escapes.

    A line break of any kind (CR, form feed, U+2028, ...) would end a comment for an editor or
    for Python; NUL makes a module unimportable; a lone surrogate (from an undecodable file
    name) cannot be written as UTF-8; bidirectional controls make code read other than it runs.
    """
    return "".join(
        character if character.isprintable() else " " if character.isspace() else _escape(character)
        for character in text.expandtabs()
    )


def comment_text(text: str) -> str:
    """The text of a one-line `#` comment: whitespace runs as single spaces, nothing unprintable."""
    return " ".join(printable(text).split())


def docstring_text(text: str, closes: bool = False) -> str:
    """One line of a triple-quoted docstring that shows `text`: backslashes and quote runs escaped.

    `closes`: the closing quotes follow on this line, so a last quote is escaped too. Escape
    after wrapping, never before: a line break between the two backslashes of an escaped one
    would leave a line continuation, or a broken escape such as a lone backslash before `x`.
    """
    text = _QUOTE_IN_RUN.sub(r'\\"', printable(text).replace("\\", "\\\\"))
    return text[:-1] + '\\"' if closes and text.endswith('"') else text


def string_literal(text: str) -> str:
    """A double-quoted Python string literal for `text`, unprintable characters as escapes."""
    body = "".join(_LITERAL_ESCAPES.get(c) or (c if c.isprintable() else _escape(c)) for c in text)
    return f'"{body}"'


def checked_source(source: str, what: str) -> str:
    """`source` if it compiles as a module; otherwise an internal error, so nothing is written.

    The escaping above should make this unreachable; it is the last guard between a bug in a
    backend and a file that `compile` reports as written but that does not import.
    """
    try:
        source.encode("utf-8")
        compile(source, f"<generated {what}>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, UnicodeError) as error:
        raise CnnError(
            f"internal error: the generated {what} would not import ({error}); "
            "nothing was written. Please report this as a cnndsl bug"
        ) from None
    return source
