"""Stage 5: revision. 慢稿: reviewers from several perspectives comment on paragraphs
(:mod:`drafting.writing.reviewers`), the writer accepts or rejects, and a consolidation pass rewrites
the commented sections, never making the draft worse (:mod:`drafting.checks.revise_checks`); 急稿:
one-click targeted rewrites of a section. Every revision yields a new Version with a diff to the
previous one and a report of the round (key points with :mod:`drafting.writing.coverage`).
"""

from __future__ import annotations

import difflib
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from drafting.checks.ledger import keep_confirmed
from drafting.checks.locks import locks_in, restore_locks
from drafting.checks.revise_checks import (
    Settled,
    anchor_leader_comments,
    defect_counts,
    part_name,
    rank_comments,
    settle_parts,
)
from drafting.domain import (
    Comment,
    CommentOrigin,
    CommentStatus,
    Costs,
    Criterion,
    Draft,
    DraftSection,
    Passage,
    PointCoverage,
    RevisionMode,
    RoundReport,
    Version,
    count_chars,
)
from drafting.llm.calls import collect_costs, complete
from drafting.llm.prompts import load_prompt
from drafting.writing.coverage import (
    COMPLETENESS,
    COVERED,
    UNCOVERED,
    coverage_map,
    gap_comments,
    paragraph_sections,
    points_to_cover,
)
from drafting.writing.references import format_references, rank_for_section
from drafting.writing.reviewers import perspectives, propose, reviewer_comments
from drafting.writing.text import (
    brief_summary,
    clean_section_text,
    collect_citations,
    criteria_descriptions,
    fit_length,
    link_citations,
    token_cap,
)

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
    "COVERED",
    "UNCOVERED",
    "gap_comments",
    "propose",
    "round_report",
]

log = logging.getLogger(__name__)
WRITER = "撰稿人"


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


def _round_version(
    old: Draft,
    new: Draft,
    passages: list[Passage],
    mode: RevisionMode,
    note: str,
    addressed: list[Comment],
    kept: list[str],
    *,
    not_applied: Sequence[Comment] = (),
    retried: Sequence[str] = (),
) -> Version:
    """The version a round made, with its diff, 横到边 coverage, the gate's defect counts before and after
    and the round's report."""
    return Version(
        number=new.version,
        draft=new,
        mode=mode,
        note=note,
        diff=diff_drafts(old, new),
        addressed=addressed,
        coverage=coverage_map(new, points_to_cover(old)),
        defects_before=defect_counts(old, passages),
        defects_after=defect_counts(new, passages),
        kept_parts=kept,
        report=round_report(old, new, not_applied=not_applied, retried=retried),
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
    on_token: Callable[[str], None] | None = None,
    locked: Sequence[str] = (),
) -> Version:
    """急稿 one-click rewrite of one section; returns the next version. ``locked`` wording is kept;
    a rewrite that makes the draft worse by the gate's count is not taken (the note says why)."""
    sec = draft.sections[index]
    target = budget or max(60, count_chars(sec.text))
    asked = {index: [instruction]}
    with collect_costs() as costs:
        settled, retried = _rewrite_and_settle(
            draft, asked, {index: target}, llm, passages, on_token=on_token, locked=locked
        )
    sections, kept = settled.sections, settled.kept
    new = _next(draft, sections, passages, costs.snapshot())
    note = Comment(
        id=uuid.uuid4().hex[:8],
        author=WRITER,
        text=instruction,
        paragraph=-1,
        status=CommentStatus.ACCEPTED,
        origin=CommentOrigin.WRITER,
    )
    note_text = f"改写“{part_name(sec)}”：{instruction}{_round_note(kept)}"
    return _round_version(draft, new, passages, RevisionMode.URGENT, note_text, [note], kept, retried=retried)


def _tighter(problems: list[str]) -> str:
    return load_prompt("revise.tighter").render(problems="\n".join(f"- {p}" for p in problems))[-1][1]


def _rewrite_and_settle(
    draft: Draft,
    asked: dict[int, list[str]],
    budgets: dict[int, int],
    llm: BaseChatModel,
    passages: list[Passage],
    *,
    locked: Sequence[str],
    on_token: Callable[[str], None] | None = None,
) -> tuple[Settled, list[str]]:
    """Rewrite each asked part and lay the rewrites on (never worse). A part whose rewrite is rejected
    is rewritten once more with the problems it brought in, and only then left as it was. Returns the
    settled parts (``kept`` names every part finally left as it was) and the notes on the retries."""

    def rewrite(base: Draft, idx: int, lines: list[str]) -> DraftSection:
        return _rewrite(base, idx, lines, llm, passages, budget=budgets[idx], on_token=on_token, locked=locked)

    first = settle_parts(draft, {i: rewrite(draft, i, asked[i]) for i in sorted(asked)}, passages, locked)
    if not first.rejected:
        return first, []
    base = draft.model_copy(update={"sections": first.sections})
    again = {i: rewrite(base, i, [*asked[i], _tighter(problems)]) for i, problems in first.rejected.items()}
    second = settle_parts(base, again, passages, locked)
    retried: list[str] = []
    kept = [k for k in first.kept if not any(k.startswith(f"“{part_name(draft.sections[i])}”") for i in again)]
    for i in sorted(again):
        name = part_name(draft.sections[i])
        if i in second.rejected or second.sections[i].text == draft.sections[i].text:
            why = next((k for k in second.kept if k.startswith(f"“{name}”")), f"“{name}”保留原文：重写后仍无可用改写")
            kept.append(f"{why}（已按问题清单重写一次）")
            retried.append(f"“{name}”第一次改写未通过检查，重写一次仍未通过，保留原文")
        else:
            retried.append(f"“{name}”第一次改写未通过检查，按问题清单重写后采用")
    return Settled(second.sections, kept, second.rejected), retried


def round_report(
    old: Draft, new: Draft, *, not_applied: Sequence[Comment] = (), retried: Sequence[str] = ()
) -> RoundReport:
    """横到边 (where each key point is) before and after the round, the comments not applied and the
    retries. The five principles' evidence comes from the review stage: the orchestrator adds it
    (``drafting.writing.pipeline``), as only it calls several stages."""
    points = points_to_cover(old)
    before, after = coverage_map(old, points), coverage_map(new, points)
    return RoundReport(
        points=[PointCoverage(point=kp, before=before[kp], after=after.get(kp, UNCOVERED)) for kp in before],
        not_applied=list(not_applied),
        retried=list(retried),
    )


def _target(c: Comment, owners: list[int], body: list[int]) -> int:
    return owners[c.paragraph] if 0 <= c.paragraph < len(owners) else body[0]


def consolidate(
    draft: Draft,
    comments: list[Comment],
    llm: BaseChatModel,
    passages: list[Passage],
    *,
    on_section: Callable[[int, str], None] | None = None,
    locked: Sequence[str] = (),
    fill_gaps: bool = True,
) -> Version:
    """Write the next version from the accepted comments only (the leader's 批注 first); with
    ``fill_gaps`` (纵到底) uncovered key points are added too. Parts no accepted comment touches are kept
    character for character; a rewritten part that raises the gate's defect count is rewritten once more
    with the problems it brought in, and then left as it was. The version's report lists every accepted
    comment that was not applied, with the reason."""
    accepted = rank_comments([c for c in comments if c.status == CommentStatus.ACCEPTED])
    gaps = [g.model_copy(update={"status": CommentStatus.ACCEPTED}) for g in gap_comments(draft)] if fill_gaps else []
    owners = paragraph_sections(draft)
    body = [i for i, s in enumerate(draft.sections) if s.kind == "body"] or [0]
    per_section: dict[int, list[str]] = {}
    for c in [*accepted, *gaps]:
        quoted = f"（针对“{c.quote[:40]}”）" if c.quote else ""
        per_section.setdefault(_target(c, owners, body), []).append(f"{c.author}：{c.text}{quoted}")
    budgets = {
        idx: (draft.outline.sections[idx].budget if idx < len(draft.outline.sections) else 0)
        or max(60, count_chars(draft.sections[idx].text))
        for idx in per_section
    }
    with collect_costs() as costs:
        settled, retried = _rewrite_and_settle(draft, per_section, budgets, llm, passages, locked=locked)
    sections = settled.sections
    if on_section:
        for idx in sorted(per_section):
            on_section(idx, sections[idx].text)
    new = _next(draft, sections, passages, costs.snapshot())
    changed = sum(1 for a, b in zip(draft.sections, sections, strict=True) if a.text != b.text)
    not_applied: list[Comment] = []
    for c in accepted:
        idx = _target(c, owners, body)
        if sections[idx].text != draft.sections[idx].text:
            continue
        name = part_name(draft.sections[idx])
        why = next((k for k in settled.kept if k.startswith(f"“{name}”")), f"“{name}”保留原文：模型没有给出可用的改写")
        not_applied.append(c.model_copy(update={"note": "未采用：" + why}))
    skipped = {c.id for c in not_applied}
    note = f"慢稿第{new.version}稿：采纳意见 {len(accepted)} 条，修改 {changed} 个部分{_round_note(settled.kept)}"
    addressed = [c for c in accepted if c.id not in skipped]
    return _round_version(
        draft, new, passages, RevisionMode.SLOW, note, addressed, settled.kept, not_applied=not_applied, retried=retried
    )


def revise(
    draft: Draft,
    comments: list[Comment],
    mode: RevisionMode,
    llm: BaseChatModel,
    passages: list[Passage],
    *,
    reviewers: bool = True,
    locked: Sequence[str] = (),
    accept_all: bool = False,
) -> tuple[Version, list[Comment]]:
    """One revision round. 慢稿: reviewers and the completeness check propose comments; they stay
    pending (the writer decides) unless ``accept_all`` (a deliberate act, which takes every pending
    comment, the given ones too). Only accepted comments are applied, so with none accepted the new
    version is the old text unchanged. 急稿: only the given accepted comments. The leader's 批注 are
    pinned to where their quote went (never dropped) and rank first. ``locked`` sentences and paragraphs
    are kept character for character. Returns the new version and every comment considered, ranked and
    with the program's notes (proposals included)."""
    all_comments = anchor_leader_comments(comments, draft)
    with collect_costs() as costs:
        if mode is RevisionMode.SLOW:
            all_comments += propose(draft, llm, passages, reviewers=reviewers, existing=all_comments)
        if accept_all:
            all_comments = [
                c.model_copy(update={"status": CommentStatus.ACCEPTED}) if c.status is CommentStatus.PENDING else c
                for c in all_comments
            ]
        version = consolidate(draft, all_comments, llm, passages, locked=locked, fill_gaps=False)
    # The new version's costs are the whole round's: the proposals' calls too.
    version = version.model_copy(update={"draft": version.draft.model_copy(update={"costs": costs.snapshot()})})
    if version.report is not None:  # the comments come back with the reason any was not applied
        notes = {c.id: c.note for c in version.report.not_applied}
        all_comments = [c.model_copy(update={"note": notes[c.id]}) if c.id in notes else c for c in all_comments]
    return version, rank_comments(all_comments)
