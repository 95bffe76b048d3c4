"""The language server: pygls wiring from LSP requests to the feature functions, one store per server."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from .. import __version__
from . import features
from .documents import Buffer, Checked, DocumentStore

T = TypeVar("T")
logger = logging.getLogger(__name__)


class _AnsweredError(Exception):
    """A request that could not be read, already answered with an error response."""


class _AnsweringProtocol(LanguageServerProtocol):
    """pygls's protocol, except that a request whose parameters do not fit the method's types is
    answered with JSON-RPC's "invalid params" error: pygls drops it, and the editor would wait
    for the answer forever."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if not ("method" in data and "id" in data and isinstance(data["id"], (int, str))):
                raise  # a notification or a response: there is no one to answer
            message = f"{error.message}: the parameters of '{data['method']}' do not fit its types"
            # pygls's own way of answering a request (it has no public one for a message it could not read).
            self._send_response(data["id"], error=lsp.ResponseError(error.code, message))
            raise _AnsweredError(message) from error


class CnnLanguageServer(LanguageServer):
    """A pygls server holding its own document store (nothing is shared between servers)."""

    def __init__(self) -> None:
        super().__init__("cnndsl", __version__, protocol_cls=_AnsweringProtocol)
        self.store = DocumentStore(self._buffers)

    def report_server_error(self, error: Exception, source: Any) -> None:
        if isinstance(error, _AnsweredError):  # the request's own error response said it
            logger.warning("cnndsl lsp: %s", error)
            return
        super().report_server_error(error, source)

    def _buffers(self) -> list[Buffer]:
        buffers = []
        for uri, document in list(self.workspace.text_documents.items()):
            path = Path(document.path) if uri.startswith("file:") and document.path else None
            buffers.append(Buffer(uri, path, document.source, document.version))
        return buffers

    def checked(self, uri: str) -> Checked | None:
        return self.store.get(uri)

    def publish(self, uri: str) -> None:
        """Check `uri` and send its diagnostics, then those of the open files that import it."""
        for target in [uri, *self.store.importers(uri)]:
            if target != uri:
                self.store.forget(target)  # what it imports changed, though its own text did not
            checked = self.store.get(target)
            if checked is None:
                continue
            params = lsp.PublishDiagnosticsParams(target, features.diagnostics(checked), checked.version)
            self.text_document_publish_diagnostics(params)
        capabilities = self.client_capabilities.workspace
        if (
            target != uri
            and capabilities
            and capabilities.inlay_hint
            and capabilities.inlay_hint.refresh_support
        ):
            self.workspace_inlay_hint_refresh(None)


def _guarded(default: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """A bug in one handler is logged and answered with `default`; the server keeps serving."""

    def decorate(handler: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(handler)
        def guarded(*args: Any) -> T:
            try:
                return handler(*args)
            except Exception:  # noqa: BLE001 - the editor session must survive an internal error
                logger.exception("cnndsl lsp: %s failed", handler.__name__)
                return default

        return guarded

    return decorate


def build_server() -> CnnLanguageServer:
    """A fresh server with every feature registered."""
    server = CnnLanguageServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    @_guarded(None)
    def did_open(params: lsp.DidOpenTextDocumentParams) -> None:
        server.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    @_guarded(None)
    def did_change(params: lsp.DidChangeTextDocumentParams) -> None:
        server.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    @_guarded(None)
    def did_save(params: lsp.DidSaveTextDocumentParams) -> None:
        server.publish(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    @_guarded(None)
    def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        importers = server.store.importers(uri)
        server.store.close(uri)
        server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, []))
        for importer in importers:  # they read the file from disk again, not the closed buffer
            server.publish(importer)

    @server.feature(lsp.TEXT_DOCUMENT_INLAY_HINT, lsp.InlayHintOptions(resolve_provider=False))
    @_guarded([])
    def inlay_hint(params: lsp.InlayHintParams) -> list[lsp.InlayHint]:
        checked = server.checked(params.text_document.uri)
        return features.inlay_hints(checked, params.range) if checked else []

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    @_guarded(None)
    def hover(params: lsp.HoverParams) -> lsp.Hover | None:
        checked = server.checked(params.text_document.uri)
        return features.hover(checked, params.position) if checked else None

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    @_guarded(None)
    def definition(params: lsp.DefinitionParams) -> lsp.Location | None:
        checked = server.checked(params.text_document.uri)
        return features.definition(checked, params.position) if checked else None

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    @_guarded([])
    def references(params: lsp.ReferenceParams) -> list[lsp.Location]:
        checked = server.checked(params.text_document.uri)
        if checked is None:
            return []
        return features.references(server.store, checked, params.position, params.context.include_declaration)

    @server.feature(lsp.TEXT_DOCUMENT_PREPARE_RENAME)
    @_guarded(None)
    def prepare_rename(params: lsp.PrepareRenameParams) -> lsp.Range | None:
        checked = server.checked(params.text_document.uri)
        return features.prepare_rename(checked, params.position) if checked else None

    @server.feature(lsp.TEXT_DOCUMENT_RENAME)
    def rename(params: lsp.RenameParams) -> lsp.WorkspaceEdit | None:
        # Not guarded: a bad new name is answered with an error the editor shows.
        checked = server.checked(params.text_document.uri)
        return features.rename(server.store, checked, params.position, params.new_name) if checked else None

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_guarded([])
    def document_symbol(params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol]:
        checked = server.checked(params.text_document.uri)
        return features.document_symbols(checked) if checked else []

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", " ", ","]))
    @_guarded(None)
    def completion(params: lsp.CompletionParams) -> lsp.CompletionList | None:
        uri = params.text_document.uri
        checked = server.checked(uri)
        return (
            features.completion(checked, params.position, server.store.last_program.get(uri))
            if checked
            else None
        )

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    @_guarded(None)
    def formatting(params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        checked = server.checked(params.text_document.uri)
        return features.formatting(checked) if checked else None

    @server.feature(lsp.TEXT_DOCUMENT_RANGE_FORMATTING)
    @_guarded(None)
    def range_formatting(params: lsp.DocumentRangeFormattingParams) -> list[lsp.TextEdit] | None:
        checked = server.checked(params.text_document.uri)
        return features.formatting(checked, params.range) if checked else None

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix])
    )
    @_guarded([])
    def code_action(params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        checked = server.checked(uri)
        return features.code_actions(checked, uri, params.context.diagnostics) if checked else []

    return server


def serve() -> None:
    """Serve one editor over standard input and output until it disconnects."""
    build_server().start_io()
