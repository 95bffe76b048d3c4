"""Lark's contextual lexer with the ARRAY terminal matched on its own, so its regex compiles once."""

from __future__ import annotations

from typing import Any

from lark.lexer import BasicLexer, ContextualLexer, Scanner

# ARRAY's regex (numbers nested four brackets deep) is over a thousand characters. The contextual
# lexer builds one scanner per parser state it meets, each compiling an alternation of that
# state's terminals, so ARRAY was recompiled in about 20 of them: ~0.1 s, a fifth of a `summary`.
# Matched apart, it compiles once (Python's `re` caches it by its text).
_ARRAY = "ARRAY"


class _ArrayApartLexer(BasicLexer):
    """One state's lexer: ARRAY, when the state accepts it, before the state's other terminals.

    Trying ARRAY first is what the joined pattern did: terminals are tried in priority order and
    the only one above ARRAY (CALL_NAME, priority 3) cannot start with the '[' that ARRAY needs.
    """

    def __init__(self, conf: Any, comparator: Any = None) -> None:
        super().__init__(conf, comparator)
        apart = [t for t in self.terminals if t.name == _ARRAY]
        self._array = apart[0] if apart else None

    def _build_scanner(self) -> Scanner:
        if self._array is None:
            return super()._build_scanner()
        everything = self.terminals
        self.terminals = [t for t in everything if t.name != _ARRAY]
        try:
            scanner = super()._build_scanner()
        finally:
            self.terminals = everything
        scanner.allowed_types.add(_ARRAY)  # still named in "expected ..." messages
        return scanner

    def match(self, text: Any, pos: int) -> tuple[str, str] | None:
        scanner = self.scanner
        if self._array is not None and text.text.startswith("[", pos):
            found = self.re.compile(self._array.pattern.to_regexp(), self.g_regex_flags).match(
                text.text, pos, text.end
            )
            if found:
                return found.group(0), _ARRAY
        return scanner.match(text, pos)


class ArrayApartContextualLexer(ContextualLexer):
    """Given to Lark as `_plugins={"ContextualLexer": ArrayApartContextualLexer}`."""

    BasicLexer = _ArrayApartLexer
