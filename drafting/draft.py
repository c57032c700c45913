"""Stage 3: outline -> draft, section by section, streaming, citing passages as [n]."""

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
from .domain import Brief, Citation, Costs, Criterion, Draft, DraftSection, Outline, Passage, count_chars
from .errors import ProviderError
from .outline import outline_to_text
from .prompts import PROMPTS_DIR, load_prompt
from .references import format_references, overlap, rank_for_section

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "write_draft",
    "write_section",
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


def _hints(principles: list[Criterion]) -> str:
    desc = criteria_descriptions()
    return "；".join(f"{p.value}（{desc.get(p.value, '')}）" for p in principles)


def write_section(
    brief: Brief,
    outline: Outline,
    index: int,
    passages: list[Passage],
    llm: BaseChatModel,
    *,
    previous: str = "",
    costs: Costs | None = None,
    on_token: Callable[[str], None] | None = None,
    extra_instruction: str = "",
    context_tokens: int = 4096,
) -> DraftSection:
    """Write one section. On a provider failure the error carries ``partial`` (text so far)."""
    s = outline.sections[index]
    heading = section_heading(outline, index)
    budget = max(60, s.budget)
    query = " ".join([s.heading, s.purpose, *s.points])
    refs = list(dict.fromkeys([*s.refs, *rank_for_section(query, passages, REFS_PER_SECTION)]))[:4] if passages else []
    instructions = []
    if s.kind == "body" and s.points:
        layers = "".join(f"（{cn_num(i)}）{p}。" for i, p in enumerate(s.points, 1))
        instructions.append(f"按以下层次展开，每个层次单独成段，段首写层次标题：{layers}")
    if s.purpose:
        instructions.append(f"这一部分要讲清：{s.purpose}。")
    if s.principles:
        instructions.append(f"着重体现：{_hints(s.principles)}。")
    if extra_instruction:
        instructions.append(extra_instruction)
    common = {
        "speaker": brief.speaker or "领导",
        "genre": brief.genre,
        "occasion": brief.occasion or "（未说明）",
        "outline": outline_to_text(outline),
        "brief": brief_summary(brief),
        "budget": budget,
        "instructions": "\n".join(instructions),
    }
    if s.kind == "body":
        messages = load_prompt("draft.section").render(
            **common,
            heading=heading,
            previous=previous[-300:] or "（这是正文第一部分）",
            references=format_references(passages, budget_tokens=context_tokens // 4, numbers=refs),
        )
    else:
        messages = load_prompt("draft.opening").render(**common, part="开头" if s.kind == "opening" else "结尾")
        refs = []
    max_tokens = token_cap(budget)
    text = complete(llm, messages, stage="draft", costs=costs, on_token=on_token, max_tokens=max_tokens)
    text = clean_section_text(text, heading, previous)
    for _ in range(CONTINUATIONS if s.kind == "body" else 0):
        if count_chars(text) >= budget * LENGTH_LOW:
            break
        more = budget - count_chars(text)
        follow = [*messages, ("assistant", text), *load_prompt("draft.continue").render(more=more)]
        if on_token:
            on_token("\n")
        extra = complete(
            llm,
            follow,
            stage="draft",
            costs=costs,
            on_token=on_token,
            max_tokens=token_cap(more),
        )
        text = text + "\n" + clean_section_text(extra, heading, previous + text)
    text = fit_length(drop_fragment(text), budget)
    text = link_citations(text, passages, refs)
    return DraftSection(heading=heading, kind=s.kind, text=text)


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
) -> Draft:
    """Write every section in order. Finished sections of ``resume`` are kept, so a failed run can go on.

    ``on_section`` receives the draft after each section (the orchestrator saves it).
    On a provider failure the raised error carries ``draft``: everything written so far,
    with the interrupted section's partial text marked incomplete.
    """
    costs = costs if costs is not None else Costs()
    done: dict[str, DraftSection] = {}
    if resume is not None:
        done = {f"{s.kind}:{s.heading}": s for s in resume.sections if s.complete}
    sections: list[DraftSection] = []

    def snapshot() -> Draft:
        return Draft(
            title=outline.title,
            brief=brief,
            outline=outline,
            sections=list(sections),
            citations=collect_citations(sections, passages),
            costs=costs,
        )

    for i, s in enumerate(outline.sections):
        key = f"{s.kind}:{section_heading(outline, i)}"
        if key in done:
            sections.append(done[key])
            continue
        previous = "\n".join(x.text for x in sections)
        try:
            sec = write_section(
                brief,
                outline,
                i,
                passages,
                llm,
                previous=previous,
                costs=costs,
                on_token=functools.partial(on_token, i) if on_token else None,
                context_tokens=context_tokens,
            )
        except ProviderError as err:
            partial = clean_section_text(str(getattr(err, "partial", "") or ""), section_heading(outline, i))
            sections.append(
                DraftSection(heading=section_heading(outline, i), kind=s.kind, text=partial, complete=False)
            )
            err.draft = snapshot()  # type: ignore[attr-defined]
            raise
        sections.append(sec)
        if on_section:
            on_section(snapshot())
    return snapshot()
