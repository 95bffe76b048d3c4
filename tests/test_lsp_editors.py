"""The VS Code extension's files hang together, and the docs name what they set up."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"


def test_the_vscode_extension_names_files_that_exist():
    manifest = json.loads((VSCODE / "package.json").read_text())
    assert (VSCODE / manifest["main"]).is_file()
    language = manifest["contributes"]["languages"][0]
    assert language["extensions"] == [".cnn"]
    configuration = json.loads((VSCODE / language["configuration"]).read_text())
    assert configuration["comments"]["lineComment"] == "#"
    # The grammar is the repository's one, copied in when packaging: one source of truth.
    assert "../cnn.tmLanguage.json" in manifest["scripts"]["vscode:prepublish"]
    grammar = json.loads((ROOT / "editors" / "cnn.tmLanguage.json").read_text())
    assert manifest["contributes"]["grammars"][0]["scopeName"] == grammar["scopeName"]
    assert manifest["contributes"]["configuration"]["properties"]["cnndsl.server.command"]["default"] == [
        "cnndsl",
        "lsp",
    ]


def test_the_editor_docs_start_the_server_the_cli_offers():
    from cnndsl.cli import build_parser

    assert "lsp" in build_parser().format_help()
    text = (ROOT / "docs" / "editors.md").read_text()
    for editor in ("VS Code", "Neovim", "Helix"):
        assert f"## {editor}" in text
    assert '"cnndsl", "lsp"' in text and 'args = ["lsp"]' in text
