"""The two banks behind 溢才气 and 通天气: classical lines and higher-level policy formulations.

Bundled banks live in ``prompts/banks/`` (``classics.yaml``, ``policy.yaml``, topic vocabulary in
``topics.yaml``). An office adds its own entries in ``<data dir>/banks/classics.yaml|csv`` and
``policy.yaml|csv``; an office entry with the same text replaces the bundled one. A bad office file never
stops the bundled banks from loading: its problems are kept, in Chinese with file and line, in
``Banks.problems``. ``pick_classics`` / ``pick_formulations`` offer entries that fit a brief; the checks of
drafts against the banks are in :mod:`drafting.bankcheck`.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drafting.config import get_settings
from drafting.domain import Brief
from drafting.llm.prompts import PROMPTS_DIR

__all__ = [
    "ClassicLine",
    "Formulation",
    "Banks",
    "UsedEntries",
    "BANKS_DIR",
    "load_banks",
    "load_topics",
    "pick_classics",
    "pick_formulations",
    "used_entries",
    "han_only",
    "quotes_wording",
]

log = logging.getLogger(__name__)

BANKS_DIR = PROMPTS_DIR / "banks"
SOURCE_RE = r"^《[^《》]+》$"
FALLBACK_TOPICS = ("责任落实", "担当", "作风")  # what any work speech can use when the brief names no topic
NATIONAL_BONUS = 0.4  # the central wording outranks a province's when both fit (a year's recency is worth 0.25)
USED_MIN_CHARS = 8  # a draft "uses" a bank line when it repeats at least this many of its characters in a row

_HAN = re.compile(r"[\u3400-\u9fff]")
_FAST: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PUNCT = re.compile(r"[、，,；;：:“”\"'·\s。！？]")
_LIST_SPLIT = re.compile(r"[、,，;；/|\s]+")


def han_only(text: str) -> str:
    """The Chinese characters of ``text``: quotes compare without punctuation or spaces."""
    return "".join(_HAN.findall(text))


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # "bundled" for the team's banks, "office" for entries from the data dir.
    origin: str = "bundled"


class ClassicLine(_Entry):
    """A classical line or allusion with its exact source."""

    text: str = Field(min_length=2)
    source: str = Field(pattern=SOURCE_RE)
    author: str = ""
    meaning: str = ""
    tags: list[str] = Field(default_factory=list)
    kind: Literal["line", "allusion"] = "line"
    variants: list[str] = Field(default_factory=list)

    @property
    def book(self) -> str:
        """``《论语·学而》`` -> ``论语``; ``《黄帝内经·素问·…》`` -> ``黄帝内经``."""
        return self.source.strip("《》").split("·")[0]

    @property
    def chapter(self) -> str:
        parts = self.source.strip("《》").split("·")
        return parts[-1] if len(parts) > 1 else ""

    @property
    def citation(self) -> str:
        return f"{self.author}{self.source}" if self.author else self.source

    @property
    def display(self) -> str:
        """One line for the writer (and for prompts): “text”（author《source》）."""
        return f"“{self.text.rstrip('。')}”（{self.citation}）"

    @property
    def spoken(self) -> str:
        """The line as a speech quotes it, whole and with its source: 《论语·子路》中讲：“欲速则不达……。”"""
        quote = self.text if self.text[-1:] in "。！？；" else self.text + "。"
        return f"{self.citation}中讲：“{quote}”"

    def wordings(self) -> list[str]:
        return [self.text, *self.variants]


class Formulation(_Entry):
    """A short higher-level formulation, verbatim from a named document."""

    text: str = Field(min_length=2, max_length=30)
    document: str = Field(min_length=1)
    issuer: str = ""
    year: int = Field(ge=1949, le=2100)
    topics: list[str] = Field(default_factory=list)
    doc_id: str = ""
    used_by: int = 0
    # False for wordings used in the negative (不搞“大水漫灌”): known to the checks, never offered.
    offer: bool = True

    @property
    def citation(self) -> str:
        return f"《{self.document}》（{self.year}年）"

    @property
    def display(self) -> str:
        """One line for the writer (and for prompts): “text”（issuer《document》）."""
        return f"“{self.text}”（{self.issuer}《{self.document}》）"


@dataclass(frozen=True)
class Banks:
    classics: tuple[ClassicLine, ...]
    formulations: tuple[Formulation, ...]
    topics: dict[str, tuple[str, ...]]
    problems: tuple[str, ...] = ()


@dataclass
class UsedEntries:
    classics: list[ClassicLine] = field(default_factory=list)
    formulations: list[Formulation] = field(default_factory=list)


# ---- loading -------------------------------------------------------------------------------------


def _read_office_text(path: Path) -> str:
    """UTF-8 (with or without BOM) or GB18030, which Excel on a Chinese Windows writes for CSV."""
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("文件编码无法识别，请另存为 UTF-8")


def _yaml_entries(path: Path) -> list[tuple[int, Any]]:
    """(line number, raw entry) for each item of a YAML list (or of its ``entries`` key)."""
    text = _read_office_text(path)
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return []
    if isinstance(node, yaml.MappingNode):
        node = next((v for k, v in node.value if k.value == "entries"), None)
    if not isinstance(node, yaml.SequenceNode):
        raise ValueError("文件应为条目列表（或含 entries 列表）")
    loader = yaml.SafeLoader("")
    try:
        return [(item.start_mark.line + 1, loader.construct_object(item, deep=True)) for item in node.value]
    finally:
        loader.dispose()


def _csv_entries(path: Path, list_fields: tuple[str, ...]) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    reader = csv.DictReader(io.StringIO(_read_office_text(path), newline=""))
    for row in reader:
        item: dict[str, Any] = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        for name in list_fields:
            if name in item:
                item[name] = [t for t in _LIST_SPLIT.split(item[name]) if t]
        out.append((reader.line_num, {k: v for k, v in item.items() if v != ""}))
    return out


def _explain(err: ValidationError) -> str:
    names = {"text": "原文", "source": "出处", "document": "文件", "year": "年份", "topics": "主题", "tags": "标签"}
    parts = []
    for e in err.errors():
        where = ".".join(str(x) for x in e["loc"])
        label = names.get(str(e["loc"][0]), where) if e["loc"] else "条目"
        if e["type"] == "missing":
            parts.append(f"缺少“{label}”")
        elif e["type"] == "string_pattern_mismatch":
            parts.append(f"“{label}”应写成《书名·篇名》")
        elif e["type"] == "extra_forbidden":
            parts.append(f"不认识的字段“{where}”")
        elif e["type"] == "string_too_long":
            parts.append(f"“{label}”太长（提法不超过 30 字）")
        else:
            parts.append(f"“{label}”不合要求")
    return "；".join(parts)


def _load_office(
    data_dir: Path, stem: str, model: type[ClassicLine] | type[Formulation], list_fields: tuple[str, ...]
) -> tuple[list[Any], list[str]]:
    entries: list[Any] = []
    problems: list[str] = []
    for suffix in (".yaml", ".yml", ".csv"):
        path = data_dir / "banks" / f"{stem}{suffix}"
        if not path.is_file():
            continue
        try:
            raw = _csv_entries(path, list_fields) if suffix == ".csv" else _yaml_entries(path)
        except yaml.MarkedYAMLError as err:
            line = (err.problem_mark or err.context_mark).line + 1 if (err.problem_mark or err.context_mark) else 0
            problems.append(f"{path} 第 {line} 行：YAML 格式错误（{err.problem or err}），整个文件未载入")
            continue
        except (OSError, UnicodeDecodeError, ValueError, csv.Error) as err:
            problems.append(f"{path}：无法读取（{err}），整个文件未载入")
            continue
        for line, item in raw:
            if not isinstance(item, dict):
                problems.append(f"{path} 第 {line} 行：条目应为“字段: 值”的形式，已跳过")
                continue
            try:
                entries.append(model.model_validate({**item, "origin": "office"}))
            except ValidationError as err:
                problems.append(f"{path} 第 {line} 行：{_explain(err)}，已跳过")
    return entries, problems


def _merge(bundled: list[Any], office: list[Any]) -> tuple[Any, ...]:
    by_text = {e.text: e for e in bundled}
    for e in office:
        by_text[e.text] = e  # the office's own wording wins
    return tuple(by_text.values())


@lru_cache(maxsize=1)
def load_topics() -> dict[str, tuple[str, ...]]:
    raw = yaml.safe_load((BANKS_DIR / "topics.yaml").read_text(encoding="utf-8"))
    return {str(k): tuple(str(w) for w in v) for k, v in raw.items()}


@lru_cache(maxsize=1)
def _bundled() -> tuple[tuple[ClassicLine, ...], tuple[Formulation, ...]]:
    classics = yaml.load((BANKS_DIR / "classics.yaml").read_text(encoding="utf-8"), Loader=_FAST)["entries"]
    policy = yaml.load((BANKS_DIR / "policy.yaml").read_text(encoding="utf-8"), Loader=_FAST)["entries"]
    return (
        tuple(ClassicLine.model_validate(e) for e in classics),
        tuple(Formulation.model_validate(e) for e in policy),
    )


def _office_signature(data_dir: Path) -> tuple[tuple[str, float], ...]:
    folder = data_dir / "banks"
    if not folder.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_mtime) for p in folder.iterdir() if p.is_file()))


@lru_cache(maxsize=4)
def _load(data_dir: Path, signature: tuple[tuple[str, float], ...]) -> Banks:
    classics, formulations = _bundled()
    office_c, problems_c = _load_office(data_dir, "classics", ClassicLine, ("tags", "variants"))
    office_f, problems_f = _load_office(data_dir, "policy", Formulation, ("topics",))
    problems = tuple(problems_c + problems_f)
    for p in problems:
        log.warning("banks: %s", p)
    return Banks(
        classics=_merge(list(classics), office_c),
        formulations=_merge(list(formulations), office_f),
        topics=load_topics(),
        problems=problems,
    )


def load_banks(data_dir: Path | None = None) -> Banks:
    """Bundled banks merged with the office's own entries; cached until an office file changes."""
    folder = data_dir if data_dir is not None else get_settings().data_dir
    return _load(folder, _office_signature(folder))


# ---- selection -----------------------------------------------------------------------------------


def _brief_text(brief: Brief) -> str:
    parts = [brief.query_text(), brief.genre, brief.audience, brief.facts, " ".join(brief.key_points)]
    return " ".join(p for p in parts if p and p.strip())


def _topic_weights(text: str, topics: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """How strongly the brief is about each topic: its name counts double, each keyword once per use."""
    weights: dict[str, float] = {}
    for topic, words in topics.items():
        w = 2.0 * text.count(topic) + sum(text.count(k) for k in words if k != topic)
        if w:
            weights[topic] = w
    return weights


@lru_cache(maxsize=8192)
def _words(text: str) -> frozenset[str]:
    from drafting.corpus.keyword import query_tokens

    return frozenset(w for w in query_tokens(text) if len(w) >= 2 and _HAN.search(w))


def _rank(entries: list[Any], score: dict[int, float], k: int, group: Any) -> list[Any]:
    """Top k by score (ties: bank order), at most one per group while other groups remain."""
    order = sorted(range(len(entries)), key=lambda i: (-score[i], i))
    picked: list[int] = []
    seen: set[Any] = set()
    for i in order:
        if score[i] <= 0 or len(picked) == k:
            break
        if group(entries[i]) not in seen:
            picked.append(i)
            seen.add(group(entries[i]))
    for i in order:  # fill from repeated groups when the distinct ones run out
        if len(picked) == k or score[i] <= 0:
            break
        if i not in picked:
            picked.append(i)
    return [entries[i] for i in picked]


def pick_classics(brief: Brief, k: int = 3, banks: Banks | None = None) -> list[ClassicLine]:
    """Classical lines that fit the brief: topic-tag match, then shared words with the line and its meaning.
    Deterministic; one line per book while others remain; plain lines before allusions."""
    banks = banks or load_banks()
    text = _brief_text(brief)
    weights = _topic_weights(text, banks.topics) or {t: 1.0 for t in FALLBACK_TOPICS}
    words = _words(text)
    entries = list(banks.classics)
    score: dict[int, float] = {}
    for i, e in enumerate(entries):
        s = sum(weights.get(t, 0.0) for t in e.tags)
        s += 0.5 * len(words & _words(e.text + e.meaning))
        if e.kind == "allusion":
            s *= 0.8
        if len(han_only(e.text)) > 32:  # long lines are hard to say aloud
            s *= 0.85
        score[i] = s
    return _rank(entries, score, k, lambda e: e.book)


FORMULATION_FIT = 1.5  # topic and word match, before recency and reach count, below which none is offered


_REGION = re.compile(r"^(.{2,8}?)(?:壮族|回族|维吾尔)?(?:省|自治区|市)人民政府$")


def region_of(issuer: str) -> str:
    """The province a local government's formulation belongs to ("吉林省人民政府" -> "吉林"); "" for
    the central government and the Party centre, whose wording is every unit's superior policy."""
    m = _REGION.match(issuer)
    return m.group(1) if m else ""


def pick_formulations(brief: Brief, k: int = 4, banks: Banks | None = None) -> list[Formulation]:
    """Current formulations that fit the brief: topic match, shared words, newer years and wider use first.
    Never two where one contains the other. A province's formulation is superior policy only for a unit
    in that province: it is offered only when the brief names the province (offered to a city the
    brief did not place, 吉林省's report made the local 1.5B model call the city "吉林市")."""
    banks = banks or load_banks()
    text = _brief_text(brief)
    weights = _topic_weights(text, banks.topics)
    words = _words(text)
    placed = " ".join([text, brief.request, brief.speaker, *brief.material, *brief.confirmed])
    entries = [e for e in banks.formulations if e.offer and (not region_of(e.issuer) or region_of(e.issuer) in placed)]
    newest = max((e.year for e in entries), default=0)
    score: dict[int, float] = {}
    for i, e in enumerate(entries):
        s = sum(weights.get(t, 0.0) for t in e.topics) + 0.5 * len(words & _words(e.text))
        if e.text in text:
            s += 3.0
        if s < FORMULATION_FIT:
            s = 0.0  # a formulation about something else is worse than none ("强基工程" in a 街道述职)
        if s > 0:
            s += 0.5 / (1 + newest - e.year) + 0.1 * math.log1p(e.used_by)
            if e.issuer == "国务院" or "中央委员会" in e.issuer:
                s += NATIONAL_BONUS
        score[i] = s
    picked: list[Formulation] = []
    for e in _rank(entries, score, len(entries), lambda e: e.text):
        if any(e.text in p.text or p.text in e.text for p in picked):
            continue
        picked.append(e)
        if len(picked) == k:
            break
    return picked


# ---- which entries a draft used -------------------------------------------------------------------


def quotes_wording(draft_han: str, wording: str) -> bool:
    """Whether a text (its Chinese characters only) repeats a bank wording: 8 characters of it in a row,
    or all of it when it is shorter."""
    han = han_only(wording)
    if len(han) <= USED_MIN_CHARS:
        return bool(han) and han in draft_han
    return any(han[i : i + USED_MIN_CHARS] in draft_han for i in range(len(han) - USED_MIN_CHARS + 1))


def _loose(wording: str) -> bool:
    """A formulation may match without its punctuation unless it carries signs that matter (人工智能+)."""
    return _PUNCT.sub("", wording) == han_only(wording)


def used_entries(text: str, banks: Banks | None = None) -> UsedEntries:
    """Bank entries a draft quotes: classics by at least 8 characters in a row (the whole line if shorter),
    formulations verbatim (a shorter formulation inside a longer one used is not counted again)."""
    banks = banks or load_banks()
    draft_han = han_only(text)
    classics = [e for e in banks.classics if any(quotes_wording(draft_han, w) for w in e.wordings())]
    found = [e for e in banks.formulations if e.text in text or (_loose(e.text) and han_only(e.text) in draft_han)]
    formulations = [e for e in found if not any(e.text != o.text and e.text in o.text for o in found)]
    return UsedEntries(classics=classics, formulations=formulations)
