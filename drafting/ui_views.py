"""View models for the Streamlit page: pure functions from domain objects to what is drawn.

Nothing here calls ``st.*``; every function is testable without a browser.
"""

from __future__ import annotations

import difflib
import html
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml

from .domain import PRINCIPLES, STANCES, Brief, Costs, Criterion, Draft, Outline, OutlineSection, Passage, Review
from .errors import BriefError
from .prompts import PROMPTS_DIR

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "OUTLINE_COLUMNS",
    "outline_rows",
    "outline_from_rows",
    "highlight_html",
    "diff_html",
    "radar_figure",
    "cost_line",
    "source_line",
    "Progress",
    "load_presets",
    "preset_names",
    "draft_blocks",
    "CITE",
]

CITE = re.compile(r"\[(\d{1,3})\]")
CJK_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "DejaVu Sans"]
KIND_LABELS = {"opening": "开头", "body": "主体", "closing": "结尾"}
_KIND_OF_LABEL = {v: k for k, v in KIND_LABELS.items()}
OUTLINE_COLUMNS = ("部分", "标题", "目的", "要点", "字数", "侧重")


# -- outline <-> editable rows --------------------------------------------------------------------
def outline_rows(outline: Outline) -> list[dict[str, Any]]:
    """One row per section for ``st.data_editor``; points and principles joined by ；/、."""
    return [
        {
            "部分": KIND_LABELS.get(s.kind, "主体"),
            "标题": s.heading,
            "目的": s.purpose,
            "要点": "；".join(s.points),
            "字数": int(s.budget),
            "侧重": "、".join(p.value for p in s.principles),
        }
        for s in outline.sections
    ]


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None or (isinstance(value, float) and value != value):  # NaN from pandas
        return ""
    return str(value).strip()


def outline_from_rows(rows: list[dict[str, Any]], title: str, brief: Brief) -> Outline:
    """The edited rows back as an Outline; rows without a heading are dropped, budgets re-allocated if all zero."""
    from .outline import allocate_budgets

    sections: list[OutlineSection] = []
    criteria = {c.value: c for c in (*PRINCIPLES, *STANCES)}
    for row in rows:
        kind = _KIND_OF_LABEL.get(_cell(row, "部分"), "body")
        heading = _cell(row, "标题") or ("开头" if kind == "opening" else "结尾" if kind == "closing" else "")
        if not heading:
            continue
        try:
            budget = max(0, int(float(_cell(row, "字数") or 0)))
        except ValueError:
            budget = 0
        sections.append(
            OutlineSection(
                heading=heading,
                kind=kind,
                purpose=_cell(row, "目的"),
                points=[p.strip() for p in re.split(r"[；;\n]", _cell(row, "要点")) if p.strip()],
                budget=budget,
                principles=[criteria[p] for p in re.split(r"[、，,\s]+", _cell(row, "侧重")) if p in criteria],
            )
        )
    if not any(s.kind == "body" for s in sections):
        raise BriefError("提纲至少要有一个“主体”部分，请补上标题。")
    outline = Outline(title=title.strip() or brief.title or "未命名文稿", sections=sections)
    if sum(s.budget for s in sections) == 0:
        return allocate_budgets(outline, brief)
    return outline


# -- search results, citations, drafts -----------------------------------------------------------
def highlight_html(query: str, text: str, *, limit: int = 400) -> str:
    """``text`` as safe HTML with the query's words wrapped in <mark>; everything else escaped."""
    from .retrieve import highlight_terms

    text = text[:limit] + ("……" if len(text) > limit else "")
    out: list[str] = []
    pos = 0
    merged: list[tuple[int, int]] = []
    for start, end in highlight_terms(query, text):
        if merged and merged[-1][1] == start:  # 安全|生产 -> one mark, easier to read
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    for start, end in merged:
        out.append(html.escape(text[pos:start]))
        out.append(f"<mark>{html.escape(text[start:end])}</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def source_line(p: Passage) -> str:
    """《title》 · section path · genre · date, for a passage's caption."""
    if p.origin == "material":
        return "写作者提供的素材"
    parts = [f"《{p.title}》" if p.title else "", p.section, p.genre, p.date]
    return " · ".join(x for x in parts if x)


def draft_blocks(draft: Draft) -> list[tuple[str, str]]:
    """(kind, text) blocks to render: ("heading", 一、…) and ("para", …); unfinished sections marked."""
    blocks: list[tuple[str, str]] = []
    for s in draft.sections:
        if s.kind == "body" and s.heading:
            blocks.append(("heading", s.heading))
        blocks.extend(("para", p.strip()) for p in s.text.splitlines() if p.strip())
        if not s.complete:
            blocks.append(("unfinished", f"（“{s.heading or KIND_LABELS.get(s.kind, '')}”未写完，可点“继续写”）"))
    return blocks


def cost_line(costs: Costs, *, chars: int | None = None) -> str:
    parts = [
        f"用时 {costs.seconds:.1f} 秒",
        f"调用模型 {costs.calls} 次",
        f"输入 {costs.tokens_in} / 输出 {costs.tokens_out} tokens",
    ]
    if chars is not None:
        parts.insert(0, f"{chars} 字")
    return " · ".join(parts)


_DIFF_CSS = """<style>
table.diff {font-size: 0.9rem; border-collapse: collapse; width: 100%; table-layout: fixed;}
table.diff td {padding: 2px 6px; vertical-align: top; white-space: pre-wrap; word-break: break-all;}
table.diff th {background: #f0f2f6; font-weight: 600; padding: 4px;}
.diff_header {color: #888; width: 2.5em;} td.diff_next {display: none;}
.diff_add {background: #d7f5dd;} .diff_chg {background: #fff2bf;} .diff_sub {background: #fbd9d9;}
</style>"""


def diff_html(old: Draft, new: Draft, *, old_label: str = "", new_label: str = "") -> str:
    """Side-by-side paragraph diff (difflib.HtmlDiff) with its own small stylesheet."""
    table = difflib.HtmlDiff(wrapcolumn=48).make_table(
        old.paragraphs,
        new.paragraphs,
        fromdesc=html.escape(old_label or f"第{old.version}稿"),
        todesc=html.escape(new_label or f"第{new.version}稿"),
        context=False,
    )
    return _DIFF_CSS + table


# -- review radar -------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _font_family() -> list[str]:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in CJK_FONTS if f in installed] or ["DejaVu Sans"]


def radar_figure(review: Review) -> Figure:
    """The eight scores (五气 + 三情) on a radar chart, labels in Chinese."""
    import math

    from matplotlib.figure import Figure

    order: list[Criterion] = [*PRINCIPLES, *STANCES]
    values = [float(review.score_of(c) or 0) for c in order]
    angles = [2 * math.pi * i / len(order) for i in range(len(order))]
    fig = Figure(figsize=(4.6, 4.6), dpi=110)
    ax: Any = fig.add_subplot(projection="polar")
    family = _font_family()
    ax.plot([*angles, angles[0]], [*values, values[0]], color="#c0392b", linewidth=2)
    ax.fill([*angles, angles[0]], [*values, values[0]], color="#c0392b", alpha=0.18)
    ax.set_xticks(angles)
    ax.set_xticklabels([c.value for c in order], fontfamily=family, fontsize=11)
    ax.set_ylim(0, 10)
    ax.set_yticks([2, 4, 6, 8, 10])
    ax.set_yticklabels(["2", "4", "6", "8", "10"], fontsize=8, color="#888")
    for a, v in zip(angles, values, strict=True):
        ax.annotate(f"{v:.0f}", (a, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=9)
    fig.tight_layout()
    return fig


# -- progress of a running draft -----------------------------------------------------------------
@dataclass
class Progress:
    """Turns pipeline events into what the page shows while a draft streams in."""

    outline: Outline | None = None
    texts: dict[int, str] = field(default_factory=dict)
    done: set[int] = field(default_factory=set)
    message: str = "正在准备……"
    started: float = field(default_factory=time.perf_counter)
    tokens: int = 0
    error: str = ""

    def on_event(self, kind: str, data: Any) -> None:
        if kind == "passages":
            self.message = f"已选参考材料 {len(data)} 段，正在拟提纲……"
        elif kind == "outline":
            self.outline = data
            self.message = "提纲已定，开始写正文……"
        elif kind == "token":
            index, piece = data
            self.texts[index] = self.texts.get(index, "") + piece
            self.tokens += 1
            self.message = f"正在写：{self._name(index)}"
        elif kind == "section":
            draft: Draft = data
            self.done = set(range(len(draft.sections)))
            for i, s in enumerate(draft.sections):
                self.texts[i] = (s.heading + "\n" if s.heading else "") + s.text
        elif kind == "draft":
            self.message = "初稿已完成"
        elif kind == "error":
            self.error = str(data)

    def _name(self, index: int) -> str:
        if self.outline is None or index >= len(self.outline.sections):
            return f"第{index + 1}部分"
        s = self.outline.sections[index]
        return s.heading if s.kind == "body" else KIND_LABELS.get(s.kind, s.heading)

    @property
    def fraction(self) -> float:
        total = len(self.outline.sections) if self.outline else 0
        if not total:
            return 0.0
        return min(1.0, len(self.done) / total)

    @property
    def text(self) -> str:
        return "\n\n".join(self.texts[i] for i in sorted(self.texts) if self.texts[i].strip())

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def status(self) -> str:
        return f"{self.message}（已用 {self.elapsed:.0f} 秒，已收到 {self.tokens} 个片段）"


# -- presets ----------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def load_presets() -> dict[str, dict[str, Any]]:
    """Brief presets by name, from prompts/presets.yaml (each validated as a Brief)."""
    raw = yaml.safe_load((PROMPTS_DIR / "presets.yaml").read_text(encoding="utf-8")) or []
    out: dict[str, dict[str, Any]] = {}
    for entry in raw:
        name = entry.pop("name")
        Brief.model_validate(entry)  # a broken preset fails loudly in tests, not on the page
        out[name] = entry
    return out


def preset_names(genre: str | None = None) -> list[str]:
    return [n for n, p in load_presets().items() if genre is None or p.get("genre") == genre]
