"""Generated modules (torch and NumPy) import, run no injected code and compute what build() does,
whatever file names, comments and names the .cnn program holds."""

from __future__ import annotations

import ast
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from cnndsl.backends import python_text
from cnndsl.backends.numpy_engine import codegen
from cnndsl.backends.pytorch import render
from cnndsl.backends.pytorch.naming import class_name
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cnndsl
from cnndsl.errors import CnnError
from cnndsl.plugins import get_backend

torch = pytest.importorskip("torch")

BACKENDS = ("torch", "numpy")
PAYLOAD = '__import__("pathlib").Path("PWNED").touch()'

# File names that once broke a generated module or could: quotes closing the docstring and an
# injected call, backslashes forming escapes, line breaks, terminal and bidirectional controls.
HOSTILE_FILE_NAMES = [
    f'a""";{PAYLOAD};"""b.cnn',
    f'a""";{PAYLOAD};#.cnn',
    "a\\Users.cnn",
    "a\\x.cnn",
    "a\\N{x}.cnn",
    "ends\\.cnn",
    'ends with quote".cnn',
    "'''.cnn",
    "new\nline.cnn",
    f"new\n{PAYLOAD}\n.cnn",
    "cr\rline.cnn",
    "tab\tand\x0bform\x0cfeed.cnn",
    "sep\u2028\u2029\x85.cnn",
    "escape\x1b[31m.cnn",
    "bidi\u202egnp.cnn",
    "d\u00e9j\u00e0 \u6f22 \U0001f600.cnn",
]

# Comment texts: above the network they become the class docstring, in the body comments.
HOSTILE_COMMENTS = [
    f'"""; {PAYLOAD}; """',
    f"''' {PAYLOAD} '''",
    "nul\x00byte",
    "controls \x01\x07\x1b\x7f\x9f",
    "\\x" * 60,
    "a" + "\\x" * 60,
    "ab" + "\\x" * 60,
    "abc" + "\\U" * 45,
    "\\N{" * 30,
    "ends with a backslash \\",
    'ends with a quote "',
    'quotes "" and """ and """"',
    "bidi \u202e and zero width \u200b",
    "not a character \ufffe \uffff",
]

NETWORK = """# {comment}
block blk(c) {{
    # {comment}
    class: conv c 3x3   # {comment}
    relu
}}

# {comment}
network {network}({parameter}=4) {{
    input 1x8x8
    lambda: conv 1 1x1 weights=[[[[2]]]] bias=false trainable=false  # {comment}
    {label}: blk({parameter})
    conv 8 1x1
    flatten
    fc 3
}}
"""


def program(comment: str = "plain", network: str = "n", parameter: str = "width", label: str = "b") -> str:
    return NETWORK.format(comment=comment, network=network, parameter=parameter, label=label)


def import_file(path: Path) -> object:
    spec = importlib.util.spec_from_file_location("generated_" + str(abs(hash(str(path)))), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_same_as_build(module: object, model: cnndsl.Model, backend: str) -> None:
    """The imported module computes exactly what the in-process build computes."""
    x = np.random.default_rng(0).standard_normal((2, *model.input_shape)).astype(np.float32)
    if backend == "numpy":
        built = model.build("numpy", seed=3)
        np.testing.assert_array_equal(module.Network(seed=3)(x), built(x))
        return
    built = model.build("torch").eval()
    (name,) = module.__all__
    generated = getattr(module, name)().eval()
    generated.load_state_dict(built.state_dict())
    with torch.no_grad():
        assert torch.equal(generated(torch.from_numpy(x)), built(torch.from_numpy(x)))


def compile_and_check(cli, tmp_path: Path, source: Path, backend: str) -> None:
    out = tmp_path / f"out_{backend}.py"
    result = cli("compile", str(source), "--backend", backend, "-o", str(out), "-q")
    assert result.code == 0, result.err
    model = cnndsl.load(source)
    assert_same_as_build(import_file(out), model, backend)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", HOSTILE_FILE_NAMES, ids=ascii)
def test_hostile_file_names(cli, tmp_path, monkeypatch, backend, name):
    monkeypatch.chdir(tmp_path)  # an injected call would leave PWNED here
    source = tmp_path / name
    source.write_text(program(), encoding="utf-8")
    compile_and_check(cli, tmp_path, source, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_undecodable_file_name(cli, tmp_path, monkeypatch, backend):
    """A byte that is not UTF-8 reaches Python as a lone surrogate, which UTF-8 cannot write."""
    monkeypatch.chdir(tmp_path)
    try:
        source = tmp_path / os.fsdecode(b"caf\xe9.cnn")
        source.write_text(program(), encoding="utf-8")
    except (UnicodeError, OSError):
        pytest.skip("this file system takes only UTF-8 names")
    compile_and_check(cli, tmp_path, source, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("comment", HOSTILE_COMMENTS, ids=ascii)
def test_hostile_comments(cli, tmp_path, monkeypatch, backend, comment):
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "net.cnn"
    source.write_text(program(comment), encoding="utf-8")
    compile_and_check(cli, tmp_path, source, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_lone_surrogates_from_the_api(tmp_path, backend):
    """Text handed to `loads` may hold what no file can: the module must still be UTF-8."""
    model = cnndsl.loads(program("lone \ud800 surrogate \udfff"), name="caf\udce9.cnn")
    source = get_backend(backend).generate_source(model)
    assert "\\udce9" in source  # the file name, shown as an escape
    path = tmp_path / "net.py"
    path.write_text(source, encoding="utf-8")
    assert_same_as_build(import_file(path), model, backend)


# Names the generated code itself uses (`getattr` reaches a keyword-named submodule; `super()`
# needs `__class__`), keywords, soft keywords and the names of the generated variables.
HOSTILE_NAMES = [
    "__class__", "getattr", "self", "super", "nn", "torch", "np", "int", "float", "tuple",
    "print", "x", "y", "n", "packed", "state", "match", "case", "type", "_", "__init__",
    "__name__", "__builtins__", "block", "Network", "INPUT_SHAPE", "INIT",
]  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_parameter_network_and_label_names(tmp_path, monkeypatch, backend, name):
    monkeypatch.chdir(tmp_path)
    variants = [{"parameter": name}, {"network": name}, {"label": name}]
    for index, names in enumerate(variants):
        model = cnndsl.loads(program(**names), name="net.cnn")
        try:
            source = get_backend(backend).generate_source(model)
        except CnnError as error:  # a label that would shadow an nn.Module attribute
            assert "label" in names and backend == "torch" and "cannot name" in str(error)
            continue
        path = tmp_path / f"net_{index}.py"
        path.write_text(source, encoding="utf-8")
        assert_same_as_build(import_file(path), model, backend)
    assert not (tmp_path / "PWNED").exists()


# `from`, `if`, `else`, `and`, `or` and `not` are keywords of the .cnn language too, so no label.
@pytest.mark.parametrize("keyword", ["class", "lambda", "def", "import", "None", "True", "while", "yield"])
def test_keyword_labels_with_a_parameter_named_getattr(tmp_path, keyword):
    """`getattr(self, "class")` in __init__ must reach the builtin, not the parameter."""
    model = cnndsl.loads(program(parameter="getattr").replace("lambda:", f"{keyword}:"), name="net.cnn")
    source = get_backend("torch").generate_source(model)
    assert f'getattr(self, "{keyword}")' in source
    path = tmp_path / "net.py"
    path.write_text(source, encoding="utf-8")
    assert_same_as_build(import_file(path), model, "torch")


def test_the_description_and_the_file_name_read_as_written():
    comment = 'C:\\new\\x41 says """hi""" \\'
    model = cnndsl.loads(program(comment), name='dir\\a""".cnn')
    tree = ast.parse(get_backend("torch").generate_source(model))
    docstring = ast.get_docstring(next(n for n in tree.body if isinstance(n, ast.ClassDef)))
    assert docstring.startswith(comment)
    numpy_doc = ast.get_docstring(ast.parse(get_backend("numpy").generate_source(model)))
    assert 'from dir\\a""".cnn.' in numpy_doc


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_module_that_does_not_compile_is_an_internal_error_and_is_not_written(
    cli, tmp_path, monkeypatch, backend
):
    """The last guard: were the escaping broken, compile would say so and write nothing."""
    unescaped = lambda text, closes=False: text  # noqa: E731
    monkeypatch.setattr(render, "docstring_text", unescaped)
    monkeypatch.setattr(codegen, "docstring_text", unescaped)
    source = tmp_path / 'a"""b.cnn'
    source.write_text(program('a """ b'), encoding="utf-8")
    out = tmp_path / "out.py"
    result = cli("compile", str(source), "--backend", backend, "-o", str(out), "-q")
    assert result.code == 1
    assert "internal error" in result.err and "nothing was written" in result.err
    assert "Traceback" not in result.err
    assert not out.exists()


# ----- the escaping functions themselves, on any text -----------------------------------------

ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT, st.booleans())
def test_docstring_text_shows_the_printable_text(text, closes):
    line = python_text.docstring_text(text, closes)
    literal = f'"""{line}"""' if closes else f'"""{line}\n"""'
    shown = ast.literal_eval(literal)
    assert shown == python_text.printable(text) + ("" if closes else "\n")


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_comment_text_stays_one_harmless_line(text):
    line = "# " + python_text.comment_text(text)
    assert line.isprintable()  # so no line break of any kind, no NUL, no surrogate
    line.encode("utf-8")
    compile(f"{line}\nVALUE = 1\n", "<test>", "exec")


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_string_literal_round_trips(text):
    assert ast.literal_eval(python_text.string_literal(text)) == text


# Drawn comments avoid line breaks: the front end decides what those mean.
COMMENT_TEXT = st.text(
    st.characters(exclude_categories=(), exclude_characters="\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
    max_size=60,
)
FILE_NAME = st.text(st.characters(exclude_categories=(), exclude_characters="/\x00"), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(comment=COMMENT_TEXT, name=FILE_NAME)
def test_random_comments_and_file_names_give_modules_that_compile(comment, name):
    try:
        model = cnndsl.loads(program(comment), name=name + ".cnn")
    except CnnError:
        return  # a diagnostic, not a traceback, is fine for text the language refuses
    for backend in BACKENDS:
        source = get_backend(backend).generate_source(model)
        tree = ast.parse(source)
        assert PAYLOAD not in ast.dump(tree)
        if backend == "torch":
            docstring = ast.get_docstring(next(n for n in tree.body if isinstance(n, ast.ClassDef)))
            shown = "".join(python_text.printable(comment).split())
            assert "".join(docstring.split()).startswith(shown)  # wrapping moves only spaces


# ----- class names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ("resnext50_32x4d", "Resnext50_32x4d"),
        ("wide_resnet50_2", "WideResnet50_2"),
        ("regnet_y_400mf", "RegnetY400mf"),
        ("vgg16_bn", "Vgg16Bn"),
        ("resnet50", "Resnet50"),
        ("alexnet_original", "AlexnetOriginal"),
        ("net_2_3__4", "Net2_3_4"),
        ("none", "Network"),
        ("_1", "Network"),
    ],
)
def test_class_names_keep_digit_groups_apart(network, expected):
    assert class_name(network) == expected


def test_compiled_class_name_keeps_digit_groups_apart(tmp_path):
    model = cnndsl.loads(program(network="resnext50_32x4d"), name="net.cnn")
    source = get_backend("torch").generate_source(model)
    assert '__all__ = ["Resnext50_32x4d"]' in source
    assert type(model.build("torch")).__name__ == "Resnext50_32x4d"


def test_generated_modules_never_print_or_touch_the_disk(tmp_path, monkeypatch, capsys):
    """Importing a module compiled from the worst names runs nothing but definitions."""
    monkeypatch.chdir(tmp_path)
    model = cnndsl.loads(program(HOSTILE_COMMENTS[0]), name=HOSTILE_FILE_NAMES[0])
    for backend in BACKENDS:
        path = tmp_path / f"m_{backend}.py"
        path.write_text(get_backend(backend).generate_source(model), encoding="utf-8")
        import_file(path)
    assert sorted(set(os.listdir(tmp_path)) - {"__pycache__"}) == ["m_numpy.py", "m_torch.py"]
    assert capsys.readouterr().out == ""
