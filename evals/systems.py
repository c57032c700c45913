"""The systems compared, all on the same writer model.

- ``urgent``: our 急稿 pipeline, retrieval -> outline -> section-by-section draft (no review).
- ``slow``: the 急稿 draft, then one 慢稿 round (reviewer comments from every perspective,
  auto-accepted, and a consolidation rewrite). When ``urgent`` ran for the same case in the same
  run, its draft is reused rather than written again, so the two differ only by the revision
  round; the slow system's costs include the urgent draft's.
- ``baseline``: the same brief sent as one prompt (prompts/baseline.oneshot.v1.txt): no
  retrieval, no outline, no citations. Its answer is parsed into a Draft (first line title,
  ``一、…`` lines start body sections). For outline adherence it is measured against the outline
  our pipeline produced for the same brief (when ``urgent`` or ``slow`` ran first in this run,
  else N/A): "did the one-shot draft cover the structure a planned draft would have".
- ``previous``: the 急稿 pipeline of an earlier commit, through its own CLI (evals/previous.py); the
  run passes a PreviousPipeline in ``CaseContext.previous``. Its outline is its own.

A system is a function ``(brief, CaseContext) -> SystemOutput``; they run in ``ORDER`` so the
reuse above is possible whatever order ``--systems`` names them in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drafting.corpus.chunking import split_heading
from drafting.domain import Brief, Costs, Draft, DraftSection, Outline, OutlineSection, Passage, RevisionMode
from drafting.llm.calls import collect_costs, complete
from drafting.llm.prompts import load_prompt
from drafting.writing.pipeline import DraftRun, run_draft
from drafting.writing.revise import revise
from drafting.writing.text import brief_summary

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from .previous import PreviousPipeline

__all__ = [
    "CaseContext",
    "SystemOutput",
    "System",
    "SYSTEMS",
    "ORDER",
    "BASELINE_PROMPT",
    "run_urgent",
    "run_slow",
    "run_baseline",
    "run_previous",
    "parse_baseline",
    "restore_run",
]

BASELINE_PROMPT = "baseline.oneshot.v1"
ORDER: tuple[str, ...] = ("urgent", "slow", "baseline", "previous")


@dataclass
class CaseContext:
    """What every system gets for one case: the writer model, the store, and a per-case memo.

    ``request`` and ``material_files`` are the case as the writer gave it (for systems that start
    from a CLI); ``previous`` is the run's PreviousPipeline, when the previous system runs.
    """

    llm: BaseChatModel
    store: Any
    context_tokens: int = 4096
    memo: dict[str, Any] = field(default_factory=dict)
    request: str = ""
    material_files: tuple[Path, ...] = ()
    previous: PreviousPipeline | None = None
    case_id: str = "case"


@dataclass
class SystemOutput:
    draft: Draft
    # The outline outline-adherence is measured against; None means N/A.
    reference_outline: Outline | None
    passages: list[Passage] = field(default_factory=list)
    note: str = ""
    # For a revision system: the draft before the round, so the round's effect can be measured.
    before: Draft | None = None


System = Callable[[Brief, CaseContext], SystemOutput]


def _pipeline_run(brief: Brief, ctx: CaseContext) -> tuple[DraftRun, bool]:
    """The 急稿 run for this case: the memoised one if a system already made it."""
    cached = ctx.memo.get("urgent_run")
    if cached is not None:
        return cached, True
    run = run_draft(brief, store=ctx.store, llm=ctx.llm, with_review=False, context_tokens=ctx.context_tokens)
    ctx.memo["urgent_run"] = run
    return run, False


def restore_run(drafts_dir: Path, case_id: str) -> DraftRun | None:
    """The urgent run of a case as an earlier (killed) eval process saved it: its draft, outline and
    passages (``<case>__urgent.json`` and ``.run.json``), so a resumed 慢稿 round revises that same
    draft; None when the files are missing or unreadable."""
    draft_file = drafts_dir / f"{case_id}__urgent.json"
    run_file = drafts_dir / f"{case_id}__urgent.run.json"
    try:
        draft = Draft.model_validate_json(draft_file.read_text(encoding="utf-8"))
        data = json.loads(run_file.read_text(encoding="utf-8"))
        outline = Outline.model_validate(data["outline"]) if data.get("outline") else draft.outline
        passages = [Passage.model_validate(p) for p in data.get("passages") or []]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return DraftRun(brief=draft.brief, passages=passages, outline=outline, draft=draft)


def run_urgent(brief: Brief, ctx: CaseContext) -> SystemOutput:
    run, _ = _pipeline_run(brief, ctx)
    return SystemOutput(draft=run.draft, reference_outline=run.outline, passages=run.passages)


def run_slow(brief: Brief, ctx: CaseContext) -> SystemOutput:
    run, reused = _pipeline_run(brief, ctx)
    # Unattended: every proposal is taken, as a writer clicking 全部采纳 would; the gate still guards the round.
    version, comments = revise(run.draft, [], RevisionMode.SLOW, ctx.llm, run.passages, accept_all=True)
    # The slow system's costs: the urgent draft's and the revision round's (a new record; the run's draft keeps its own).
    version = version.model_copy(
        update={"draft": version.draft.model_copy(update={"costs": run.draft.costs.plus(version.draft.costs)})}
    )
    note = f"采纳评审意见 {len(comments)} 条" + ("；复用同一轮的急稿初稿" if reused else "")
    return SystemOutput(
        draft=version.draft, reference_outline=run.outline, passages=run.passages, note=note, before=run.draft
    )


def run_baseline(brief: Brief, ctx: CaseContext) -> SystemOutput:
    messages = load_prompt(BASELINE_PROMPT).render(
        speaker=brief.speaker or "领导",
        genre=brief.genre,
        occasion=brief.occasion or "（未说明）",
        brief=brief_summary(brief),
        length=brief.length,
    )
    with collect_costs() as costs:
        text = complete(ctx.llm, messages, stage="baseline", max_tokens=int(brief.length * 1.5) + 200)
    draft = parse_baseline(text, brief, costs.snapshot())
    run = ctx.memo.get("urgent_run")
    reference = run.outline if run is not None else None
    return SystemOutput(
        draft=draft, reference_outline=reference, note="" if reference else "无同题提纲，提纲符合度记为 N/A"
    )


def run_previous(brief: Brief, ctx: CaseContext) -> SystemOutput:
    if ctx.previous is None:
        raise RuntimeError("previous 系统需要一个 PreviousPipeline（evals.run 的 --previous）")
    draft, passages, note = ctx.previous.draft(
        brief, request=ctx.request, material_files=ctx.material_files, name=ctx.case_id
    )
    label = f"提交 {ctx.previous.commit[:8]}"
    return SystemOutput(
        draft=draft, reference_outline=draft.outline, passages=passages, note=f"{label}；{note}" if note else label
    )


SYSTEMS: dict[str, System] = {
    "urgent": run_urgent,
    "slow": run_slow,
    "baseline": run_baseline,
    "previous": run_previous,
}

_MARKUP = re.compile(r"^#+\s*|\*\*|__")
_TITLE_PREFIX = re.compile(r"^[【\[]?(?:标题|题目)[】\]]?[：:]?\s*")
_LEVEL1 = re.compile(r"^[一二三四五六七八九十]{1,3}\s*[、．.]")


def parse_baseline(text: str, brief: Brief, costs: Costs | None = None) -> Draft:
    """Turn a one-shot answer into a Draft: title line, opening, ``一、…`` body sections.

    The first line is the title when it is short and not itself a numbered heading; otherwise
    the brief's title is used. Text before the first heading is the opening; there is no
    closing section (a one-shot answer does not mark one).
    """
    lines = [_MARKUP.sub("", raw).strip() for raw in text.replace("\r", "").split("\n")]
    lines = [line for line in lines if line]
    title = brief.title or brief.genre
    if lines and not _LEVEL1.match(lines[0]) and len(lines[0]) <= 60 and not lines[0].endswith("。"):
        title = _TITLE_PREFIX.sub("", lines[0]).strip("《》 ") or title
        lines = lines[1:]
    opening: list[str] = []
    body: list[tuple[str, list[str]]] = []
    for line in lines:
        parsed = split_heading(line) if _LEVEL1.match(line) else None
        if parsed is not None and parsed[0] == 1:
            _, heading, rest = parsed
            body.append((heading.rstrip("。"), [rest] if rest else []))
        elif body:
            body[-1][1].append(line)
        else:
            opening.append(line)
    sections: list[DraftSection] = []
    outline_sections: list[OutlineSection] = []
    if opening:
        sections.append(DraftSection(heading="", kind="opening", text="\n".join(opening)))
        outline_sections.append(OutlineSection(heading="开头", kind="opening"))
    for heading, paras in body:
        sections.append(DraftSection(heading=heading, kind="body", text="\n".join(paras)))
        outline_sections.append(OutlineSection(heading=heading, kind="body"))
    if not sections:
        sections.append(DraftSection(heading="", kind="opening", text=""))
        outline_sections.append(OutlineSection(heading="开头", kind="opening"))
    return Draft(
        title=title,
        brief=brief,
        outline=Outline(title=title, sections=outline_sections),
        sections=sections,
        costs=costs or Costs(),
    )
