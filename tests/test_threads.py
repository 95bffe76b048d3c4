"""The front end's API from several threads at once gives what one thread gives (a service's way)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from conftest import ARCHITECTURES, EXAMPLES

from cnndsl.errors import CnnError
from cnndsl.formatter import format_text
from cnndsl.loader import check_all
from cnndsl.source import SourceFile

THREADS = 8
SOURCES = sorted([*ARCHITECTURES.glob("*.cnn"), *EXAMPLES.glob("*.cnn")])
# Files with comments in every position the formatter handles, and one with errors to report.
EXTRA = {
    "comments.cnn": "# top\nnetwork n {  # after the brace\n    input 3x8x8  # trailing\n"
    "    # own line\n    conv 4 (3,  # inside brackets\n        3)\n}\n# end\n",
    "errors.cnn": "block b(k) {\n    conv 4 k pad=k//2\n}\nnetwork n {\n    input 3x8x8\n"
    "    b(3x3)\n    covn 4\n    b((3, 3))\n}\n",
}


def _texts() -> dict[str, str]:
    texts = {path.name: path.read_text(encoding="utf-8") for path in SOURCES}
    texts.update(EXTRA)
    return texts


def _format(item: tuple[str, str]) -> str:
    name, text = item
    try:
        return format_text(text, name)
    except CnnError as error:
        return f"error: {error}"


def _check(item: tuple[str, str]) -> str:
    name, text = item
    try:
        models = check_all(SourceFile(name, text))
    except CnnError as error:
        return f"error: {error}"
    return repr([(model.graph.graph["network"], model.graph.number_of_nodes()) for model in models])


def _same_in_threads(work, items: list[tuple[str, str]]) -> None:
    alone = [work(item) for item in items]
    rounds = 4  # each file handled by several threads at once, several times over
    with ThreadPoolExecutor(THREADS) as pool:
        together = list(pool.map(work, items * rounds))
    assert together == alone * rounds


def test_format_from_several_threads():
    _same_in_threads(_format, list(_texts().items()))


def test_check_from_several_threads():
    _same_in_threads(_check, list(_texts().items()))
