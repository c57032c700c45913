"""Eval cases as data: a YAML list of briefs, with the split they belong to and the genre expected.

An entry is ``{id, brief}`` (the fields of drafting.domain.Brief) or ``{id, request}`` (a pasted
instruction whose brief, genre included, is read by drafting.brief.brief_from_request), plus
optionally ``topic`` (a few characters saying what it is about), ``split`` (tune | holdout),
``expect_genre`` (a name or a list of names that count as right) and ``material`` (text files
relative to the cases file, read into ``brief.material``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drafting.domain import Brief
from drafting.errors import DraftingError

__all__ = ["Case", "load_cases", "select_split", "SPLITS", "ENTRY_KEYS"]

SPLITS = ("tune", "holdout")
ENTRY_KEYS = frozenset({"id", "topic", "brief", "request", "split", "expect_genre", "material"})


@dataclass(frozen=True)
class Case:
    id: str
    brief: Brief
    split: str = ""
    # Genre names that count as the right pick; empty when the case does not say.
    expect_genre: tuple[str, ...] = ()
    # The pasted instruction, when the case gives only that (the brief was read from it).
    request: str = ""
    material_files: tuple[Path, ...] = ()
    topic: str = ""


def _entry(raw: Any, base: Path, where: str) -> Case:
    from drafting.writing.brief import brief_from_request

    if not isinstance(raw, dict) or "id" not in raw:
        raise ValueError(f"{where}：每个用例必须是带 id 的键值表")
    cid = str(raw["id"])
    unknown = set(raw) - ENTRY_KEYS
    if unknown:
        raise ValueError(f"{where} {cid}：未知字段 {sorted(unknown)}（可用：{sorted(ENTRY_KEYS)}）")
    if ("brief" in raw) == ("request" in raw):
        raise ValueError(f"{where} {cid}：brief 和 request 必须且只能给一个")
    split = str(raw.get("split") or "")
    if split and split not in SPLITS:
        raise ValueError(f"{where} {cid}：split 只能是 {'/'.join(SPLITS)}，不是 {split!r}")
    expect = raw.get("expect_genre") or ()
    expect_genre = (expect,) if isinstance(expect, str) else tuple(str(g) for g in expect)
    files = tuple((base / str(p)).resolve() for p in raw.get("material") or ())
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise ValueError(f"{where} {cid}：找不到材料文件 {missing}")
    texts = [f.read_text(encoding="utf-8") for f in files]
    try:
        if "request" in raw:
            request = str(raw["request"]).strip()
            brief = brief_from_request(request, material=texts)
        else:
            request = ""
            data = dict(raw["brief"])
            data["material"] = [*(data.get("material") or []), *texts]
            brief = Brief.model_validate(data)
    except (ValidationError, DraftingError) as exc:
        raise ValueError(f"{where} {cid}：任务书无效：{exc}") from exc
    return Case(
        id=cid,
        brief=brief,
        split=split,
        expect_genre=expect_genre,
        request=request,
        material_files=files,
        topic=str(raw.get("topic") or ""),
    )


def load_cases(path: Path) -> list[Case]:
    """The cases of a YAML file, or of every ``*.yaml`` in a folder (read in name order)."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    cases: list[Case] = []
    for f in files:
        for i, raw in enumerate(yaml.safe_load(f.read_text(encoding="utf-8")) or []):
            cases.append(_entry(raw, f.parent, f"{f.name} 第 {i + 1} 条"))
    ids = [c.id for c in cases]
    if len(ids) != len(set(ids)):
        raise ValueError(f"duplicate case ids in {path}")
    return cases


def select_split(cases: Sequence[Case], split: str) -> list[Case]:
    """``all`` keeps every case; ``tune``/``holdout`` keep the cases marked so."""
    if split == "all":
        return list(cases)
    if split not in SPLITS:
        raise ValueError(f"split 只能是 all/{'/'.join(SPLITS)}")
    return [c for c in cases if c.split == split]
