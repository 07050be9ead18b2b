"""Every command's `--help` names each option's default (or says that it is required), `--image-size` included,
and its examples name the paintings by a path that exists from the project root."""

import argparse
import re
from pathlib import Path

import pytest

from vaelab.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
WITHOUT_DEFAULT = {"--config", "--set", "--grid", "--out"}  # what to start from, changes, the axes, where to write


def commands():
    parser = build_parser()
    (sub,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        nested = [action for action in command._actions if isinstance(action, argparse._SubParsersAction)]
        if nested:
            yield from ((f"{name} {inner}", parser) for inner, parser in nested[0].choices.items())
        else:
            yield name, command


@pytest.mark.parametrize("name, command", list(commands()), ids=[name for name, _ in commands()])
def test_every_option_that_takes_a_value_names_its_default(name, command):
    missing = []
    for action in command._actions:
        takes_value = action.option_strings and action.nargs != 0 and not isinstance(action, argparse._HelpAction)
        if not takes_value or set(action.option_strings) & WITHOUT_DEFAULT or action.required:
            continue
        if not re.search(r"default|required", action.help or ""):
            missing.append(action.option_strings[-1])
    assert not missing, f"vaelab {name} --help names no default for {', '.join(missing)}"


def test_image_size_help_names_every_sources_default():
    train = dict(commands())["train"]
    (image_size,) = [action for action in train._actions if "--image-size" in action.option_strings]
    assert image_size.help.endswith("(default: 28 for fashion-mnist, 32 for digits, 64 for huggingface, 64 for "
                                    "folders)")


def test_examples_name_the_paintings_where_they_are():
    texts = [command.epilog or "" for _, command in commands()] + [(ROOT / "README.md").read_text()]
    named = {path for text in texts for path in re.findall(r"([^\s`'\"]*shared/data/artworks)\b", text)}
    assert named == {"../shared/data/artworks"}
    # the project root is the checkout beside shared/ (/work/main), so the path exists from there
    assert (ROOT.parent / "shared" / "data" / "artworks").is_dir() or pytest.skip("no paintings on this machine")
