"""`cnndsl check FILE...`, `--version`, `--help` and exit statuses (0 ok, 1 invalid input, 2 usage)."""

import json
from pathlib import Path

import pytest

from cnndsl import __version__
from cnndsl.cli import EXIT_INVALID_INPUT, EXIT_USAGE

BAD = Path(__file__).resolve().parent / "bad"


def test_check_prints_the_published_totals(cli):
    result = cli("check", "resnet50")
    assert result.code == 0, result.err
    # torchvision's resnet50: 25,557,032 parameters and 4.09 GMACs.
    assert result.out == (
        "resnet50.cnn: ok: resnet50 3x224x224 -> 1000, 25,557,032 params, 4,089,184,256 MACs\n"
    )
    assert result.err == ""


def test_check_goes_on_after_a_bad_file(cli):
    result = cli("check", "lenet5", str(BAD / "unknown_layer.cnn"), "vgg16.cnn")
    assert result.code == EXIT_INVALID_INPUT
    assert result.out.splitlines() == [
        "lenet5.cnn: ok: lenet5 1x32x32 -> 10, 61,706 params, 416,520 MACs",
        "vgg16.cnn: ok: vgg16 3x224x224 -> 1000, 138,357,544 params, 15,470,264,320 MACs",
    ]
    assert "unknown layer or block 'covn' (did you mean 'conv'?)" in result.err


def test_check_goes_on_after_a_missing_file_and_exits_as_a_usage_error(cli, tmp_path):
    result = cli("check", str(tmp_path / "nowhere.cnn"), str(BAD / "stride_zero.cnn"), "lenet5")
    assert result.code == EXIT_USAGE  # the worst of: usage error (2), invalid file (1), ok (0)
    assert "no such file or built-in architecture" in result.err
    assert "conv stride: expected a positive size, found 0" in result.err
    assert result.out.startswith("lenet5.cnn: ok:")


def test_check_suggests_a_built_in_name(cli):
    result = cli("check", "resnt50")
    assert result.code == EXIT_USAGE
    assert result.err == (
        "cnndsl: error: no such file or built-in architecture: resnt50 (did you mean 'resnet50'?)\n"
    )


def test_check_reports_every_network_of_a_file(cli, tmp_path):
    source = tmp_path / "two.cnn"
    source.write_text("network a { input 3x8x8; conv 4 3x3 }\nnetwork b { input 10; fc 5 }\n")
    result = cli("check", str(source))
    assert result.code == 0
    assert result.out.splitlines() == [
        f"{source}: ok: a 3x8x8 -> 4x6x6, 112 params, 3,888 MACs",
        f"{source}: ok: b 10 -> 5, 55 params, 50 MACs",
    ]


def test_check_a_file_of_blocks_only(cli):
    result = cli("check", "resnet_blocks")
    assert result.code == 0
    assert result.out == "resnet_blocks.cnn: ok (blocks only, no network)\n"


def test_quiet_prints_only_errors(cli):
    assert cli("check", "--quiet", "googlenet").out == ""
    bad = cli("check", "-q", str(BAD / "fc_before_flatten.cnn"))
    assert bad.code == EXIT_INVALID_INPUT
    assert bad.out == ""
    assert "add `flatten` before it" in bad.err


def test_every_error_is_rendered_with_position_line_and_caret(cli, monkeypatch):
    monkeypatch.chdir(BAD)
    result = cli("check", "kernel_too_large.cnn")
    assert result.err == (
        "kernel_too_large.cnn:7:12: error: kernel 11x11 does not fit the padded input: "
        "output height = floor((8 + 1 + 1 - 11)/1) + 1 = 0\n"
        "    conv 8 11x11 pad=1\n"
        "           ^^^^^\n"
    )


def test_version(cli):
    result = cli("--version")
    assert result.code == 0
    assert result.out == f"cnndsl {__version__}\n"


def test_help_lists_the_commands(cli):
    result = cli("--help")
    assert result.code == 0
    assert "usage: cnndsl" in result.out
    for command in ("check", "summary"):
        assert f"    {command} " in result.out


@pytest.mark.parametrize(
    "args",
    [
        (),  # no command
        ("frobnicate",),  # unknown command
        ("check",),  # no file
        ("summary", "lenet5", "--format", "xml"),
        ("summary", "lenet5", "--depth", "-1"),
        ("summary", "lenet5", "--depth", "two"),
    ],
)
def test_argument_errors_exit_2(cli, args):
    result = cli(*args)
    assert result.code == EXIT_USAGE
    assert "usage: cnndsl" in result.err
    assert "Traceback" not in result.err


def test_traceback_flag_shows_the_exception(cli):
    from cnndsl.errors import CnnError

    with pytest.raises(CnnError):
        cli("--traceback", "summary", str(BAD / "recursion.cnn"))


def test_the_command_line_runs_as_a_process():
    from conftest import run_cli_process

    result = run_cli_process("check", "lenet5", str(BAD / "unknown_block.cnn"))
    assert result.code == EXIT_INVALID_INPUT
    assert result.out.startswith("lenet5.cnn: ok:")
    assert "unknown block 'bottlenek' (did you mean 'bottleneck'?)" in result.err


def test_check_takes_summarys_network_options_for_every_file(cli):
    result = cli("check", "resnet18", "resnet50", "--set", "classes=10", "--input", "3x32x32")
    assert result.code == 0, result.err
    # As `summary` gives them for the same options.
    assert result.out.splitlines() == [
        "resnet18.cnn: ok: resnet18 3x32x32 -> 10, 11,181,642 params, 37,016,576 MACs",
        "resnet50.cnn: ok: resnet50 3x32x32 -> 10, 23,528,522 params, 83,431,424 MACs",
    ]
    for name, line in zip(("resnet18", "resnet50"), result.out.splitlines()):
        summary = cli("summary", name, "--set", "classes=10", "--input", "3x32x32", "--format", "json")
        totals = json.loads(summary.out)
        assert f"{totals['params']:,} params, {totals['macs']:,} MACs" in line


def test_check_network_chooses_one_network_of_each_file(cli, tmp_path):
    two = tmp_path / "two.cnn"
    two.write_text("network a { input 3x8x8; conv 4 3x3 }\nnetwork b(w=5) { input 10; fc w }\n")
    result = cli("check", str(two), "--network", "b", "--set", "w=7")
    assert result.code == 0, result.err
    assert result.out == f"{two}: ok: b 10 -> 7, 77 params, 70 MACs\n"  # `a` is not checked
    # A file without that network is a usage error; the other files are still checked.
    result = cli("check", "lenet5", str(two), "--network", "b")
    assert result.code == EXIT_USAGE
    assert result.err == "cnndsl: error: lenet5.cnn has no network 'b'; networks: lenet5\n"
    assert result.out == f"{two}: ok: b 10 -> 5, 55 params, 50 MACs\n"


def test_check_applies_a_setting_to_every_network_checked(cli, tmp_path):
    two = tmp_path / "two.cnn"
    two.write_text("network a { input 3x8x8; conv 4 3x3 }\nnetwork b(w=5) { input 10; fc w }\n")
    result = cli("check", str(two), "--set", "w=7")
    assert result.code == EXIT_INVALID_INPUT and result.out == ""
    assert f"{two}:1:9: error: network 'a' has no parameter 'w'; it takes no parameters" in result.err
    too_small = cli("check", "lenet5", "vgg16", "--input", "1x8x8")  # too small for either
    assert too_small.code == EXIT_INVALID_INPUT and too_small.out == ""
    assert too_small.err.startswith("lenet5.cnn:7:13: error: kernel 5x5 does not fit the padded input")
    assert "vgg16.cnn:" in too_small.err


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--set", "classes"), "cnndsl: error: --set expects NAME=VALUE, found 'classes'\n"),
        (("--input", "3x"), "cnndsl: error: --input expects a shape such as 3x224x224, found '3x'\n"),
    ],
)
def test_check_refuses_a_malformed_option_before_reading_any_file(cli, option, message):
    result = cli("check", "lenet5", "no-such-file.cnn", *option)
    assert result.code == EXIT_USAGE
    assert (result.out, result.err) == ("", message)


def test_check_sets_parameters_named_like_the_loaders_arguments(cli, tmp_path):
    source = tmp_path / "odd.cnn"
    source.write_text("network n(input=3, network=2, source=1) { input 8; fc input + network + source }\n")
    result = cli("check", str(source), "--set", "input=4", "--set", "network=5", "--set", "source=6")
    assert result.code == 0, result.err
    assert result.out == f"{source}: ok: n 8 -> 15, 135 params, 120 MACs\n"
