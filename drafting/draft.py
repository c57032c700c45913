"""Stage 3: outline -> draft.

The small local model holds a whole short piece well and does not obey "write only part N", so the
body is written in ONE streaming call (the outline's headings in order), split back into parts by
its headings, and only parts that came out short get a follow-up turn in the same conversation
(so an OpenAI-compatible server with a prompt cache re-reads nothing). Every draft then passes the
deterministic gate (drafting.gate) before it is returned.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

import yaml

from .brief import brief_summary
from .calls import complete
from .cnnum import cn_num
from .domain import (
    Brief,
    Citation,
    Costs,
    Draft,
    DraftSection,
    Outline,
    OutlineSection,
    Passage,
    count_chars,
)
from .errors import ProviderError
from .gate import repair_draft
from .genres import genre_profile
from .prompts import PROMPTS_DIR, load_prompt
from .references import format_references, overlap, rank_for_section

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "write_draft",
    "body_messages",
    "body_outline_text",
    "split_body",
    "clean_section_text",
    "fit_length",
    "drop_fragment",
    "token_cap",
    "link_citations",
    "collect_citations",
    "section_heading",
    "criteria_descriptions",
]

log = logging.getLogger(__name__)

# Length control: trim above HIGH, ask for more below LOW (share of the section budget).
LENGTH_HIGH = 1.15
LENGTH_LOW = 0.80
# Output token caps per Chinese character of budget: Qwen writes about 1.4-2.2 characters a token,
# so this leaves room for the whole section while stopping a runaway answer early.
TOKENS_PER_CHAR = 0.8
TOKENS_SLACK = 60
CONTINUATIONS = 2  # at most this many "go on" calls for a section that came out short
REFS_PER_SECTION = 3
_CITE = re.compile(r"\[(\d{1,3})\]")
_SENTENCE_END = re.compile(r"(?<=[。！？；])")
_TOP_HEADING = re.compile(r"^[一二三四五六七八九十]+、")


@lru_cache(maxsize=1)
def criteria_descriptions() -> dict[str, str]:
    return dict(yaml.safe_load((PROMPTS_DIR / "criteria.yaml").read_text(encoding="utf-8")))


def section_heading(outline: Outline, index: int) -> str:
    """``一、heading`` for body sections, numbered by their position among body sections."""
    s = outline.sections[index]
    if s.kind != "body":
        return ""
    n = sum(1 for x in outline.sections[: index + 1] if x.kind == "body")
    return f"{cn_num(n)}、{s.heading}"


_DEDUP_SPLIT = re.compile(r"(?<=[。！？；：])")
_MARKER = re.compile(r"^【[^】]{1,8}】$")
_SALUTATION = re.compile(r"^(尊敬的|各位领导|同志们[：:，,]?$|大家好)")


def clean_section_text(text: str, heading: str = "", previous: str = "") -> str:
    """Strip markdown, an echoed heading, prompt markers, sentences already written earlier,
    and anything the model wrote for the next section. Small models copy the context back."""
    lines: list[str] = []
    bare = re.sub(r"^[一二三四五六七八九十]+、", "", heading).strip()
    seen = {x for x in _DEDUP_SPLIT.split(previous.replace("\n", "")) if count_chars(x) >= 6}
    for raw in text.replace("\r", "").split("\n"):
        line = re.sub(r"^#+\s*|\*\*|__", "", raw).strip()
        if not line or _MARKER.match(line):
            continue
        if previous and _SALUTATION.match(line):
            continue  # only the opening greets the audience
        kept = [x for x in _DEDUP_SPLIT.split(line) if x not in seen]
        seen.update(x for x in kept if count_chars(x) >= 6)  # a small model also repeats itself
        line = "".join(kept).strip()
        if not line:
            continue
        if bare and (line == heading or line.strip("：: ") == bare or line == f"{heading}："):
            continue
        if _TOP_HEADING.match(line) and lines:
            break  # the model started the next top-level section
        if _TOP_HEADING.match(line) and bare and bare[:6] in line:
            continue
        lines.append(line)
    return "\n".join(lines)


def token_cap(chars: int) -> int:
    """The max_tokens for an answer of about ``chars`` Chinese characters."""
    return int(chars * TOKENS_PER_CHAR) + TOKENS_SLACK


def drop_fragment(text: str) -> str:
    """Drop a trailing unfinished sentence (an answer cut off by the token limit)."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] in "。！？；”」』）)":
        return stripped
    cut = max(stripped.rfind(c) for c in "。！？；")
    if cut < 0:
        return stripped
    head = stripped[: cut + 1]
    if head.count("“") > head.count("”"):
        head += "”"
    return head


def fit_length(text: str, budget: int) -> str:
    """Trim an over-long section at a sentence boundary to about ``budget``·LENGTH_HIGH."""
    if budget <= 0 or count_chars(text) <= budget * LENGTH_HIGH:
        return text
    limit = budget * (LENGTH_HIGH - 0.05)
    kept: list[str] = []
    total = 0
    for para in text.split("\n"):
        sentences = [s for s in _SENTENCE_END.split(para) if s]
        taken: list[str] = []
        for s in sentences:
            if total + count_chars(s) > limit and total > 0:
                break
            taken.append(s)
            total += count_chars(s)
        if taken:
            kept.append("".join(taken))
        if len(taken) < len(sentences):
            break
    return "\n".join(kept)


def link_citations(text: str, passages: list[Passage], refs: list[int]) -> str:
    """Keep valid [n] marks; when the model cited nothing, mark the sentence that draws most on each ref."""
    text = _CITE.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= len(passages) else "", text)
    if _CITE.search(text) or not refs:
        return text
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    marks: dict[int, int] = {}
    for n in refs:
        best, score = -1, 0.0
        for i, s in enumerate(sentences):
            sc = overlap(s, passages[n - 1].text)
            if sc > score:
                best, score = i, sc
        # Only claim a source where the sentence really shares wording with it.
        if best >= 0 and score >= 0.25 and best not in marks:
            marks[best] = n
    for i, n in marks.items():
        s = sentences[i]
        stripped = s.rstrip("\n")
        sentences[i] = (stripped[:-1] + f"[{n}]" + stripped[-1]) if stripped[-1:] in "。！？；" else stripped + f"[{n}]"
        sentences[i] += s[len(stripped) :]
    return "".join(sentences)


def collect_citations(sections: list[DraftSection], passages: list[Passage]) -> list[Citation]:
    used = sorted({int(n) for s in sections for n in _CITE.findall(s.text) if 1 <= int(n) <= len(passages)})
    return [Citation(n=n, passage=passages[n - 1]) for n in used]


# How many follow-up turns a draft may take to fill parts that came out short.
FOLLOW_UPS = 3
# A part under this share of its budget gets a follow-up turn (while the whole is under TARGET_SHARE).
SHORT_PART = 0.75
TARGET_SHARE = 0.9
# Reference excerpts in the body prompt: a few, short, for form only.
BODY_REFS = 2
BODY_REF_CHARS = 150
MATERIAL_CHARS = 1200
_FRAME_LINE = re.compile(r"^(?:开头|开场白?|引言|前言|结尾|结束语|结语|正文|主体)[：:]?$")
_CLOSING_CUE = re.compile(r"^(?:同志们|各位|让我们|最后|总之|希望|朋友们|谢谢|以上|妥否|特此|请予)")


def _principle_hint(s: OutlineSection) -> str:
    return "、".join(p.value for p in s.principles)


def body_outline_text(outline: Outline) -> str:
    """The outline as the writer model sees it: numbered headings, budgets and sub-points only."""
    lines: list[str] = []
    n = 0
    for s in outline.sections:
        if s.kind != "body":
            continue
        n += 1
        lines.append(f"{cn_num(n)}、{s.heading}（约{s.budget}字）")
        for j, p in enumerate(s.points, 1):
            lines.append(f"  （{cn_num(j)}）{p}")
    return "\n".join(lines)


def _material_text(passages: list[Passage]) -> str:
    text = "\n".join(p.text for p in passages if p.origin == "material")
    return text[:MATERIAL_CHARS]


def body_messages(
    brief: Brief, outline: Outline, passages: list[Passage], *, extras: str = ""
) -> list[tuple[str, str]]:
    profile = genre_profile(brief.genre)
    corpus = [i + 1 for i, p in enumerate(passages) if p.origin != "material"]
    query = " ".join([outline.title, *(s.heading for s in outline.sections)])
    ranked = [n for n in rank_for_section(query, passages, len(passages)) if n in corpus][:BODY_REFS]
    material = _material_text(passages)
    summary = brief_summary(brief)
    if material:
        summary += f"\n【素材】（写作者提供，其中的数字和事实可以使用）\n{material}"
    opening = next((s for s in outline.sections if s.kind == "opening"), None)
    closing = next((s for s in outline.sections if s.kind == "closing"), None)
    return load_prompt("draft.body").render(
        brief=summary,
        genre=profile.name,
        voice=profile.voice,
        outline=body_outline_text(outline),
        extras=extras,
        references=format_references(passages, budget_tokens=400, excerpt_chars=BODY_REF_CHARS, numbers=ranked)
        if ranked
        else "（无）",
        length=brief.length,
        opening_hint=(opening.purpose if opening and opening.purpose else profile.opening_hint).rstrip("。"),
        closing_hint=(closing.purpose if closing and closing.purpose else profile.closing_hint).rstrip("。"),
    )


def _heading_index(line: str, body: list[tuple[int, OutlineSection]], start: int) -> int | None:
    """Which body part (position in ``body``) a line heads, if it is a top-level heading."""
    bare = re.sub(r"^[一二三四五六七八九十]+[、.．]\s*", "", line).strip("：: ")
    numbered = bool(_TOP_HEADING.match(line))
    if not numbered and count_chars(line) > 40:
        return None
    best, score = None, 0.0
    for k in range(start, len(body)):
        sc = overlap(bare, body[k][1].heading) if bare else 0.0
        if sc > score:
            best, score = k, sc
    if best is not None and score >= (0.5 if numbered else 0.8):
        return best
    if numbered and line[-1:] not in "。！？；" and count_chars(line) <= 40:
        return start if start < len(body) else None  # a numbered heading the model reworded: next part
    return None


def split_body(text: str, outline: Outline) -> dict[int, list[str]]:
    """Lines of the model's answer assigned to outline sections (by index into outline.sections)."""
    body = [(i, s) for i, s in enumerate(outline.sections) if s.kind == "body"]
    opening = next((i for i, s in enumerate(outline.sections) if s.kind == "opening"), None)
    closing = next((i for i, s in enumerate(outline.sections) if s.kind == "closing"), None)
    parts: dict[int, list[str]] = {i: [] for i in range(len(outline.sections))}
    current = opening if opening is not None else (body[0][0] if body else 0)
    next_part = 0
    for raw in text.replace("\r", "").split("\n"):
        line = re.sub(r"^#+\s*|\*\*|__", "", raw).strip()
        if not line or _FRAME_LINE.match(line) or line == outline.title:
            continue
        k = _heading_index(line, body, next_part) if body else None
        if k is not None:
            current, next_part = body[k][0], k + 1
            continue  # the heading itself comes from the outline
        if _TOP_HEADING.match(line) and count_chars(line) <= 40 and line[-1:] not in "。！？；":
            continue  # a heading the outline does not have: its text joins the current part
        parts[current].append(line)
    # The closing is the tail of the last part when it opens like a closing.
    if closing is not None and body:
        last = parts[body[-1][0]]
        if len(last) >= 2 and _CLOSING_CUE.match(last[-1]):
            parts[closing] = [last.pop()]
    return parts


class _Tracker:
    """Maps streamed tokens of the one-call body to the section being written, for live display."""

    def __init__(self, outline: Outline, on_token: Callable[[int, str], None] | None) -> None:
        self.outline = outline
        self.on_token = on_token
        self.text = ""
        self.body = [i for i, s in enumerate(outline.sections) if s.kind == "body"]
        opening = [i for i, s in enumerate(outline.sections) if s.kind == "opening"]
        self.current = opening[0] if opening else (self.body[0] if self.body else 0)

    def __call__(self, piece: str) -> None:
        self.text += piece
        seen = len(re.findall(r"(?:^|\n)[一二三四五六七八九十]+、", self.text))
        if seen and self.body:
            self.current = self.body[min(seen, len(self.body)) - 1]
        if self.on_token:
            self.on_token(self.current, piece)


def _sections_from(
    parts: dict[int, list[str]], outline: Outline, incomplete_from: int | None = None
) -> list[DraftSection]:
    out = []
    for i, s in enumerate(outline.sections):
        complete_ = incomplete_from is None or i < incomplete_from
        out.append(
            DraftSection(heading=section_heading(outline, i), kind=s.kind, text="\n".join(parts[i]), complete=complete_)
        )
    return out


def _short_parts(parts: dict[int, list[str]], outline: Outline) -> list[int]:
    """Sections under SHORT_PART of their budget, the largest shortfall first (the closing counts
    only when empty: a short closing is normal)."""
    short = []
    for i, s in enumerate(outline.sections):
        have = count_chars("".join(parts[i]))
        if s.kind == "body" and s.budget and have < s.budget * SHORT_PART:
            short.append((s.budget - have, i))
        elif s.kind == "closing" and s.budget and have == 0:
            short.append((s.budget, i))
    return [i for _, i in sorted(short, reverse=True)]


def write_draft(
    brief: Brief,
    outline: Outline,
    passages: list[Passage],
    llm: BaseChatModel,
    *,
    costs: Costs | None = None,
    on_token: Callable[[int, str], None] | None = None,
    on_section: Callable[[Draft], None] | None = None,
    resume: Draft | None = None,
    context_tokens: int = 4096,
    extras: str = "",
) -> Draft:
    """Write the whole draft: one streaming call for the body, follow-up turns for short parts,
    then the deterministic gate. ``resume`` (an interrupted draft) is continued, not restarted.

    ``on_section`` receives the draft after each call (the orchestrator saves it). On a provider
    failure the raised error carries ``draft``: everything written so far, gated, marked incomplete.
    """
    costs = costs if costs is not None else Costs()
    messages = body_messages(brief, outline, passages, extras=extras)
    tracker = _Tracker(outline, on_token)

    def snapshot(parts: dict[int, list[str]], incomplete_from: int | None = None) -> Draft:
        sections = _sections_from(parts, outline, incomplete_from)
        raw = Draft(title=outline.title, brief=brief, outline=outline, sections=sections, costs=costs)
        gated = repair_draft(raw, passages).draft
        gated_sections = [
            s.model_copy(update={"text": link_citations(s.text, passages, list(range(1, len(passages) + 1)))})
            for s in gated.sections
        ]
        return gated.model_copy(
            update={"sections": gated_sections, "citations": collect_citations(gated_sections, passages)}
        )

    if resume is not None and any(s.text for s in resume.sections):
        parts = {i: [x for x in s.text.splitlines() if x.strip()] for i, s in enumerate(resume.sections)}
        parts.update({i: [] for i in range(len(resume.sections), len(outline.sections))})
        answer = _render_parts(parts, outline)
    else:
        try:
            answer = complete(
                llm, messages, stage="draft", costs=costs, on_token=tracker, max_tokens=token_cap(brief.length)
            )
        except ProviderError as err:
            text = str(getattr(err, "partial", "") or "")
            parts = split_body(text, outline)
            err.draft = snapshot(parts, incomplete_from=tracker.current)  # type: ignore[attr-defined]
            raise
        parts = split_body(answer, outline)
    if on_section:
        on_section(snapshot(parts))
    conversation = [*messages, ("assistant", answer)]
    for _ in range(FOLLOW_UPS):
        total = sum(count_chars("".join(v)) for v in parts.values())
        short = _short_parts(parts, outline)
        if not short or (total >= brief.length * TARGET_SHARE and outline.sections[short[0]].kind != "closing"):
            break
        i = short[0]
        s = outline.sections[i]
        more = max(60, s.budget - count_chars("".join(parts[i])))
        if s.kind == "closing":
            ask = load_prompt("draft.closing").render(more=more, closing_hint=genre_profile(brief.genre).closing_hint)
        else:
            ask = load_prompt("draft.more").render(heading=s.heading, more=more)
        if on_token:
            on_token(i, "\n")
        try:
            extra = complete(
                llm,
                [*conversation, *ask],
                stage="draft",
                costs=costs,
                on_token=(functools.partial(on_token, i) if on_token else None),
                max_tokens=token_cap(more),
            )
        except ProviderError as err:
            err.draft = snapshot(parts)  # type: ignore[attr-defined]
            raise
        conversation += [*ask, ("assistant", extra)]
        written = "\n".join("\n".join(v) for v in parts.values())
        parts[i].extend(_own_part(extra, outline, i, written))
        if on_section:
            on_section(snapshot(parts))
    return snapshot(parts)


def _own_part(answer: str, outline: Outline, index: int, written: str) -> list[str]:
    """The lines of a follow-up answer that belong to the part it was asked for. A follow-up that
    restarts the piece (writes headings) keeps only the text under the asked part's heading, or the
    text before its first heading; sentences already written are dropped."""
    heading = outline.sections[index].heading
    segments: list[tuple[str, list[str]]] = [("", [])]
    for raw in answer.replace("\r", "").split("\n"):
        line = re.sub(r"^#+\s*|\*\*|__", "", raw).strip()
        if _TOP_HEADING.match(line) and count_chars(line) <= 40 and line[-1:] not in "。！？；":
            segments.append((line, []))
        elif line:
            segments[-1][1].append(line)
    own = segments[0][1]
    for h, lines in segments[1:]:
        if overlap(re.sub(r"^[一二三四五六七八九十]+、", "", h), heading) >= 0.5:
            own = own + lines
    cleaned = clean_section_text("\n".join(own), section_heading(outline, index), written)
    return [x for x in cleaned.splitlines() if x.strip()]


def _render_parts(parts: dict[int, list[str]], outline: Outline) -> str:
    """A resumed draft as the model would have written it, for the follow-up conversation."""
    lines: list[str] = []
    for i, s in enumerate(outline.sections):
        if s.kind == "body":
            lines.append(section_heading(outline, i))
        lines.extend(parts.get(i, []))
    return "\n".join(lines)
