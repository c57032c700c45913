"""Prompt templates live in ``prompts/<stage>.<variant>.vN.txt``; this is the one loader.

A file holds ``### system`` and ``### user`` blocks; variables are ``$name`` or
``${name}`` (``string.Template``), so JSON braces in examples need no escaping.
Rendering fails on a missing or an unknown variable. A rendered prompt remembers which template
made it (``draft.body``) and with which values, so the model call can be labelled with it
(:func:`drafting.llm.calls.complete` puts both in the run's metadata, where a fake model reads them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from drafting import resources
from drafting.errors import PromptError

__all__ = ["PromptTemplate", "Prompt", "load_prompt", "list_prompts", "PROMPTS_DIR"]

PROMPTS_DIR = resources.PROMPTS_DIR
_BLOCK = re.compile(r"^### (system|user)\s*$", re.MULTILINE)
_NAME = re.compile(r"^(?P<stage>[a-z_]+)\.(?P<variant>[a-z_]+)\.v(?P<version>\d+)\.txt$")


class Prompt(list[tuple[str, str]]):
    """Rendered messages ``[(role, text), ...]`` that remember their template (``name``, e.g.
    ``outline.default``, without the version) and the variables they were rendered with."""

    def __init__(self, messages: Iterable[tuple[str, str]], name: str, values: dict[str, str]) -> None:
        super().__init__(messages)
        self.name = name
        self.values = values

    def after(self, earlier: Iterable[tuple[str, str]]) -> Prompt:
        """This prompt appended to an earlier conversation (a follow-up turn keeps its own name)."""
        return Prompt([*earlier, *self], self.name, self.values)


@dataclass(frozen=True)
class PromptTemplate:
    name: str  # the file's stem: stage.variant.vN
    system: str
    user: str

    @property
    def template(self) -> str:
        """``stage.variant``: the name prompts are loaded by and model calls are labelled with."""
        return re.sub(r"\.v\d+$", "", self.name)

    @property
    def variables(self) -> frozenset[str]:
        names: set[str] = set()
        for part in (self.system, self.user):
            names.update(Template(part).get_identifiers())
        return frozenset(names)

    def render(self, **values: object) -> Prompt:
        """Return ``[(role, text), ...]`` ready for a chat model, labelled with this template."""
        given = set(values)
        missing = self.variables - given
        unknown = given - self.variables
        if missing or unknown:
            raise PromptError(f"提示词模板 {self.name} 的变量不匹配：缺少 {sorted(missing)}，多余 {sorted(unknown)}")
        text = {k: str(v) for k, v in values.items()}
        out: list[tuple[str, str]] = []
        if self.system.strip():
            out.append(("system", Template(self.system).substitute(text).strip()))
        out.append(("user", Template(self.user).substitute(text).strip()))
        return Prompt(out, self.template, text)


def _parse(name: str, raw: str) -> PromptTemplate:
    parts = _BLOCK.split(raw)
    blocks: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        blocks[parts[i]] = parts[i + 1]
    if "user" not in blocks:
        raise PromptError(f"提示词模板 {name} 缺少 ### user 段")
    return PromptTemplate(name=name, system=blocks.get("system", ""), user=blocks["user"])


def list_prompts(directory: Path | None = None) -> list[str]:
    """Names (``stage.variant``) of the newest version of every prompt."""
    directory = directory or PROMPTS_DIR
    newest: dict[str, int] = {}
    for path in directory.glob("*.txt"):
        m = _NAME.match(path.name)
        if m:
            key = f"{m['stage']}.{m['variant']}"
            newest[key] = max(newest.get(key, 0), int(m["version"]))
    return sorted(newest)


def load_prompt(name: str, directory: Path | None = None) -> PromptTemplate:
    """Load ``stage.variant`` (newest version) or an exact ``stage.variant.vN``.

    From ``directory``, else from this module's ``PROMPTS_DIR`` as it is at call time (a test may
    point it at a copy of the prompts)."""
    return _load(name, directory or PROMPTS_DIR)


@cache
def _load(name: str, directory: Path) -> PromptTemplate:
    if re.search(r"\.v\d+$", name):
        path = directory / f"{name}.txt"
    else:
        versions = sorted(
            (int(m["version"]), p) for p in directory.glob(f"{name}.v*.txt") if (m := _NAME.match(p.name))
        )
        if not versions:
            raise PromptError(f"找不到提示词模板：{name}")
        path = versions[-1][1]
    if not path.is_file():
        raise PromptError(f"找不到提示词模板：{name}")
    return _parse(path.stem, path.read_text(encoding="utf-8"))
