"""Where the bundled data lives: the prompt templates and the bundled 范文.

In a checkout (and an editable install) they are the top-level ``prompts/`` and ``corpus/`` folders;
in an installed wheel they are package data under ``drafting/_data/`` (see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The bundled folder ``name`` ("prompts" or "corpus"), packaged copy first."""
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent / name


PROMPTS_DIR = data_dir("prompts")
CORPUS_DIR = data_dir("corpus")
