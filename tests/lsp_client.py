"""A small synchronous LSP client for the tests: `cnndsl lsp` as a subprocess, JSON-RPC over its stdio."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from lsprotocol import types as lsp
from lsprotocol.converters import get_converter

CONVERTER = get_converter()
# Generous: a slow shared machine; a healthy server answers in well under a second.
TIMEOUT = 30


class LspClient:
    """Talks to one server process as an editor does; notifications are kept for the tests to read."""

    def __init__(self, cwd: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cnndsl", "lsp"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
        )
        self.messages: queue.Queue[dict] = queue.Queue()
        self.notifications: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self.process.stderr.read, daemon=True).start()  # never let it fill up

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                key, _, value = line.decode("ascii").partition(":")
                if key.strip().lower() == "content-length":
                    length = int(value)
            self.messages.put(json.loads(stream.read(length)))

    def send_raw(self, body: bytes) -> None:
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def send(self, message: dict) -> None:
        self.send_raw(json.dumps(message).encode("utf-8"))

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": CONVERTER.unstructure(params)})

    def request_raw(self, method: str, params: Any) -> dict:
        """The whole response message (with `result` or `error`)."""
        self.next_id += 1
        ident = self.next_id
        self.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": CONVERTER.unstructure(params)})
        while True:
            message = self._next()
            if message.get("id") == ident and "method" not in message:
                return message

    def request(self, method: str, params: Any, result_type: Any = None) -> Any:
        response = self.request_raw(method, params)
        assert "error" not in response, response
        result = response.get("result")
        return CONVERTER.structure(result, result_type) if result_type is not None else result

    def _next(self) -> dict:
        message = self.messages.get(timeout=TIMEOUT)
        if "method" in message:
            if "id" in message:  # a request from the server (inlay hint refresh...): say yes
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            else:
                self.notifications.append(message)
        return message

    def diagnostics(self, uri: str, version: int | None = None) -> list[lsp.Diagnostic]:
        """The oldest unread diagnostics published for `uri` (for `version` when given), waiting for them."""
        while True:
            for message in list(self.notifications):
                params = message["params"]
                if message["method"] == "textDocument/publishDiagnostics" and params["uri"] == uri:
                    if version is None or params.get("version") == version:
                        self.notifications.remove(message)
                        return list(CONVERTER.structure(params, lsp.PublishDiagnosticsParams).diagnostics)
            self._next()

    def initialize(self, root: Path) -> None:
        params = lsp.InitializeParams(
            capabilities=lsp.ClientCapabilities(
                workspace=lsp.WorkspaceClientCapabilities(
                    inlay_hint=lsp.InlayHintWorkspaceClientCapabilities(refresh_support=True)
                )
            ),
            root_uri=root.as_uri(),
        )
        self.request("initialize", params)
        self.notify("initialized", lsp.InitializedParams())

    def open(self, path: Path, text: str, version: int = 1) -> str:
        uri = path.resolve().as_uri()
        self.notify(
            "textDocument/didOpen",
            lsp.DidOpenTextDocumentParams(
                lsp.TextDocumentItem(uri=uri, language_id="cnn", version=version, text=text)
            ),
        )
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        """Replace the whole text, as the simplest editors do."""
        change = lsp.TextDocumentContentChangeWholeDocument(text)
        identifier = lsp.VersionedTextDocumentIdentifier(version=version, uri=uri)
        self.notify(
            "textDocument/didChange",
            lsp.DidChangeTextDocumentParams(text_document=identifier, content_changes=[change]),
        )

    def close(self) -> None:
        try:
            self.request_raw("shutdown", None)
            self.send({"jsonrpc": "2.0", "method": "exit"})
            self.process.wait(timeout=TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.process.stdin.close()
            self.process.stdout.close()
            self.process.stderr.close()
