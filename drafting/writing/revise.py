"""Stage 5: revision. 慢稿: reviewers from several perspectives comment on paragraphs, the writer
accepts or rejects, and a consolidation pass rewrites the commented sections; 急稿: one-click
targeted rewrites of a section. Every revision yields a new Version with a diff to the previous one.
"""

from __future__ import annotations

import difflib
import logging
import uuid
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field

from drafting.checks.ledger import keep_confirmed
from drafting.checks.locks import locks_in, restore_locks
from drafting.checks.revise_checks import defect_counts, findings_text, part_name, screen_comments, settle_parts
from drafting.domain import (
    Brief,
    Comment,
    CommentStatus,
    Costs,
    Criterion,
    Draft,
    DraftSection,
    Passage,
    RevisionMode,
    Version,
    _Model,
    count_chars,
)
from drafting.errors import ModelOutputError
from drafting.llm.calls import complete, complete_structured
from drafting.llm.prompts import PROMPTS_DIR, load_prompt
from drafting.writing.brief import brief_summary
from drafting.writing.draft import (
    clean_section_text,
    collect_citations,
    criteria_descriptions,
    fit_length,
    link_citations,
    token_cap,
)
from drafting.writing.references import format_references, overlap, rank_for_section

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "perspectives",
    "reviewer_comments",
    "consolidate",
    "revise",
    "rewrite_section",
    "coverage_map",
    "points_to_cover",
    "diff_drafts",
    "paragraph_sections",
    "instruction_for",
    "WRITER",
    "COMPLETENESS",
    "gap_comments",
    "propose",
]

log = logging.getLogger(__name__)
WRITER = "撰稿人"
COVERED = 0.5  # share of a key point's bigrams a paragraph must contain to count as covering it
UNCOVERED = "未覆盖"
COMPLETENESS = "完整性检查"


class _RawComment(_Model):
    paragraph: int = -1
    quote: str = ""
    comment: str


class _RawComments(_Model):
    comments: list[_RawComment] = Field(default_factory=list)


@lru_cache(maxsize=1)
def perspectives() -> list[dict[str, str]]:
    return list(yaml.safe_load((PROMPTS_DIR / "perspectives.yaml").read_text(encoding="utf-8")))


def _coerce_comments(data: Any) -> Any:
    if isinstance(data, list):
        data = {"comments": data}
    if isinstance(data, dict):
        items = []
        for c in data.get("comments", []):
            if isinstance(c, str):
                c = {"comment": c}
            if isinstance(c, dict) and str(c.get("comment") or "").strip():
                try:
                    para = int(c.get("paragraph", -1))
                except (TypeError, ValueError):
                    para = -1
                items.append({"paragraph": para, "quote": str(c.get("quote") or ""), "comment": str(c["comment"])})
        data = {"comments": items}
    return data


def paragraph_sections(draft: Draft) -> list[int]:
    """For each paragraph of ``draft.paragraphs``, the index of the section it belongs to."""
    owners: list[int] = []
    for i, s in enumerate(draft.sections):
        if s.kind == "body" and s.heading:
            owners.append(i)
        owners.extend(i for p in s.text.splitlines() if p.strip())
    return owners


def reviewer_comments(
    draft: Draft,
    brief: Brief,
    llm: BaseChatModel,
    *,
    costs: Costs | None = None,
    names: list[str] | None = None,
    passages: Sequence[Passage] = (),
    existing: Sequence[Comment] = (),
) -> list[Comment]:
    """One call per perspective; a perspective whose answer is unusable is skipped, not fatal.
    Reviewers see what the program found (gate defects, uncovered key points); comments that quote
    text the draft does not have, only renumber a heading, or repeat another comment are dropped."""
    paragraphs = draft.paragraphs
    numbered = "\n".join(f"[{i}] {p}" for i, p in enumerate(paragraphs, 1))
    uncovered = [kp for kp, where in coverage_map(draft, points_to_cover(draft)).items() if where == UNCOVERED]
    findings = findings_text(draft, passages, uncovered)
    out: list[Comment] = []
    for p in perspectives():
        if names and p["name"] not in names:
            continue
        messages = load_prompt("revise.comments").render(
            perspective=p["name"], focus=p["focus"], brief=brief_summary(brief), paragraphs=numbered, findings=findings
        )
        try:
            raw = complete_structured(
                llm, messages, _RawComments, stage="review", costs=costs, max_tokens=700, coerce=_coerce_comments
            )
        except ModelOutputError as err:
            log.warning("reviewer %s skipped: %s", p["name"], err)
            continue
        for c in raw.comments[:3]:
            idx = c.paragraph - 1 if 1 <= c.paragraph <= len(paragraphs) else _locate(c.quote, paragraphs)
            out.append(
                Comment(id=uuid.uuid4().hex[:8], author=p["name"], text=c.comment.strip(), paragraph=idx, quote=c.quote)
            )
    kept, dropped = screen_comments(out, draft, existing)
    for d, why in dropped:
        log.info("reviewer comment dropped (%s): %s", why, d.text)
    return kept


def _locate(quote: str, paragraphs: list[str]) -> int:
    if not quote.strip() or not paragraphs:
        return -1
    scores = [overlap(quote, p) for p in paragraphs]
    best = max(range(len(paragraphs)), key=scores.__getitem__)
    return best if scores[best] >= 0.3 else -1


def coverage_map(draft: Draft, key_points: list[str]) -> dict[str, str]:
    """横到边: map every key point of the brief to the paragraph that covers it, or 未覆盖."""
    paragraphs = draft.paragraphs
    owners = paragraph_sections(draft)
    result: dict[str, str] = {}
    for kp in key_points:
        if not kp.strip():
            continue
        scores = [overlap(kp, p) for p in paragraphs]
        if not scores or max(scores) < COVERED:
            result[kp] = UNCOVERED
            continue
        i = max(range(len(scores)), key=scores.__getitem__)
        sec = draft.sections[owners[i]]
        where = sec.heading or ("开头" if sec.kind == "opening" else "结尾")
        result[kp] = f"{where}（第{i + 1}段）"
    return result


def points_to_cover(draft: Draft) -> list[str]:
    """The brief's key points; for a brief that is only the leader's instruction, the outline's parts."""
    return draft.brief.key_points or [s.heading for s in draft.outline.body_sections]


def diff_drafts(old: Draft, new: Draft) -> str:
    """A unified diff by paragraph, labelled with version numbers."""
    return "\n".join(
        difflib.unified_diff(
            old.paragraphs, new.paragraphs, fromfile=f"第{old.version}稿", tofile=f"第{new.version}稿", lineterm=""
        )
    )


def instruction_for(kind: str, *, criterion: Criterion | None = None, length: int | None = None) -> str:
    """The one-click rewrites of 急稿: strengthen a principle, shorten, or make it more colloquial."""
    if kind == "strengthen" and criterion is not None:
        return f"着重加强“{criterion.value}”：{criteria_descriptions()[criterion.value]}"
    if kind == "shorten" and length:
        return f"压缩到约{length}字，保留最重要的观点和措施，删去重复和套话。"
    if kind == "colloquial":
        return "改得更口语化、更接地气：多用短句和群众听得懂的话，少用书面套话，保持庄重。"
    raise ValueError(f"unknown rewrite kind: {kind}")


def _rewrite(
    draft: Draft,
    index: int,
    comments: list[str],
    llm: BaseChatModel,
    passages: list[Passage],
    *,
    budget: int,
    costs: Costs | None,
    on_token: Callable[[str], None] | None = None,
    locked: Sequence[str] = (),
) -> DraftSection:
    """The model's rewrite of one part, cleaned and fitted as a first draft's part is (not yet gated)."""
    sec = draft.sections[index]
    brief = draft.brief
    keep = locks_in(sec.text, locked)
    if keep:
        sentences = "\n".join(f"“{lk}”" for lk in keep)
        comments = [*comments, load_prompt("revise.locked").render(sentences=sentences)[-1][1]]
    refs = rank_for_section(sec.heading + sec.text[:200], passages, 3) if passages else []
    messages = load_prompt("revise.section").render(
        speaker=brief.speaker or "领导",
        genre=brief.genre,
        occasion=brief.occasion or "（未说明）",
        brief=brief_summary(brief),
        current=sec.text,
        comments="\n".join(f"{i}. {c}" for i, c in enumerate(comments, 1)),
        references=format_references(passages, budget_tokens=800, numbers=refs),
        budget=budget,
    )
    text = complete(
        llm,
        messages,
        stage="revise",
        costs=costs,
        on_token=on_token,
        max_tokens=token_cap(budget),
    )
    text = clean_section_text(text, sec.heading)
    if count_chars(text) < max(30, budget * 0.3):
        log.warning("revise: rewrite of %r came back nearly empty; keeping the old text", sec.heading)
        return sec
    text = link_citations(fit_length(text, budget), passages, refs)
    if keep:  # whatever the model did, locked wording comes back character for character
        text = restore_locks(sec.text, text, keep)
    text = keep_confirmed(sec.text, text, brief.confirmed)  # and so do facts confirmed in the ledger
    return DraftSection(heading=sec.heading, kind=sec.kind, text=text)


def _next(draft: Draft, sections: list[DraftSection], passages: list[Passage], costs: Costs) -> Draft:
    # Citation numbers index the passage list the draft was written with; fill gaps from its citations.
    cited = {c.n: c.passage for c in draft.citations}
    size = max(len(passages), max(cited, default=0))
    empty = Passage(chunk_id="", doc_id="", title="", text="")
    pool = [passages[n - 1] if n <= len(passages) else cited.get(n, empty) for n in range(1, size + 1)]
    return draft.model_copy(
        update={
            "sections": sections,
            "citations": [c for c in collect_citations(sections, pool) if c.passage.chunk_id],
            "version": draft.version + 1,
            "costs": costs,
        }
    )


def _round_note(kept: list[str]) -> str:
    return ("；" + "；".join(kept)) if kept else ""


def rewrite_section(
    draft: Draft,
    index: int,
    instruction: str,
    llm: BaseChatModel,
    passages: list[Passage],
    *,
    budget: int | None = None,
    costs: Costs | None = None,
    on_token: Callable[[str], None] | None = None,
    locked: Sequence[str] = (),
) -> Version:
    """急稿 one-click rewrite of one section; returns the next version. ``locked`` wording is kept;
    a rewrite that makes the draft worse by the gate's count is not taken (the note says why)."""
    costs = costs if costs is not None else Costs()
    sec = draft.sections[index]
    target = budget or max(60, count_chars(sec.text))
    new_sec = _rewrite(
        draft, index, [instruction], llm, passages, budget=target, costs=costs, on_token=on_token, locked=locked
    )
    sections, kept = settle_parts(draft, {index: new_sec}, passages, locked)
    new = _next(draft, sections, passages, costs)
    note = Comment(
        id=uuid.uuid4().hex[:8], author=WRITER, text=instruction, paragraph=-1, status=CommentStatus.ACCEPTED
    )
    return Version(
        number=new.version,
        draft=new,
        mode=RevisionMode.URGENT,
        note=f"改写“{part_name(sec)}”：{instruction}{_round_note(kept)}",
        diff=diff_drafts(draft, new),
        addressed=[note],
        coverage=coverage_map(new, points_to_cover(draft)),
        defects_before=defect_counts(draft, passages),
        defects_after=defect_counts(new, passages),
        kept_parts=kept,
    )


def gap_comments(draft: Draft) -> list[Comment]:
    """纵到底/横到边: a proposal to add each key point no paragraph covers, on the part closest to it."""
    body = [i for i, s in enumerate(draft.sections) if s.kind == "body"] or [0]
    owners = paragraph_sections(draft)
    out: list[Comment] = []
    for kp, where in coverage_map(draft, points_to_cover(draft)).items():
        if where != UNCOVERED:
            continue
        target = max(body, key=lambda i: overlap(kp, draft.sections[i].heading + draft.sections[i].text))
        para = owners.index(target) if target in owners else -1
        out.append(
            Comment(
                id=uuid.uuid4().hex[:8],
                author=COMPLETENESS,
                text=f"补充任务要点“{kp}”，写出具体措施。",
                paragraph=para,
            )
        )
    return out


def consolidate(
    draft: Draft,
    comments: list[Comment],
    llm: BaseChatModel,
    passages: list[Passage],
    *,
    costs: Costs | None = None,
    on_section: Callable[[int, str], None] | None = None,
    locked: Sequence[str] = (),
    fill_gaps: bool = True,
) -> Version:
    """Write the next version from the accepted comments only; with ``fill_gaps`` (纵到底) uncovered key
    points are added too. Parts no accepted comment touches are kept character for character, and a
    rewritten part that raises the gate's defect count is left as it was."""
    costs = costs if costs is not None else Costs()
    accepted = [c for c in comments if c.status == CommentStatus.ACCEPTED]
    owners = paragraph_sections(draft)
    body = [i for i, s in enumerate(draft.sections) if s.kind == "body"] or [0]
    per_section: dict[int, list[str]] = {}
    for c in accepted:
        idx = owners[c.paragraph] if 0 <= c.paragraph < len(owners) else body[0]
        quoted = f"（针对“{c.quote[:40]}”）" if c.quote else ""
        per_section.setdefault(idx, []).append(f"{c.author}：{c.text}{quoted}")
    if fill_gaps:
        for g in gap_comments(draft):
            idx = owners[g.paragraph] if 0 <= g.paragraph < len(owners) else body[0]
            per_section.setdefault(idx, []).append(f"{g.author}：{g.text}")
    rewritten: dict[int, DraftSection] = {}
    for idx in sorted(per_section):
        budget = draft.outline.sections[idx].budget if idx < len(draft.outline.sections) else 0
        budget = budget or max(60, count_chars(draft.sections[idx].text))
        rewritten[idx] = _rewrite(
            draft, idx, per_section[idx], llm, passages, budget=budget, costs=costs, locked=locked
        )
    sections, kept = settle_parts(draft, rewritten, passages, locked)
    if on_section:
        for idx in sorted(per_section):
            on_section(idx, sections[idx].text)
    new = _next(draft, sections, passages, costs)
    changed = sum(1 for a, b in zip(draft.sections, sections, strict=True) if a.text != b.text)
    return Version(
        number=new.version,
        draft=new,
        mode=RevisionMode.SLOW,
        note=f"慢稿第{new.version}稿：采纳意见 {len(accepted)} 条，修改 {changed} 个部分{_round_note(kept)}",
        diff=diff_drafts(draft, new),
        addressed=accepted,
        coverage=coverage_map(new, points_to_cover(draft)),
        defects_before=defect_counts(draft, passages),
        defects_after=defect_counts(new, passages),
        kept_parts=kept,
    )


def propose(
    draft: Draft,
    llm: BaseChatModel,
    passages: Sequence[Passage],
    *,
    costs: Costs | None = None,
    reviewers: bool = True,
    existing: Sequence[Comment] = (),
) -> list[Comment]:
    """慢稿's proposals for the writer (all pending): the completeness check's, then the reviewers'."""
    proposals = gap_comments(draft)
    if reviewers:
        proposals += reviewer_comments(
            draft, draft.brief, llm, costs=costs, passages=passages, existing=[*existing, *proposals]
        )
    return proposals


def revise(
    draft: Draft,
    comments: list[Comment],
    mode: RevisionMode,
    llm: BaseChatModel,
    passages: list[Passage],
    *,
    costs: Costs | None = None,
    reviewers: bool = True,
    locked: Sequence[str] = (),
    accept_all: bool = False,
) -> tuple[Version, list[Comment]]:
    """One revision round. 慢稿: reviewers and the completeness check propose comments; they stay
    pending (the writer decides) unless ``accept_all`` (a deliberate act). Only accepted comments are
    applied, so with none accepted the new version is the old text unchanged. 急稿: only the writer's
    own accepted comments. ``locked`` sentences and paragraphs are kept character for character.
    Returns the new version and every comment considered (proposals included)."""
    costs = costs if costs is not None else Costs()
    all_comments = list(comments)
    if mode is RevisionMode.SLOW:
        proposals = propose(draft, llm, passages, costs=costs, reviewers=reviewers, existing=all_comments)
        status = CommentStatus.ACCEPTED if accept_all else CommentStatus.PENDING
        all_comments += [c.model_copy(update={"status": status}) for c in proposals]
    version = consolidate(draft, all_comments, llm, passages, costs=costs, locked=locked, fill_gaps=False)
    return version, all_comments
