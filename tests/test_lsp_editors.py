"""The VS Code extension's files hang together, and the docs name what they set up."""

from __future__ import annotations

import json
import re
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


def test_the_vscode_manifest_has_what_vsce_package_requires():
    # The fields `npx @vscode/vsce package` refuses to work without, or asks about, checked offline.
    manifest = json.loads((VSCODE / "package.json").read_text())
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", manifest["name"])
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", manifest["publisher"])
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    assert manifest["engines"]["vscode"].startswith("^1.")
    assert manifest["license"] == "MIT" and "MIT License" in (VSCODE / "LICENSE").read_text()
    assert "onLanguage:cnn" in manifest["activationEvents"]
    # The client is plain JavaScript (no build step) and starts the configured command.
    client = (VSCODE / manifest["main"]).read_text()
    assert 'require("vscode-languageclient/node")' in client and '"server.command"' in client
    assert "vscode-languageclient" in manifest["dependencies"]
    lock = json.loads((VSCODE / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == manifest["dependencies"]
    # What packaging leaves out of the .vsix never includes what VS Code loads.
    ignored = (VSCODE / ".vscodeignore").read_text().split()
    assert not {"extension.js", "package.json", "LICENSE", "syntaxes/**"} & set(ignored)


def test_the_vscode_grammar_is_the_projects_textmate_grammar():
    manifest = json.loads((VSCODE / "package.json").read_text())
    (contributed,) = manifest["contributes"]["grammars"]
    assert contributed["language"] == manifest["contributes"]["languages"][0]["id"]
    # The prepublish script copies editors/cnn.tmLanguage.json to exactly the path contributed.
    prepublish = manifest["scripts"]["vscode:prepublish"]
    source, target = re.search(r"copyFileSync\('([^']+)','([^']+)'\)", prepublish).groups()
    assert (VSCODE / source).resolve() == ROOT / "editors" / "cnn.tmLanguage.json"
    assert Path(target) == Path(contributed["path"])
    grammar = json.loads((VSCODE / source).read_text())
    assert grammar["scopeName"] == contributed["scopeName"] == "source.cnn"
    assert grammar["fileTypes"] == ["cnn"] and grammar["patterns"]


def test_the_editor_docs_start_the_server_the_cli_offers():
    from cnndsl.cli import build_parser

    assert "lsp" in build_parser().format_help()
    text = (ROOT / "docs" / "editors.md").read_text()
    for editor in ("VS Code", "Neovim", "Helix"):
        assert f"## {editor}" in text
    assert '"cnndsl", "lsp"' in text and 'args = ["lsp"]' in text
