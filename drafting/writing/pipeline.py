"""The orchestrator: runs the stages in order and saves each result to the workspace as it lands.

Stages compute and return; only this module (and the CLI/app that call it) persist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drafting.checks.ledger import with_confirmed
from drafting.checks.revise_checks import anchor_leader_comments, origin_of, rank_comments
from drafting.classified import guard_brief, guard_project, guard_resume
from drafting.domain import (
    Brief,
    Comment,
    CommentOrigin,
    CommentStatus,
    Costs,
    Draft,
    Outline,
    Passage,
    PrincipleCoverage,
    Review,
    RevisionMode,
    Version,
)
from drafting.errors import DraftingError, ProviderError
from drafting.events import (
    DraftWritten,
    OutlineReady,
    PassagesChosen,
    ProgressHandler,
    ReviewFailed,
    ReviewReady,
    SectionWritten,
    TokenStreamed,
    ignore,
)
from drafting.llm.calls import collect_costs, costs_so_far
from drafting.workspace import Workspace
from drafting.writing.draft import write_draft
from drafting.writing.outline import make_outline, quick_outline
from drafting.writing.references import material_passages
from drafting.writing.review import principle_evidence
from drafting.writing.review import review as review_draft
from drafting.writing.revise import propose, revise

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from drafting.corpus.store import Store

__all__ = [
    "DraftRun",
    "gather_passages",
    "run_draft",
    "resume_draft",
    "run_revision",
    "run_proposals",
    "with_principles",
    "Event",
]

log = logging.getLogger(__name__)
Event = ProgressHandler  # the old name, kept for callers that import it
CORPUS_PASSAGES = 6
MATERIAL_PASSAGES = 6


@dataclass
class DraftRun:
    brief: Brief
    passages: list[Passage]
    outline: Outline
    draft: Draft
    review: Review | None = None
    project_id: str | None = None
    costs: Costs = field(default_factory=Costs)


def gather_passages(brief: Brief, store: Store | None, *, k: int = CORPUS_PASSAGES) -> list[Passage]:
    """Supplied material first (it is the writer's own source), then the best 范文 passages."""
    from drafting.writing.references import rank_for_section

    material = material_passages(brief.material)
    if len(material) > MATERIAL_PASSAGES:
        keep = rank_for_section(brief.query_text() or brief.request, material, MATERIAL_PASSAGES)
        material = [material[n - 1] for n in sorted(keep)]
    corpus: list[Passage] = []
    if store is not None and brief.query_text():
        from drafting.corpus.retrieve import relevant_passages, retrieve

        corpus = relevant_passages(brief.query_text(), retrieve(brief.query_text(), store, k=k))
    return material + corpus


def run_draft(
    brief: Brief,
    *,
    store: Store | None,
    llm: BaseChatModel,
    workspace: Workspace | None = None,
    project_id: str | None = None,
    outline: Outline | None = None,
    passages: list[Passage] | None = None,
    with_review: bool = True,
    context_tokens: int = 4096,
    on_event: Event | None = None,
) -> DraftRun:
    """brief -> passages -> outline -> draft -> review, saving each step.

    Pass ``outline`` (the writer's edited one) and ``passages`` to skip those steps.
    On a model failure mid-draft the partial draft is saved before the error propagates.
    """
    guard_brief(brief)
    with collect_costs():  # the run's costs; the draft and the review each keep a frozen copy of theirs
        emit = on_event or ignore
        if workspace is not None and project_id is None:
            project_id = workspace.create_project(brief)
        if workspace is not None and project_id is not None:
            workspace.save_brief(project_id, brief)
        if passages is None:
            passages = gather_passages(brief, store)
        emit(PassagesChosen(passages))
        if workspace is not None and project_id:
            workspace.save_passages(project_id, passages)
        if outline is None:
            # 急稿: the outline is made at once from the brief and the genre; 慢稿 asks the model for one.
            if brief.mode is RevisionMode.URGENT:
                outline = quick_outline(brief)
            else:
                outline = make_outline(brief, passages, llm, context_tokens=context_tokens)
        emit(OutlineReady(outline))
        if workspace is not None and project_id:
            workspace.save_outline(project_id, outline)
        draft = _write(brief, outline, passages, llm, workspace, project_id, emit, None, context_tokens)
        return _finish(brief, passages, outline, draft, llm, workspace, project_id, emit, with_review)


def _write(
    brief: Brief,
    outline: Outline,
    passages: list[Passage],
    llm: BaseChatModel,
    workspace: Workspace | None,
    project_id: str | None,
    emit: Event,
    resume: Draft | None,
    context_tokens: int,
) -> Draft:
    def saved(d: Draft) -> None:
        if workspace is not None and project_id:
            workspace.save_working(project_id, d)
        emit(SectionWritten(d))

    try:
        return write_draft(
            brief,
            outline,
            passages,
            llm,
            on_token=lambda i, t: emit(TokenStreamed(i, t)),
            on_section=saved,
            resume=resume,
            context_tokens=context_tokens,
        )
    except ProviderError as err:
        if err.draft is not None and workspace is not None and project_id:
            workspace.save_working(project_id, err.draft)
        raise


def _finish(
    brief: Brief,
    passages: list[Passage],
    outline: Outline,
    draft: Draft,
    llm: BaseChatModel,
    workspace: Workspace | None,
    project_id: str | None,
    emit: Event,
    with_review: bool,
) -> DraftRun:
    emit(DraftWritten(draft))
    version = Version(number=1, draft=draft, mode=brief.mode, note="初稿")
    if workspace is not None and project_id:
        # A new draft in a project that already has versions is the next version, never 第1稿 again.
        number = len(workspace.versions(project_id)) + 1
        if number > 1:
            draft = draft.model_copy(update={"version": number})
            version = Version(number=number, draft=draft, mode=brief.mode, note="重新起草")
        workspace.save_working(project_id, draft)
        workspace.add_version(project_id, version)
    result = DraftRun(brief, passages, outline, draft, None, project_id)
    if with_review:
        try:
            result.review = review_draft(draft, brief, llm)
        except DraftingError as err:
            log.warning("review failed after the draft was saved: %s", err)
            emit(ReviewFailed(err))
        else:
            emit(ReviewReady(result.review))
            if workspace is not None and project_id:
                workspace.save_review(project_id, result.review)
    result.costs = costs_so_far()
    return result


def resume_draft(
    workspace: Workspace,
    project_id: str,
    *,
    llm: BaseChatModel,
    with_review: bool = True,
    context_tokens: int = 4096,
    on_event: Event | None = None,
) -> DraftRun:
    """Go on with an interrupted draft: finished sections are kept, the rest is written."""
    guard_resume(workspace, project_id)
    project = workspace.load(project_id)
    if project.brief is None or project.outline is None:
        raise DraftingError("这个项目还没有任务书和提纲，无法续写。")
    emit = on_event or ignore
    with collect_costs():
        draft = _write(
            project.brief,
            project.outline,
            project.passages,
            llm,
            workspace,
            project_id,
            emit,
            project.working,
            context_tokens,
        )
        return _finish(
            project.brief, project.passages, project.outline, draft, llm, workspace, project_id, emit, with_review
        )


def _round_base(workspace: Workspace, project_id: str, base: int | None) -> tuple[Draft, int, int, list[Comment]]:
    """The version to revise (``base``, else the newest), its number, the number the next version gets,
    and the comments on the base (a comment belongs to the version it was made on: an earlier round's
    accepted comments are not applied again). The leader's 批注 still pending on an earlier version
    come along (their quote may have been edited since): they wait for the writer's decision."""
    project = workspace.load(project_id)
    if base is not None:
        found = next((v for v in project.versions if v.number == base), None)
        if found is None:
            raise DraftingError(f"项目 {project_id} 没有第{base}稿。")
        current, number = found.draft, base
    else:
        latest = project.latest
        if latest is None:
            raise DraftingError("还没有可修改的稿子，请先生成初稿。")
        current = latest
        number = project.versions[-1].number if project.versions else latest.version
    following = (project.versions[-1].number if project.versions else number) + 1
    mine = workspace.comments(project_id, number)
    ids = {c.id for c in mine}
    waiting = [
        c
        for c in project.comments
        if c.id not in ids and c.status is CommentStatus.PENDING and origin_of(c) is CommentOrigin.LEADER
    ]
    return current, number, following, [*waiting, *mine]


def with_principles(version: Version, before: Draft) -> Version:
    """The round's report with the five principles' evidence before and after (纵到底's other half)."""
    if version.report is None:
        return version
    old, new = principle_evidence(before), principle_evidence(version.draft)
    principles = [PrincipleCoverage(principle=c.value, before=old.get(c, []), after=new.get(c, [])) for c in old]
    return version.model_copy(update={"report": version.report.model_copy(update={"principles": principles})})


def run_proposals(
    workspace: Workspace, project_id: str, *, llm: BaseChatModel, base: int | None = None
) -> list[Comment]:
    """慢稿's first half: the reviewers and the key-point check propose comments on the newest version;
    they are saved pending (nothing is applied). Returns every comment on that version, ranked: the
    leader's 批注 first, then the writer's own, the key-point check's, the reviewers'."""
    guard_project(workspace, project_id)
    project = workspace.load(project_id)
    current, number, _, existing = _round_base(workspace, project_id, base)
    existing = anchor_leader_comments(existing, current)
    for c in [*existing, *propose(current, llm, project.passages, existing=existing)]:
        workspace.save_comment(project_id, number, c)
    return rank_comments(workspace.comments(project_id, number))


def run_revision(
    workspace: Workspace,
    project_id: str,
    *,
    llm: BaseChatModel,
    mode: RevisionMode,
    comments: list[Comment] | None = None,
    accept_all: bool = False,
    reviewers: bool = True,
    base: int | None = None,
) -> Version:
    """One revision round on the newest version; comments (with the program's notes) and the new
    version (with its round report) are saved, and the new version becomes the working draft.
    ``comments``: the writer's decisions; by default the comments saved on the newest version (the
    leader's 批注 read back from Word among them). The project's locked sentences are kept character for
    character. Reviewer proposals are saved pending and applied only with ``accept_all``; with
    ``reviewers=False`` the reviewers are not asked again (the writer has decided). ``base``: revise that
    version instead of the newest (the new one is still numbered after the newest)."""
    guard_project(workspace, project_id, comments)
    project = workspace.load(project_id)
    current, number, following, saved = _round_base(workspace, project_id, base)
    given = comments if comments is not None else [c for c in saved if c.status != "rejected"]
    current = with_confirmed(current, project.facts)  # the facts ledger's confirmed facts are kept
    version, considered = revise(
        current,
        given,
        mode,
        llm,
        project.passages,
        locked=project.locks,
        accept_all=accept_all,
        reviewers=reviewers,
    )
    version = with_principles(version, current)
    if version.number != following:  # numbered after the project's newest version, never over one
        draft = version.draft.model_copy(update={"version": following})
        version = version.model_copy(update={"number": following, "draft": draft})
    for c in considered:
        workspace.save_comment(project_id, number, c)
    workspace.add_version(project_id, version)
    workspace.save_working(project_id, version.draft)
    return version
