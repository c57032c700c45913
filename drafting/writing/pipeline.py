"""The orchestrator: runs the stages in order and saves each result to the workspace as it lands.

Stages compute and return; only this module (and the CLI/app that call it) persist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from drafting.checks.ledger import with_confirmed
from drafting.classified import guard_brief, guard_project, guard_resume
from drafting.domain import Brief, Comment, Costs, Draft, Outline, Passage, Review, RevisionMode, Version
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
from drafting.workspace import Workspace
from drafting.writing.draft import write_draft
from drafting.writing.outline import make_outline, quick_outline
from drafting.writing.references import material_passages
from drafting.writing.review import review as review_draft
from drafting.writing.revise import revise

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from drafting.corpus.store import Store

__all__ = ["DraftRun", "gather_passages", "run_draft", "resume_draft", "run_revision", "Event"]

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
    emit = on_event or ignore
    costs = Costs()
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
            outline = make_outline(brief, passages, llm, costs=costs, context_tokens=context_tokens)
    emit(OutlineReady(outline))
    if workspace is not None and project_id:
        workspace.save_outline(project_id, outline)
    draft = _write(brief, outline, passages, llm, costs, workspace, project_id, emit, None, context_tokens)
    return _finish(brief, passages, outline, draft, llm, costs, workspace, project_id, emit, with_review)


def _write(
    brief: Brief,
    outline: Outline,
    passages: list[Passage],
    llm: BaseChatModel,
    costs: Costs,
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
            costs=costs,
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
    costs: Costs,
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
    result = DraftRun(brief, passages, outline, draft, None, project_id, costs)
    if with_review:
        try:
            result.review = review_draft(draft, brief, llm, costs=costs)
        except DraftingError as err:
            log.warning("review failed after the draft was saved: %s", err)
            emit(ReviewFailed(err))
        else:
            emit(ReviewReady(result.review))
            if workspace is not None and project_id:
                workspace.save_review(project_id, result.review)
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
    costs = Costs()
    draft = _write(
        project.brief,
        project.outline,
        project.passages,
        llm,
        costs,
        workspace,
        project_id,
        emit,
        project.working,
        context_tokens,
    )
    return _finish(
        project.brief, project.passages, project.outline, draft, llm, costs, workspace, project_id, emit, with_review
    )


def run_revision(
    workspace: Workspace,
    project_id: str,
    *,
    llm: BaseChatModel,
    mode: RevisionMode,
    comments: list[Comment] | None = None,
    accept_all: bool = False,
) -> Version:
    """One revision round on the newest version; comments and the new version are saved.
    The project's locked sentences are kept character for character. Reviewer proposals are saved
    pending and applied only with ``accept_all``."""
    guard_project(workspace, project_id, comments)
    project = workspace.load(project_id)
    current = project.latest
    if current is None:
        raise DraftingError("还没有可修改的稿子，请先生成初稿。")
    current = with_confirmed(current, project.facts)  # the facts ledger's confirmed facts are kept
    given = comments if comments is not None else [c for c in project.comments if c.status != "rejected"]
    version, considered = revise(
        current, given, mode, llm, project.passages, locked=project.locks, accept_all=accept_all
    )
    for c in considered:
        workspace.save_comment(project_id, current.version, c)
    workspace.add_version(project_id, version)
    workspace.save_working(project_id, version.draft)
    return version
