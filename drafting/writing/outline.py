"""Stage 2: brief + passages -> outline. The outline round-trips through plain numbered text."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from drafting.cnnum import cn_num
from drafting.domain import (
    PRINCIPLES,
    Brief,
    Criterion,
    Outline,
    OutlineSection,
    Passage,
    SectionKind,
    _Model,
    count_chars,
)
from drafting.errors import ModelOutputError
from drafting.llm.calls import complete_structured
from drafting.llm.prompts import load_prompt
from drafting.writing.genres import default_title, genre_profile, topic_of
from drafting.writing.references import format_references, overlap
from drafting.writing.text import brief_summary, short_heading

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "make_outline",
    "outline_to_text",
    "outline_from_text",
    "allocate_budgets",
    "fallback_outline",
    "skeleton",
    "section_count",
    "quick_outline",
    "spread_principles",
    "ensure_principles",
]

log = logging.getLogger(__name__)

OPENING = "开头"
# A point sharing this share of its character bigrams with an earlier one repeats it.
REPEATED_POINT = 0.8
_CRITERIA_NAMES = frozenset(c.value for c in Criterion)
_FRAME_WORDS = re.compile(r"^(开头|开场|开场白|引言|前言|结尾|结束语|结语|会议主题|致辞)")
CLOSING = "结尾"


class _RawSection(_Model):
    heading: str
    purpose: str = ""
    points: list[str] = Field(default_factory=list)
    principles: list[str] = Field(default_factory=list)
    refs: list[int] = Field(default_factory=list)


class _RawOutline(_Model):
    title: str = ""
    sections: list[_RawSection]


def skeleton(genre: str) -> dict[str, Any]:
    """The genre's shape (prompts/genres.yaml) in the form the outline prompt and budgets use."""
    p = genre_profile(genre)
    return {"opening": p.opening, "closing": p.closing, "shape": p.shape, "fallback": list(p.headings)}


# Which principles each body part carries, by number of parts: every one of the five is somewhere.
_SPREAD: dict[int, list[list[Criterion]]] = {
    1: [list(PRINCIPLES)],
    2: [
        [Criterion.TONGTIANQI, Criterion.YICAIQI, Criterion.JURENQI],
        [Criterion.JIEDIQI, Criterion.XIANBAQI],
    ],
    3: [
        [Criterion.TONGTIANQI, Criterion.YICAIQI],
        [Criterion.JIEDIQI, Criterion.JURENQI],
        [Criterion.XIANBAQI],
    ],
}


def spread_principles(n: int) -> list[list[Criterion]]:
    """Principles for ``n`` body parts so that each of the five is carried by at least one part."""
    if n in _SPREAD:
        return [list(x) for x in _SPREAD[n]]
    base = [list(x) for x in _SPREAD[3]]
    extra = [[Criterion.JIEDIQI], [Criterion.JURENQI], [Criterion.YICAIQI]]
    return base[:2] + extra[: n - 3] + base[2:]


def ensure_principles(outline: Outline) -> Outline:
    """Add any of the five principles no body part carries to the part that carries fewest."""
    body = [s for s in outline.sections if s.kind == "body"]
    if not body:
        return outline
    carried = {p for s in body for p in s.principles}
    for p in PRINCIPLES:
        if p not in carried:
            min(body, key=lambda s: len(s.principles)).principles.append(p)
    return outline


_AGENDA_ITEM = re.compile(
    r"(?:^|[；;。，,\s：:])(?:[一二三四五六七八九十]是|[（(]?[1-9一二三四五六七八九][)）.．、])\s*([^；;。\n]{2,40})"
)


def agenda_items(brief: Brief) -> list[str]:
    """The meeting's items in order, from the key points or the request ("一是全体起立奏唱国歌；二是……")."""
    points = [_strip_number(p) for p in brief.key_points if _strip_number(p)]
    if len(points) >= 2:
        return [short_heading(p, 40) for p in points]
    items = [m.group(1).strip("，, ") for m in _AGENDA_ITEM.finditer(brief.request)]
    return [short_heading(x, 40) for x in items if count_chars(x) >= 2]


def quick_outline(brief: Brief) -> Outline:
    """An outline made at once, without the model: the genre's headings filled with this brief's
    subject, or the brief's own key points as headings for speeches that have them. Shown to the
    writer immediately (急稿); the model's outline is optional."""
    profile = genre_profile(brief.genre)
    n = section_count(brief)
    points = [short_heading(_strip_number(p)) for p in brief.key_points if _strip_number(p)]
    topic = topic_of(brief.title, brief.occasion, brief.request, brief.key_points)
    # No subject found ("这项"): "这项工作" reads as Chinese where "把握这项的精神实质" does not.
    templates = [h.replace("{topic}", topic if topic != "这项" else "这项工作") for h in profile.headings]
    agenda = agenda_items(brief) if profile.parts == "agenda" else []
    sub: list[list[str]]
    if len(agenda) >= 2:
        headings, sub = agenda, [[] for _ in agenda]  # a 主持词 walks through the meeting's items in order
    elif profile.parts == "points" and 2 <= len(points) <= max(n, 2) + 1 and min(map(count_chars, points)) >= 4:
        # The writer's points are the structure (blind review 2026-11-27: a 汇报材料 on the skeleton's
        # 做法/问题/打算 dropped the point "意见建议" the writer asked for). More points than parts go under the
        # skeleton's headings instead, so that none is lost.
        headings = points
        sub = [[] for _ in headings]
    else:
        headings = templates[: max(n, len(templates))] if profile.family == "document" else templates[:n]
        sub = [[] for _ in headings]
        for j, p in enumerate(points):
            sub[min(j * len(headings) // max(1, len(points)), len(headings) - 1)].append(p)
    spread = spread_principles(len(headings))
    body = [
        OutlineSection(heading=short_heading(h, 40), points=sub[i][:4], principles=spread[i])
        for i, h in enumerate(headings)
    ]
    outline = _with_frame(_default_title(brief), body, brief)
    return allocate_budgets(outline, brief)


def section_count(brief: Brief) -> int:
    """How many body parts suit the target length: 2 for short pieces, up to 5 for long reports."""
    if brief.length < 700:
        return 2
    if brief.length < 3000:
        return 3
    return 4 if brief.length < 6000 else 5


_NUM_PREFIX = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[.．、]|第[一二三四五六七八九十]+部分[：:、]?)\s*"
)


def _strip_number(text: str) -> str:
    """The bare heading: no numbering, no stray quotes, no trailing colon."""
    bare = _NUM_PREFIX.sub("", text.strip()).strip("：: ")
    if bare.count("“") != bare.count("”"):
        bare = bare.replace("“", "").replace("”", "")
    return bare.strip("\"'")


def _coerce_raw(data: Any) -> Any:
    """Accept common near-misses: a bare list of sections, or sections under another key."""
    if isinstance(data, list):
        return {"title": "", "sections": data}
    if isinstance(data, dict) and "sections" not in data:
        for key in ("outline", "提纲", "parts", "body"):
            if isinstance(data.get(key), list):
                return {"title": data.get("title", ""), "sections": data[key]}
    if isinstance(data, dict):
        cleaned = []
        for s in data.get("sections", []):
            if isinstance(s, str):
                s = {"heading": s}
            if isinstance(s, dict):
                s = {k: v for k, v in s.items() if k in _RawSection.model_fields}
                s["points"] = [p if isinstance(p, str) else str(p) for p in s.get("points") or []]
                s["principles"] = [p for p in s.get("principles") or [] if isinstance(p, str)]
                s["refs"] = [int(r) for r in s.get("refs") or [] if str(r).strip().isdigit()]
                cleaned.append(s)
        return {"title": str(data.get("title") or ""), "sections": cleaned}
    return data


def make_outline(
    brief: Brief,
    passages: list[Passage],
    llm: BaseChatModel,
    *,
    context_tokens: int = 4096,
) -> Outline:
    """Ask the model for an outline; fall back to the genre skeleton if its answer stays unusable."""
    n = section_count(brief)
    sk = skeleton(brief.genre)
    messages = load_prompt("outline.default").render(
        genre=brief.genre,
        brief=brief_summary(brief),
        shape=sk["shape"],
        references=format_references(passages, budget_tokens=context_tokens // 3, excerpt_chars=160),
        sections=n,
    )
    try:
        raw = complete_structured(llm, messages, _RawOutline, stage="outline", max_tokens=900, coerce=_coerce_raw)
    except ModelOutputError:
        log.warning("outline: model output unusable twice; using the genre skeleton")
        return fallback_outline(brief)
    sections = [s for s in raw.sections if _strip_number(s.heading)]
    if not sections:
        return fallback_outline(brief)
    body: list[OutlineSection] = []
    seen_points: list[str] = []
    for s in sections:
        heading = _strip_number(s.heading)
        if len(body) > n or _FRAME_WORDS.search(heading) or heading in _CRITERIA_NAMES:
            continue  # an opening/closing part (written separately) or a principle's name copied as a heading
        points = []
        for p in s.points:
            p = _strip_number(p)[:60]
            if p and all(overlap(p, q) < REPEATED_POINT for q in seen_points):
                points.append(p)
                seen_points.append(p)
        principles = [Criterion(p) for p in s.principles if p in {c.value for c in PRINCIPLES}]
        body.append(
            OutlineSection(
                heading=heading[:40],
                purpose=s.purpose.strip(),
                points=points[:4],
                principles=principles[:2] or [PRINCIPLES[len(body) % len(PRINCIPLES)]],
                refs=[r for r in s.refs if 1 <= r <= len(passages)],
            )
        )
    if len(body) < 2:
        return fallback_outline(brief)
    title = raw.title.strip() or brief.title or _default_title(brief)
    return allocate_budgets(_with_frame(title, body, brief), brief)


def _default_title(brief: Brief) -> str:
    if brief.title:
        return brief.title
    return default_title(brief.genre, brief.occasion, topic_of("", brief.occasion, brief.request, brief.key_points))


def _with_frame(title: str, body: list[OutlineSection], brief: Brief | None = None) -> Outline:
    profile = genre_profile(brief.genre if brief else "讲话稿")
    opening = OutlineSection(
        heading=OPENING, kind="opening", purpose=profile.opening_hint.rstrip("。"), principles=[Criterion.QING]
    )
    closing = OutlineSection(
        heading=CLOSING, kind="closing", purpose=profile.closing_hint.rstrip("。"), principles=[Criterion.WEI]
    )
    return ensure_principles(Outline(title=title, sections=[opening, *body, closing]))


def fallback_outline(brief: Brief) -> Outline:
    """When the model's outline is unusable: the outline made without the model."""
    return quick_outline(brief)


def allocate_budgets(outline: Outline, brief: Brief) -> Outline:
    """Character budgets that sum exactly to the target length."""
    sk = skeleton(brief.genre)
    total = brief.length
    has_open = any(s.kind == "opening" for s in outline.sections)
    has_close = any(s.kind == "closing" for s in outline.sections)
    open_b = round(total * float(sk["opening"])) if has_open else 0
    close_b = round(total * float(sk["closing"])) if has_close else 0
    body = [s for s in outline.sections if s.kind == "body"]
    rest = total - open_b - close_b
    weights = [max(1, len(s.points)) + 1 for s in body] or [1]
    shares = [rest * w // sum(weights) for w in weights]
    if shares:
        shares[-1] += rest - sum(shares)
    new_sections = []
    it = iter(shares)
    for s in outline.sections:
        budget = open_b if s.kind == "opening" else close_b if s.kind == "closing" else next(it)
        new_sections.append(s.model_copy(update={"budget": budget}))
    return Outline(title=outline.title, sections=new_sections)


def outline_to_text(outline: Outline) -> str:
    """Plain numbered text the writer can edit freely."""
    lines = [f"标题：{outline.title}"]
    i = 0
    for s in outline.sections:
        if s.kind == "opening":
            lines.append(f"{OPENING}（约{s.budget}字）：{s.purpose}".rstrip("："))
            continue
        if s.kind == "closing":
            lines.append(f"{CLOSING}（约{s.budget}字）：{s.purpose}".rstrip("："))
            continue
        i += 1
        tags = "、".join(p.value for p in s.principles)
        refs = "".join(f"[{r}]" for r in s.refs)
        extra = "；".join(x for x in (f"约{s.budget}字", tags, refs) if x)
        lines.append(f"{cn_num(i)}、{s.heading}（{extra}）")
        if s.purpose:
            lines.append(f"    目的：{s.purpose}")
        for j, p in enumerate(s.points, 1):
            lines.append(f"    （{cn_num(j)}）{p}")
    return "\n".join(lines)


_H1 = re.compile(r"^[一二三四五六七八九十]+[、.．]\s*(.+)$")
_H2 = re.compile(r"^[（(][一二三四五六七八九十\d]+[)）]\s*(.+)$")
_META = re.compile(r"[（(]([^（）()]*?)[)）]\s*$")
_BUDGET = re.compile(r"约?\s*(\d+)\s*字")
_REF = re.compile(r"\[(\d+)\]")


def outline_from_text(text: str, brief: Brief) -> Outline:
    """Parse the writer's edited text back; missing budgets are re-allocated to the target length."""
    title = _default_title(brief)
    sections: list[OutlineSection] = []
    opening: OutlineSection | None = None
    closing: OutlineSection | None = None
    explicit_budgets = True
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith(("标题：", "标题:")):
            title = line[3:].strip() or title
        elif line.startswith((OPENING, CLOSING)):
            kind = "opening" if line.startswith(OPENING) else "closing"
            purpose = re.sub(r"^(开头|结尾)\s*([（(][^）)]*[)）])?\s*[：:]?", "", line).strip()
            b = _BUDGET.search(line)
            sec = OutlineSection(
                heading=line[:2],
                kind=SectionKind(kind),
                purpose=purpose,
                budget=int(b.group(1)) if b else 0,
                principles=[Criterion.QING if kind == "opening" else Criterion.WEI],
            )
            if kind == "opening":
                opening = sec
            else:
                closing = sec
        elif m := _H1.match(line):
            heading, meta = m.group(1), ""
            if mm := _META.search(heading):
                heading, meta = heading[: mm.start()].strip(), mm.group(1)
            b = _BUDGET.search(meta)
            explicit_budgets &= bool(b)
            sections.append(
                OutlineSection(
                    heading=heading,
                    budget=int(b.group(1)) if b else 0,
                    principles=[c for c in PRINCIPLES if c.value in meta],
                    refs=[int(r) for r in _REF.findall(meta)],
                )
            )
        elif sections and line.startswith(("目的：", "目的:")):
            sections[-1].purpose = line[3:].strip()
        elif sections and (m := _H2.match(line)):
            sections[-1].points.append(m.group(1).strip())
    if not sections:
        raise ModelOutputError("提纲里没有找到“一、二、三、”形式的一级标题，请检查格式。")
    outline = Outline(
        title=title,
        sections=[opening or OutlineSection(heading=OPENING, kind="opening")]
        + sections
        + [closing or OutlineSection(heading=CLOSING, kind="closing")],
    )
    total = sum(s.budget for s in outline.sections)
    if not explicit_budgets or total == 0:
        return allocate_budgets(outline, brief)
    return outline


def load_outline_text(path: Path, brief: Brief) -> Outline:
    return outline_from_text(path.read_text(encoding="utf-8"), brief)
