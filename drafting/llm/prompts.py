"""Prompt templates live in ``prompts/<stage>.<variant>.vN.txt``; this is the one loader.

A file holds ``### system`` and ``### user`` blocks; variables are ``$name`` or
``${name}`` (``string.Template``), so JSON braces in examples need no escaping.
Rendering fails on a missing or an unknown variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template

from drafting import resources
from drafting.errors import PromptError

__all__ = ["PromptTemplate", "load_prompt", "list_prompts", "PROMPTS_DIR"]

PROMPTS_DIR = resources.PROMPTS_DIR
_BLOCK = re.compile(r"^### (system|user)\s*$", re.MULTILINE)
_NAME = re.compile(r"^(?P<stage>[a-z_]+)\.(?P<variant>[a-z_]+)\.v(?P<version>\d+)\.txt$")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    system: str
    user: str

    @property
    def variables(self) -> frozenset[str]:
        names: set[str] = set()
        for part in (self.system, self.user):
            names.update(Template(part).get_identifiers())
        return frozenset(names)

    def render(self, **values: object) -> list[tuple[str, str]]:
        """Return ``[(role, text), ...]`` ready for a chat model."""
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
        return out


def _parse(name: str, raw: str) -> PromptTemplate:
    parts = _BLOCK.split(raw)
    blocks: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        blocks[parts[i]] = parts[i + 1]
    if "user" not in blocks:
        raise PromptError(f"提示词模板 {name} 缺少 ### user 段")
    return PromptTemplate(name=name, system=blocks.get("system", ""), user=blocks["user"])


def list_prompts(directory: Path = PROMPTS_DIR) -> list[str]:
    """Names (``stage.variant``) of the newest version of every prompt."""
    newest: dict[str, int] = {}
    for path in directory.glob("*.txt"):
        m = _NAME.match(path.name)
        if m:
            key = f"{m['stage']}.{m['variant']}"
            newest[key] = max(newest.get(key, 0), int(m["version"]))
    return sorted(newest)


@cache
def load_prompt(name: str, directory: Path = PROMPTS_DIR) -> PromptTemplate:
    """Load ``stage.variant`` (newest version) or an exact ``stage.variant.vN``."""
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
