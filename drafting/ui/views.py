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

from drafting.domain import (
    PRINCIPLES,
    STANCES,
    Brief,
    Costs,
    Criterion,
    Draft,
    Outline,
    OutlineSection,
    Passage,
    Review,
    SectionKind,
    count_chars,
)
from drafting.errors import BriefError
from drafting.events import (
    DraftWritten,
    OutlineReady,
    PassagesChosen,
    ProgressEvent,
    ReviewFailed,
    SectionWritten,
    TokenStreamed,
)
from drafting.llm.prompts import PROMPTS_DIR

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
    "md_text",
    "text_html",
    "marked_html",
    "PLACEHOLDER",
    "clean_text",
    "local_time",
    "short_name",
    "keep_refs",
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
    from drafting.writing.outline import allocate_budgets

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
                kind=SectionKind(kind),
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


# -- rendering text that came from data (a model, a 范文, material, the writer) ------------------
# Streamlit renders Markdown in st.markdown, captions, labels and messages: an image there loads
# from any host with no click, and a link leaks a click. Every ASCII punctuation mark is escaped
# (CommonMark allows a backslash before any of them), so the text shows exactly as written.
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
PLACEHOLDER = re.compile(r"〔待补[：:][^〔〕]{0,120}〕")


def md_text(text: str) -> str:
    """``text`` for any Markdown-rendering element, shown literally: no image, link, HTML or directive."""
    return _MD_SPECIAL.sub(r"\\\1", text.strip())


def text_html(text: str) -> str:
    """``text`` as inert HTML (for ``st.html``): everything escaped, line breaks kept."""
    return html.escape(text).replace("\n", "<br>")


_MARK_TITLES = {"todo": "待补充的内容", "verify": "数字需核实：任务和引用材料中都找不到", "focus": "评分依据"}


def marked_html(text: str, figures: list[str] | tuple[str, ...] = (), focus: str = "") -> str:
    """Escaped ``text`` with 〔待补：…〕 placeholders, figures to verify and the ``focus`` passage in <mark>."""
    spans: list[tuple[int, int, str]] = []
    found = text.find(focus) if focus.strip() else -1
    if found >= 0:
        spans.append((found, found + len(focus), "focus"))
    for m in PLACEHOLDER.finditer(text):
        if not any(s < m.end() and m.start() < e for s, e, _ in spans):
            spans.append((m.start(), m.end(), "todo"))
    for figure in sorted(set(figures), key=len, reverse=True):
        for m in re.finditer(re.escape(figure), text):
            if not any(s < m.end() and m.start() < e for s, e, _ in spans):
                spans.append((m.start(), m.end(), "verify"))
    marks = [(start, end, f'<mark class="{kind}" title="{_MARK_TITLES[kind]}">') for start, end, kind in sorted(spans)]
    return _with_marks(text, marks)


def _with_marks(text: str, marks: list[tuple[int, int, str]]) -> str:
    """``text`` as inert HTML with each (start, end, opening tag) span wrapped in that <mark> tag."""
    out: list[str] = []
    pos = 0
    for start, end, tag in marks:
        out.append(html.escape(text[pos:start]))
        out.append(f"{tag}{html.escape(text[start:end])}</mark>")
        pos = end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def clean_text(draft: Draft) -> str:
    """Title and body as plain text for the clipboard: no [n] citation markers."""
    body = "\n".join(CITE.sub("", line) for line in draft.body_text.splitlines())
    return f"{draft.title}\n\n{body}".strip()


def local_time(iso: str) -> str:
    """An ISO timestamp as the writer reads it, in local time: 2026年11月27日 16:27."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M}"


_PAIRS = {"（": "）", "(": ")", "《": "》", "“": "”", "【": "】"}


def short_name(name: str, limit: int = 18) -> str:
    """A name cut for the sidebar; a bracket or book title mark cut open is closed again (《…》)."""
    if len(name) <= limit:
        return name
    cut = name[:limit].rstrip("，、：:；; ")
    open_marks: list[str] = []
    for ch in cut:
        if ch in _PAIRS:
            open_marks.append(_PAIRS[ch])
        elif open_marks and ch == open_marks[-1]:
            open_marks.pop()
    return cut + "…" + "".join(reversed(open_marks))


def keep_refs(new: Outline, old: Outline) -> Outline:
    """The writer's edit of an outline keeps each section's 范文 references and chosen bank entries
    (same heading, else same place)."""
    by_heading = {s.heading: s for s in old.sections}
    sections = []
    for i, s in enumerate(new.sections):
        was = by_heading.get(s.heading) or (old.sections[i] if i < len(old.sections) else None)
        update: dict[str, Any] = {"refs": list(s.refs or (was.refs if was else []))}
        if was is not None:
            update["classics"] = s.classics or was.classics
            update["formulations"] = s.formulations or was.formulations
        sections.append(s.model_copy(update=update))
    return new.model_copy(update={"sections": sections})


# -- bank entries per outline part (issue 12) -----------------------------------------------------
OFFERS_PER_PART = 4


def offers_for(brief: Brief, section: OutlineSection, k: int = OFFERS_PER_PART) -> tuple[list[Any], list[Any]]:
    """Classical lines and higher-level formulations that fit one part: the brief with the part's heading,
    purpose and points as its key points (written here until drafting.writing.banks offers a per-part pick)."""
    from drafting.writing.banks import pick_classics, pick_formulations

    focus = brief.model_copy(update={"key_points": [section.heading, section.purpose, *section.points]})
    return pick_classics(focus, k=k), pick_formulations(focus, k=k)


def entry_display(text: str) -> str:
    """A chosen bank entry shown with its source; an entry no longer in the banks shows as its text."""
    from drafting.writing.banks import load_banks

    banks = load_banks()
    found = [c.display for c in banks.classics if c.text == text]
    found += [f.display for f in banks.formulations if f.text == text]
    return found[0] if found else f"“{text}”"


def _carrier(outline: Outline, principle: Criterion) -> int | None:
    body = [i for i, s in enumerate(outline.sections) if s.kind == "body"]
    return next((i for i in body if principle in outline.sections[i].principles), body[0] if body else None)


def chosen_or_default(outline: Outline, brief: Brief) -> Outline:
    """The outline with each part's bank entries: the writer's choice where made, else the writer step's
    default picks for the brief, each on the part that carries its principle (溢才气 / 通天气)."""
    from drafting.writing.banks import pick_classics, pick_formulations
    from drafting.writing.draft import CLASSICS_OFFERED, FORMULATIONS_OFFERED

    if any(s.classics or s.formulations for s in outline.sections):
        return outline
    sections = [s.model_copy(update={"classics": [], "formulations": []}) for s in outline.sections]
    for field_name, picks, principle in (
        ("classics", pick_classics(brief, k=CLASSICS_OFFERED), Criterion.YICAIQI),
        ("formulations", pick_formulations(brief, k=FORMULATIONS_OFFERED), Criterion.TONGTIANQI),
    ):
        where = _carrier(outline, principle)
        if where is not None:
            getattr(sections[where], field_name).extend(e.text for e in picks)
    return outline.model_copy(update={"sections": sections})


# -- search results, citations, drafts -----------------------------------------------------------
def highlight_html(query: str, text: str, *, limit: int = 400) -> str:
    """``text`` as safe HTML with the query's words wrapped in <mark>; everything else escaped."""
    from drafting.corpus.retrieve import highlight_terms

    text = text[:limit] + ("……" if len(text) > limit else "")
    merged: list[tuple[int, int]] = []
    for start, end in highlight_terms(query, text):
        if merged and merged[-1][1] == start:  # 安全|生产 -> one mark, easier to read
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return _with_marks(text, [(start, end, "<mark>") for start, end in merged])


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
    parts = [f"用时 {costs.seconds:.1f} 秒", f"调用模型 {costs.calls} 次"]
    if chars is not None:
        parts.insert(0, f"{chars} 字")
    return " · ".join(parts)


_DIFF_CSS = """<style>
table.cmp {width: 100%; table-layout: fixed; border-collapse: collapse; font-size: 0.95rem; line-height: 1.7;}
table.cmp col {width: 50%;}
table.cmp th {background: #f0f2f6; padding: 6px 8px; text-align: left;}
table.cmp td {vertical-align: top; padding: 4px 8px; border-top: 1px solid #eee; word-break: break-word;}
table.cmp td.chg {background: #fffbe6;} table.cmp td.sub {background: #fff1f0;} table.cmp td.add {background: #f6ffed;}
table.cmp del {background: #ffccc7; text-decoration: line-through;} table.cmp ins {background: #b7eb8f; text-decoration: none;}
</style>"""


def _inline_diff(old: str, new: str) -> tuple[str, str]:
    a: list[str] = []
    b: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            a.append(html.escape(old[i1:i2]))
            b.append(html.escape(new[j1:j2]))
            continue
        if i2 > i1:
            a.append(f"<del>{html.escape(old[i1:i2])}</del>")
        if j2 > j1:
            b.append(f"<ins>{html.escape(new[j1:j2])}</ins>")
    return "".join(a), "".join(b)


def diff_html(old: Draft, new: Draft, *, old_label: str = "", new_label: str = "") -> str:
    """Two readable columns, paragraphs aligned; changed words struck out on the left, marked on the right."""
    rows: list[str] = []
    a, b = old.paragraphs, new.paragraphs
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [f"<tr><td>{html.escape(x)}</td><td>{html.escape(x)}</td></tr>" for x in a[i1:i2]]
            continue
        left, right = a[i1:i2], b[j1:j2]
        for k in range(max(len(left), len(right))):
            if k < len(left) and k < len(right):
                x, y = _inline_diff(left[k], right[k])
                rows.append(f'<tr><td class="chg">{x}</td><td class="chg">{y}</td></tr>')
            elif k < len(left):
                rows.append(f'<tr><td class="sub"><del>{html.escape(left[k])}</del></td><td></td></tr>')
            else:
                rows.append(f'<tr><td></td><td class="add"><ins>{html.escape(right[k])}</ins></td></tr>')
    head = (
        f"<tr><th>{html.escape(old_label or f'第{old.version}稿')}</th>"
        f"<th>{html.escape(new_label or f'第{new.version}稿')}</th></tr>"
    )
    return f'{_DIFF_CSS}<table class="cmp"><colgroup><col><col></colgroup>{head}{"".join(rows)}</table>'


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
    raw: str = ""  # the model's text as it streams, before the first gated draft lays it onto the parts

    def on_event(self, event: ProgressEvent) -> None:
        if isinstance(event, PassagesChosen):
            self.message = f"已选参考材料 {len(event.passages)} 段，正在拟提纲……"
        elif isinstance(event, OutlineReady):
            self.outline = event.outline
            self.message = "提纲已定，开始写正文……"
        elif isinstance(event, TokenStreamed):
            index, piece = event.index, event.piece
            self.texts[index] = self.texts.get(index, "") + piece
            self.raw += piece
            self.tokens += 1
            self.message = f"正在写：{self._name(index)}"
        elif isinstance(event, SectionWritten):
            draft: Draft = event.draft
            self.done = set(range(len(draft.sections)))
            for i, s in enumerate(draft.sections):
                self.texts[i] = (s.heading + "\n" if s.heading else "") + s.text
        elif isinstance(event, DraftWritten):
            self.message = "初稿已完成"
        elif isinstance(event, ReviewFailed):
            self.error = str(event.error)

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
        """What has been written so far: the stream as written until the first gated draft, then the parts
        (a heading split across two pieces is never shown split)."""
        if not self.done:
            return self.raw.strip()
        return "\n\n".join(self.texts[i] for i in sorted(self.texts) if self.texts[i].strip())

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def status(self) -> str:
        return f"{self.message}（已用 {self.elapsed:.0f} 秒，已写 {count_chars(self.text)} 字）"


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
