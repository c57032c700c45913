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

from .banks import Banks, ClassicLine, Formulation, pick_classics, pick_formulations
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
    Passage,
    count_chars,
)
from .errors import ProviderError
from .gate import repair_draft
from .genres import genre_profile
from .prompts import PROMPTS_DIR, load_prompt
from .references import neutralise, overlap, rank_for_section

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "write_draft",
    "body_messages",
    "bank_extras",
    "body_outline_text",
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


# How many extra turns a draft may take to fill parts that came out short.
FOLLOW_UPS = 2
# A body part under this share of its budget gets a follow-up turn (while the whole is under TARGET_SHARE).
SHORT_PART = 0.7
TARGET_SHARE = 0.9
# Reference excerpts in the first turn: a few, short, for form only.
BODY_REFS = 2
BODY_REF_CHARS = 150
MATERIAL_CHARS = 1200
CLASSICS_OFFERED = 2
FORMULATIONS_OFFERED = 3


def bank_extras(brief: Brief, *, banks: Banks | None = None) -> tuple[str, list[ClassicLine], list[Formulation]]:
    """The classical lines and superior formulations offered to the writer model for this brief."""
    classics = pick_classics(brief, k=CLASSICS_OFFERED, banks=banks)
    formulations = pick_formulations(brief, k=FORMULATIONS_OFFERED, banks=banks)
    if not classics and not formulations:
        return "", [], []
    text = load_prompt("draft.extras").render(
        classics="\n".join(f"“{c.text}”（{c.source}）" for c in classics) or "（无）",
        formulations="\n".join(f"“{f.text}”（{f.document.strip('《》')}）" for f in formulations) or "（无）",
    )[-1][1]
    return text + "\n\n", classics, formulations


def body_outline_text(outline: Outline) -> str:
    """The outline as the writer model sees it in the first turn: one line per part, in words, so that
    the model does not start writing the parts' headings while it is asked for the opening."""
    lines: list[str] = []
    n = 0
    for s in outline.sections:
        if s.kind != "body":
            continue
        n += 1
        points = f"，其中讲{'、'.join(s.points)}" if s.points else ""
        lines.append(f"第{cn_num(n)}部分讲“{s.heading}”{points}（约{s.budget}字）；")
    return "\n".join(lines)


def _material_text(passages: list[Passage]) -> str:
    return "\n".join(p.text for p in passages if p.origin == "material")[:MATERIAL_CHARS]


def body_messages(
    brief: Brief, outline: Outline, passages: list[Passage], *, extras: str = ""
) -> list[tuple[str, str]]:
    """The first turn of the drafting conversation: the rules, the task, the outline, the references,
    and the request for the opening. Later turns ask for one part each (``part_request``)."""
    profile = genre_profile(brief.genre)
    corpus = [i + 1 for i, p in enumerate(passages) if p.origin != "material"]
    query = " ".join([outline.title, *(s.heading for s in outline.sections)])
    ranked = [n for n in rank_for_section(query, passages, len(passages)) if n in corpus][:BODY_REFS]
    excerpts = [re.sub(r"\s+", "", passages[n - 1].text)[:BODY_REF_CHARS] for n in ranked]
    material = _material_text(passages)
    summary = brief_summary(brief)
    if material:
        summary += f"\n【素材】（写作者提供，其中的数字和事实可以使用）\n{material}"
    opening = next((s for s in outline.sections if s.kind == "opening"), None)
    return load_prompt("draft.body").render(
        brief=summary,
        genre=profile.name,
        voice=profile.voice,
        outline=body_outline_text(outline),
        extras=extras,
        references="\n".join(f"- {neutralise(e)}……" for e in excerpts) or "（无）",
        length=brief.length,
        opening=(opening.budget if opening else 0) or max(60, brief.length // 10),
        opening_hint=(opening.purpose if opening and opening.purpose else profile.opening_hint).rstrip("。"),
    )


def part_request(brief: Brief, outline: Outline, index: int) -> list[tuple[str, str]]:
    """The user turn that asks for one part of the outline."""
    s = outline.sections[index]
    profile = genre_profile(brief.genre)
    if s.kind == "closing":
        return load_prompt("draft.closing").render(
            more=max(60, s.budget), closing_hint=(s.purpose or profile.closing_hint).rstrip("。")
        )
    n = sum(1 for x in outline.sections[: index + 1] if x.kind == "body")
    layers = ""
    if s.points:
        layers = (
            "分几层写："
            + "；".join(f"（{cn_num(j)}）{p}" for j, p in enumerate(s.points, 1))
            + "。每层先写层次小标题再展开。"
        )
    hints = part_hints()
    stress = "；".join(hints[p.value] for p in s.principles if p.value in hints)
    return load_prompt("draft.part").render(
        n=cn_num(n), heading=s.heading, budget=max(60, s.budget), layers=layers, stress=stress or "具体实在"
    )


_FRAME_LINE = re.compile(r"^(?:开头|开场白?|引言|前言|结尾|结束语|结语|正文|主体)[：:]?$")


@lru_cache(maxsize=1)
def part_hints() -> dict[str, str]:
    """Short, actionable wording per principle for the part turns (prompts/part_hints.yaml)."""
    return dict(yaml.safe_load((PROMPTS_DIR / "part_hints.yaml").read_text(encoding="utf-8")))


def _own_part(answer: str, outline: Outline, index: int, written: str) -> list[str]:
    """The lines of an answer that belong to the part it was asked for. An answer that runs on into
    other parts (writes another top-level heading) keeps only the text under the asked part's heading,
    or the text before its first heading; sentences already written are dropped."""
    heading = outline.sections[index].heading
    segments: list[tuple[str, list[str]]] = [("", [])]
    for raw in answer.replace("\r", "").split("\n"):
        line = re.sub(r"^#+\s*|\*\*|__", "", raw).strip()
        if not line or _FRAME_LINE.match(line):
            continue
        if _TOP_HEADING.match(line) and count_chars(line) <= 40 and line[-1:] not in "。！？；":
            segments.append((line, []))
        else:
            segments[-1][1].append(line)
    own = segments[0][1]
    for h, lines in segments[1:]:
        if overlap(re.sub(r"^[一二三四五六七八九十]+、", "", h), heading) >= 0.5:
            own = own + lines
    if not own and outline.sections[index].kind == "opening" and len(segments) > 1:
        own = segments[1][1][:1]  # the model opened with a heading: its first paragraph opens the piece
    cleaned = clean_section_text("\n".join(own), section_heading(outline, index), written)
    return [x for x in cleaned.splitlines() if x.strip()]


def _short_parts(parts: dict[int, list[str]], outline: Outline) -> list[int]:
    """Body parts under SHORT_PART of their budget, the largest shortfall first."""
    short = []
    for i, s in enumerate(outline.sections):
        have = count_chars("".join(parts[i]))
        if s.kind == "body" and s.budget and have < s.budget * SHORT_PART:
            short.append((s.budget - have, i))
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
    extras: str | None = None,
) -> Draft:
    """Write the draft as ONE conversation: the first turn carries the rules, the task, the outline
    and the references and asks for the opening; each later turn asks for the next part. A server
    with a prompt cache (llama.cpp, vLLM, most cloud APIs) re-reads none of the earlier turns, so the
    draft costs about one prompt plus its own characters. Parts that came out short get one more turn;
    every part is then passed through the deterministic gate. Finished parts of ``resume`` are kept.

    ``on_section`` receives the draft after each part (the orchestrator saves it). On a provider
    failure the raised error carries ``draft``: everything written so far, gated, marked incomplete.
    """
    costs = costs if costs is not None else Costs()
    if extras is None:
        extras = bank_extras(brief)[0]
    first = body_messages(brief, outline, passages, extras=extras)
    parts: dict[int, list[str]] = {i: [] for i in range(len(outline.sections))}
    done: set[int] = set()
    if resume is not None:
        for i, sec in enumerate(resume.sections[: len(outline.sections)]):
            if sec.complete and sec.text.strip():
                parts[i] = [x for x in sec.text.splitlines() if x.strip()]
                done.add(i)

    def snapshot(incomplete: set[int] = frozenset()) -> Draft:  # type: ignore[assignment]
        sections = [
            DraftSection(
                heading=section_heading(outline, i),
                kind=s.kind,
                text="\n".join(parts[i]),
                complete=i in done and i not in incomplete,
            )
            for i, s in enumerate(outline.sections)
        ]
        raw = Draft(title=outline.title, brief=brief, outline=outline, sections=sections, costs=costs)
        gated = repair_draft(raw, passages).draft
        linked = [
            s.model_copy(update={"text": link_citations(s.text, passages, list(range(1, len(passages) + 1)))})
            for s in gated.sections
        ]
        return gated.model_copy(update={"sections": linked, "citations": collect_citations(linked, passages)})

    conversation: list[tuple[str, str]] = []

    def ask(i: int, turn: list[tuple[str, str]], budget: int) -> None:
        nonlocal conversation
        messages = [*conversation, *turn] if conversation else turn
        try:
            answer = complete(
                llm,
                messages,
                stage="draft",
                costs=costs,
                on_token=(functools.partial(on_token, i) if on_token else None),
                max_tokens=token_cap(budget),
            )
        except ProviderError as err:
            written = "\n".join("\n".join(v) for v in parts.values()).strip()
            parts[i].extend(_own_part(str(getattr(err, "partial", "") or ""), outline, i, written))
            err.draft = snapshot({i})  # type: ignore[attr-defined]
            raise
        conversation = [*messages, ("assistant", answer)]
        written = "\n".join("\n".join(v) for v in parts.values()).strip()
        parts[i].extend(_own_part(answer, outline, i, written))

    for i, s in enumerate(outline.sections):
        turn = first if s.kind == "opening" else part_request(brief, outline, i)
        if not conversation and s.kind != "opening":
            # No opening in the conversation yet: this turn carries the context as well.
            turn = [*first[:-1], (first[-1][0], first[-1][1] + "\n\n" + turn[-1][1])]
        if i in done:  # resumed: the finished part stands in the conversation as written
            conversation = [*conversation, *turn, ("assistant", "\n".join(parts[i]))]
            continue
        ask(i, turn, s.budget or 100)
        done.add(i)
        if on_section:
            on_section(snapshot())
    for _ in range(FOLLOW_UPS):
        total = sum(count_chars("".join(v)) for v in parts.values())
        short = _short_parts(parts, outline)
        if not short or total >= brief.length * TARGET_SHARE:
            break
        i = short[0]
        more = max(60, outline.sections[i].budget - count_chars("".join(parts[i])))
        ask(i, load_prompt("draft.more").render(heading=outline.sections[i].heading, more=more), more)
        if on_section:
            on_section(snapshot())
    return snapshot()
