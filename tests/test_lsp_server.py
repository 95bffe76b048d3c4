"""`cnndsl lsp` driven as an editor drives it: diagnostics, hints, hover, go-to, completion, formatting."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pygls")
from lsp_client import LspClient  # noqa: E402
from lsprotocol import types as lsp  # noqa: E402

LIB = """\
block unit(c, stride=1) {
    conv c 3x3 stride=stride pad=1
    batchnorm
    relu
}
"""

MAIN = """\
import "lib.cnn"

network tiny(classes=10) {
    input 3x32x32
    stem: conv 16 3x3 pad=1
    unit(32, stride=2)
    residual {
        unit(32)
    }
    globalavgpool
    flatten
    fc classes
}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lsp")
    (folder / "lib.cnn").write_text(LIB)
    (folder / "main.cnn").write_text(MAIN)
    return folder


@pytest.fixture(scope="module")
def client(folder: Path):
    client = LspClient(folder)
    client.initialize(folder)
    yield client
    client.close()


def _document(uri: str) -> lsp.TextDocumentIdentifier:
    return lsp.TextDocumentIdentifier(uri)


def _position(text: str, word: str, into: int = 1) -> lsp.Position:
    offset = text.index(word) + into
    line = text.count("\n", 0, offset)
    return lsp.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


def _hints(client: LspClient, uri: str) -> dict[int, list[str]]:
    everything = lsp.Range(lsp.Position(0, 0), lsp.Position(10_000, 0))
    params = lsp.InlayHintParams(_document(uri), everything)
    hints = client.request("textDocument/inlayHint", params, list[lsp.InlayHint])
    by_line: dict[int, list[str]] = {}
    for hint in hints:
        by_line.setdefault(hint.position.line, []).append(hint.label.strip())
    return by_line


def _hover(client: LspClient, uri: str, position: lsp.Position) -> str:
    hover = client.request("textDocument/hover", lsp.HoverParams(_document(uri), position), lsp.Hover | None)
    assert hover is not None
    return hover.contents.value


def test_a_good_file_has_no_diagnostics_and_a_shape_on_every_line(client: LspClient, folder: Path):
    uri = client.open(folder / "main.cnn", MAIN)
    assert client.diagnostics(uri, 1) == []
    hints = _hints(client, uri)
    assert hints[4] == ["-> 16x32x32"]  # stem: conv 16 3x3 pad=1
    assert hints[5] == ["-> 32x16x16, 4,704 params"]  # unit(32, stride=2)
    assert hints[8] == ["-> 32x16x16"]  # the residual's closing brace: its sum
    assert hints[11] == ["-> 10"]
    assert hints[2] == ["-> 10, 14,794 params"]  # the network's totals on its name


def test_hover_shows_figures_op_reference_block_signature_and_values(client: LspClient, folder: Path):
    uri = client.open(folder / "main.cnn", MAIN)
    client.diagnostics(uri)
    conv = _hover(client, uri, _position(MAIN, "conv 16"))
    assert "16x32x32" in conv and "448 parameters" in conv and "442,368 MACs" in conv
    assert "out_channels" in conv  # the op table's reference text
    call = _hover(client, uri, _position(MAIN, "unit(32, stride"))
    assert "block unit(c, stride=1)" in call and "unit(32, stride=2)" in call and "4,704 parameters" in call
    assert "= `10`" in _hover(client, uri, _position(MAIN, "classes\n"))
    assert "16x32x32" in _hover(client, uri, _position(MAIN, "stem:"))
    assert "lib.cnn" in _hover(client, uri, _position(MAIN, '"lib'))


def test_definition_across_an_import_and_of_a_label_and_an_import(client: LspClient, folder: Path):
    uri = client.open(folder / "main.cnn", MAIN)
    client.diagnostics(uri)

    def where(word: str) -> lsp.Location:
        params = lsp.DefinitionParams(_document(uri), _position(MAIN, word))
        return client.request("textDocument/definition", params, lsp.Location)

    block = where("unit(32, stride")
    assert block.uri == (folder / "lib.cnn").resolve().as_uri()
    assert block.range.start == lsp.Position(0, 6)
    assert where("classes\n").range.start == lsp.Position(2, 13)  # the parameter
    assert where('"lib').uri.endswith("/lib.cnn")
    keyword = where("stride=2")  # a keyword argument names the block's parameter
    assert keyword.uri.endswith("/lib.cnn") and keyword.range.start == lsp.Position(0, 14)


def test_document_symbols_and_references(client: LspClient, folder: Path):
    uri = client.open(folder / "main.cnn", MAIN)
    client.diagnostics(uri)
    params = lsp.DocumentSymbolParams(_document(uri))
    symbols = client.request("textDocument/documentSymbol", params, list[lsp.DocumentSymbol])
    assert [s.name for s in symbols] == ["tiny"]
    assert [child.name for child in symbols[0].children] == ["stem"]
    context = lsp.ReferenceContext(include_declaration=False)
    params = lsp.ReferenceParams(
        context=context, text_document=_document(uri), position=_position(MAIN, "unit(32)")
    )
    references = client.request("textDocument/references", params, list[lsp.Location])
    assert sorted(r.range.start.line for r in references) == [5, 7]


def test_completion_offers_layers_arguments_and_blocks(client: LspClient, folder: Path):
    text = MAIN.replace("    flatten\n", "    flatten\n    \n")
    uri = client.open(folder / "main.cnn", text, version=2)
    client.diagnostics(uri)
    start = lsp.Position(11, 4)  # the empty line
    items = client.request(
        "textDocument/completion", lsp.CompletionParams(_document(uri), start), lsp.CompletionList
    )
    labels = {item.label: item for item in items.items}
    assert {"conv", "maxpool", "residual", "unit"} <= set(labels)
    assert labels["unit"].insert_text == "unit(${1:c})"
    text = MAIN.replace("    flatten\n", "    flatten\n    conv 8 3x3 \n")
    client.change(uri, text, 3)
    client.diagnostics(uri, 3)
    after = lsp.Position(11, len("    conv 8 3x3 "))
    items = client.request(
        "textDocument/completion", lsp.CompletionParams(_document(uri), after), lsp.CompletionList
    )
    labels = {item.label: item for item in items.items}
    assert "stride=" in labels and labels["stride="].detail == "default 1"
    assert "classes" in labels  # a parameter in scope


def test_a_syntax_error_is_reported_and_the_lines_before_it_keep_their_hints(client: LspClient, folder: Path):
    broken = MAIN.replace("    globalavgpool\n", "    globalavgpool(\n")
    uri = client.open(folder / "broken.cnn", broken)
    diagnostics = client.diagnostics(uri, 1)
    assert diagnostics and all(d.severity == lsp.DiagnosticSeverity.Error for d in diagnostics)
    assert diagnostics[0].range.start.line >= 9
    hints = _hints(client, uri)
    assert hints[4] == ["-> 16x32x32"]
    assert hints[5] == ["-> 32x16x16, 4,704 params"]
    assert not any(line >= 9 for line in hints)


def test_an_edit_that_fixes_an_error_clears_its_diagnostic(client: LspClient, folder: Path):
    wrong = MAIN.replace("fc classes", "fc clases")
    uri = client.open(folder / "fixme.cnn", wrong)
    diagnostics = client.diagnostics(uri, 1)
    assert len(diagnostics) == 1 and "clases" in diagnostics[0].message
    client.change(uri, MAIN, 2)
    assert client.diagnostics(uri, 2) == []


def test_a_shape_error_in_a_block_points_at_the_call_with_the_chain(client: LspClient, folder: Path):
    text = MAIN.replace("unit(32, stride=2)", "unit(32, stride=0)")
    uri = client.open(folder / "small.cnn", text)
    diagnostics = client.diagnostics(uri, 1)
    assert diagnostics
    first = diagnostics[0]
    assert first.related_information  # the block calls, each clickable
    assert any(info.location.uri.endswith("/lib.cnn") for info in first.related_information)
    assert first.range.start.line == 5  # the call, as the error is inside the block
    # Hints for what came before the error.
    assert _hints(client, uri)[4] == ["-> 16x32x32"]


def test_a_change_in_an_imported_file_rechecks_its_importer(client: LspClient, folder: Path):
    uri = client.open(folder / "main.cnn", MAIN, version=5)
    assert client.diagnostics(uri, 5) == []
    lib_uri = client.open(folder / "lib.cnn", LIB)
    client.diagnostics(lib_uri)
    assert client.diagnostics(uri, 5) == []  # opening the file rechecks its importers
    client.change(lib_uri, LIB.replace("conv c 3x3", "conv c 3x3 groups=5"), 2)
    diagnostics = client.diagnostics(uri, 5)
    assert diagnostics and "groups" in diagnostics[0].message
    client.change(lib_uri, LIB, 3)
    assert client.diagnostics(uri, 5) == []


def test_an_error_in_an_imported_file_is_shown_on_the_import_that_leads_to_it(
    client: LspClient, folder: Path
):
    (folder / "good.cnn").write_text(LIB.replace("unit", "plain"))
    (folder / "middle.cnn").write_text('import "bad_leaf.cnn"\n' + LIB.replace("unit", "other"))
    (folder / "bad_leaf.cnn").write_text("block leaf(c) {\n    conv c 3x3 pad=\n}\n")
    text = 'import "good.cnn"\nimport "middle.cnn"\n\nnetwork n {\n    input 3x8x8\n    plain(4)\n}\n'
    uri = client.open(folder / "importer.cnn", text)
    diagnostics = client.diagnostics(uri, 1)
    # On `import "middle.cnn"`, the import that leads to the file, not on the first import.
    assert diagnostics and {d.range.start.line for d in diagnostics} == {1}
    assert "bad_leaf.cnn:2" in diagnostics[0].message


def test_formatting_whole_document_and_range(client: LspClient, folder: Path):
    messy = "network n {\n  input 3x8x8\n      conv 4   3x3\n  relu\n}\n"
    uri = client.open(folder / "messy.cnn", messy)
    client.diagnostics(uri)
    options = lsp.FormattingOptions(tab_size=4, insert_spaces=True)
    params = lsp.DocumentFormattingParams(_document(uri), options)
    edits = client.request("textDocument/formatting", params, list[lsp.TextEdit])
    assert edits[0].new_text == "network n {\n    input 3x8x8\n    conv 4 3x3\n    relu\n}\n"
    only = lsp.Range(lsp.Position(2, 0), lsp.Position(2, 5))
    params = lsp.DocumentRangeFormattingParams(_document(uri), only, options)
    edits = client.request("textDocument/rangeFormatting", params, list[lsp.TextEdit])
    assert [edit.new_text for edit in edits] == ["    conv 4 3x3\n"]


def test_code_action_fixes_a_misspelt_layer_and_a_block_call_with_a_space(client: LspClient, folder: Path):
    text = MAIN.replace("    flatten\n", "    flaten\n").replace("unit(32)\n", "unit (32)\n")
    uri = client.open(folder / "actions.cnn", text)
    diagnostics = client.diagnostics(uri, 1)
    params = lsp.CodeActionParams(
        _document(uri), diagnostics[0].range, lsp.CodeActionContext(diagnostics=diagnostics)
    )
    actions = client.request("textDocument/codeAction", params, list[lsp.CodeAction])
    new_texts = sorted(edit.new_text for action in actions for edit in action.edit.changes[uri])
    assert new_texts == ["", "flatten"]


def test_rename_a_block_parameter(client: LspClient, folder: Path):
    uri = client.open(folder / "lib.cnn", LIB, version=7)
    client.diagnostics(uri, 7)
    params = lsp.RenameParams(_document(uri), _position(LIB, "stride=1"), "step")
    edit = client.request("textDocument/rename", params, lsp.WorkspaceEdit)
    assert len(edit.changes[uri]) == 2  # the parameter and its use (not conv's own `stride=`)


def test_references_and_rename_reach_closed_files_of_the_folder(client: LspClient, folder: Path):
    user = 'import "lib.cnn"\n\nnetwork user {\n    input 3x8x8\n    unit(4)\n    unit(8, stride=2)\n}\n'
    (folder / "closed_user.cnn").write_text(user)  # never opened in the editor
    (folder / "unrelated.cnn").write_text("block unit(c) {\n    conv c 1x1\n}\n")  # another `unit`
    lib_uri = client.open(folder / "lib.cnn", LIB, version=11)
    client.diagnostics(lib_uri, 11)
    closed_uri = (folder / "closed_user.cnn").resolve().as_uri()
    context = lsp.ReferenceContext(include_declaration=False)
    at = _position(LIB, "unit")
    params = lsp.ReferenceParams(context=context, text_document=_document(lib_uri), position=at)
    references = client.request("textDocument/references", params, list[lsp.Location])
    assert sorted(r.range.start.line for r in references if r.uri == closed_uri) == [4, 5]
    assert not any(r.uri.endswith("/unrelated.cnn") for r in references)
    params = lsp.RenameParams(_document(lib_uri), _position(LIB, "stride=1"), "step")
    edit = client.request("textDocument/rename", params, lsp.WorkspaceEdit)
    (keyword,) = edit.changes[closed_uri]  # `stride=2` in the closed file's call
    assert keyword.range.start == lsp.Position(5, 12) and keyword.new_text == "step"


def test_a_malformed_message_or_a_failing_request_does_not_stop_the_server(client: LspClient, folder: Path):
    client.send_raw(b"{this is not json")
    # A notification with parameters of the wrong type has no one to answer: it is dropped.
    client.notify("textDocument/didOpen", {"textDocument": 42})
    # A request with them is answered with an error, not left waiting.
    response = client.request_raw("textDocument/hover", {"textDocument": 42})
    assert response["error"]["code"] == -32602 and "textDocument/hover" in response["error"]["message"]
    response = client.request_raw("textDocument/inlayHint", {"textDocument": {"uri": 1}, "range": None})
    assert response["error"]["code"] == -32602
    response = client.request_raw("cnndsl/noSuchMethod", {})
    assert "error" in response
    far = lsp.HoverParams(lsp.TextDocumentIdentifier("file:///nowhere.cnn"), lsp.Position(10**6, 0))
    assert client.request("textDocument/hover", far) is None
    uri = client.open(folder / "after.cnn", MAIN)
    assert client.diagnostics(uri, 1) == []


def test_the_server_imports_neither_torch_nor_numpy():
    import subprocess
    import sys

    code = "import sys, cnndsl.lsp.server; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
