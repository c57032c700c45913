"""What each button of the page does: thin calls into the stages and the pipeline, saved to the workspace.

Every function takes what it needs (workspace, store, model) as arguments, raises DraftingError
with a Chinese message on bad input, and never calls ``st.*``.
"""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drafting.checks.ledger import with_confirmed
from drafting.corpus.ingest import IngestReport, ingest_paths, read_document
from drafting.domain import (
    Brief,
    Comment,
    CommentStatus,
    Costs,
    Criterion,
    Draft,
    Outline,
    Passage,
    PassageOrigin,
    Review,
    RevisionMode,
    Version,
    now_iso,
)
from drafting.errors import BriefError, DraftingError, IngestError
from drafting.workspace import Project, Workspace
from drafting.writing.brief import brief_from_request, validate_brief
from drafting.writing.outline import make_outline
from drafting.writing.pipeline import DraftRun, Event, gather_passages, resume_draft, run_draft
from drafting.writing.review import review
from drafting.writing.revise import (
    WRITER,
    consolidate,
    coverage_map,
    instruction_for,
    reviewer_comments,
    rewrite_section,
)

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from drafting.corpus.store import Store

__all__ = [
    "PINNED",
    "brief_from_form",
    "create_or_update",
    "read_material",
    "search_corpus",
    "pin_passage",
    "drop_passage",
    "generate_outline",
    "regenerate_section",
    "save_outline",
    "write_full_draft",
    "continue_draft",
    "review_latest",
    "quick_rewrite",
    "collect_comments",
    "set_comment_status",
    "add_writer_comment",
    "consolidate_comments",
    "key_point_coverage",
    "upload_to_corpus",
    "save_edited_draft",
    "restore_version",
    "section_of",
]

log = logging.getLogger(__name__)
PINNED = PassageOrigin.PINNED  # Passage.origin of a passage the writer pinned for this draft
MAX_PASSAGES = 10


def brief_from_form(values: dict[str, Any], *, material: list[str] | None = None, from_request: bool = False) -> Brief:
    """The 任务 page as a Brief: either the pasted instruction (parsed) or the structured fields."""
    if from_request:
        request = str(values.get("request") or "").strip()
        return brief_from_request(request, material=material or [], mode=values.get("mode"))
    fields = {k: v for k, v in values.items() if v is not None}
    fields["material"] = material or []
    return validate_brief(fields)


def create_or_update(ws: Workspace, project_id: str | None, brief: Brief) -> str:
    if project_id is None:
        return ws.create_project(brief)
    ws.save_brief(project_id, brief)
    return project_id


def read_material(name: str, data: bytes) -> str:
    """Text of an uploaded material file (.txt/.md/.docx/.pdf); IngestError with the reason otherwise."""
    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"material{suffix}"
        path.write_bytes(data)
        text, _ = read_document(path)
    return text


def search_corpus(
    query: str, store: Store, *, genre: str | None = None, year: int | None = None, k: int = 8
) -> list[Passage]:
    from drafting.corpus.retrieve import retrieve

    if not query.strip():
        raise BriefError("请输入要检索的内容。")
    return retrieve(query, store, k=k, genre=genre or None, year=year or None)


def pin_passage(ws: Workspace, project_id: str, passage: Passage) -> None:
    """Put the passage first in this draft's references (kept when the outline is regenerated)."""
    current = [p for p in ws.load(project_id).passages if p.chunk_id != passage.chunk_id]
    pinned = [p for p in current if p.origin == PINNED]
    rest = [p for p in current if p.origin != PINNED]
    ws.save_passages(project_id, [*pinned, passage.model_copy(update={"origin": PINNED}), *rest])


def drop_passage(ws: Workspace, project_id: str, chunk_id: str) -> None:
    ws.save_passages(project_id, [p for p in ws.load(project_id).passages if p.chunk_id != chunk_id])


def _passages_for(project: Project, store: Store | None) -> list[Passage]:
    assert project.brief is not None
    pinned = [p for p in project.passages if p.origin == PINNED]
    seen = {p.chunk_id for p in pinned}
    gathered = [p for p in gather_passages(project.brief, store) if p.chunk_id not in seen]
    return (pinned + gathered)[: max(MAX_PASSAGES, len(pinned))]


def _project_with_brief(ws: Workspace, project_id: str) -> Project:
    project = ws.load(project_id)
    if project.brief is None:
        raise BriefError("请先在“任务”页填写任务书。")
    return project


def generate_outline(
    ws: Workspace, project_id: str, store: Store | None, model: BaseChatModel, context_tokens: int = 4096
) -> Outline:
    project = _project_with_brief(ws, project_id)
    assert project.brief is not None
    passages = _passages_for(project, store)
    ws.save_passages(project_id, passages)
    outline = make_outline(project.brief, passages, model, context_tokens=context_tokens)
    ws.save_outline(project_id, outline)
    return outline


def regenerate_section(ws: Workspace, project_id: str, index: int, model: BaseChatModel) -> Outline:
    """Re-plan one body section: a one-part outline for its topic replaces it, budget kept."""
    project = _project_with_brief(ws, project_id)
    if project.outline is None or not 0 <= index < len(project.outline.sections):
        raise DraftingError("请先生成提纲。")
    assert project.brief is not None
    old = project.outline.sections[index]
    if old.kind != "body":
        raise DraftingError("开头和结尾不需要重新生成，请直接修改“目的”。")
    others = "；".join(s.heading for s in project.outline.body_sections if s is not old)
    focus = project.brief.model_copy(
        update={
            "key_points": [old.heading, *old.points],
            "length": 600,
            "request": f"{project.brief.request}\n只重写这一部分，不要与其他部分（{others}）重复。",
        }
    )
    fresh = make_outline(focus, project.passages, model).body_sections[0]
    sections = list(project.outline.sections)
    sections[index] = fresh.model_copy(update={"budget": old.budget})
    outline = project.outline.model_copy(update={"sections": sections})
    ws.save_outline(project_id, outline)
    return outline


def save_outline(ws: Workspace, project_id: str, outline: Outline) -> None:
    ws.save_outline(project_id, outline)


def write_full_draft(
    ws: Workspace, project_id: str, model: BaseChatModel, *, on_event: Event | None = None, context_tokens: int = 4096
) -> DraftRun:
    """Write the draft from the saved outline and passages; partial text is saved if the model fails."""
    project = _project_with_brief(ws, project_id)
    if project.outline is None:
        raise DraftingError("请先在“提纲”页生成或填写提纲。")
    assert project.brief is not None
    return run_draft(
        project.brief,
        store=None,
        llm=model,
        workspace=ws,
        project_id=project_id,
        outline=project.outline,
        passages=project.passages,
        with_review=False,
        context_tokens=context_tokens,
        on_event=on_event,
    )


def continue_draft(ws: Workspace, project_id: str, model: BaseChatModel, *, on_event: Event | None = None) -> DraftRun:
    return resume_draft(ws, project_id, llm=model, with_review=False, on_event=on_event)


def _latest(ws: Workspace, project_id: str) -> tuple[Project, Draft]:
    project = ws.load(project_id)
    draft = project.versions[-1].draft if project.versions else None
    if draft is None:
        raise DraftingError("还没有完成的稿子，请先在“正文”页生成初稿。")
    return project, draft


def review_latest(ws: Workspace, project_id: str, model: BaseChatModel) -> Review:
    project, draft = _latest(ws, project_id)
    result = review(draft, project.brief or draft.brief, model)
    ws.save_review(project_id, result)
    return result


def _save_version(ws: Workspace, project_id: str, version: Version) -> Version:
    ws.add_version(project_id, version)
    ws.save_working(project_id, version.draft)
    return version


def quick_rewrite(
    ws: Workspace,
    project_id: str,
    section: int,
    kind: str,
    model: BaseChatModel,
    *,
    criterion: Criterion | None = None,
    length: int | None = None,
    on_token: Callable[[str], None] | None = None,
) -> Version:
    """急稿: one-click rewrite of one section into a new version."""
    project, draft = _latest(ws, project_id)
    draft = with_confirmed(draft, project.facts)  # confirmed facts and locked sentences are kept
    instruction = instruction_for(kind, criterion=criterion, length=length)
    budget = length if kind == "shorten" else None
    version = rewrite_section(
        draft, section, instruction, model, project.passages, budget=budget, on_token=on_token, locked=project.locks
    )
    return _save_version(ws, project_id, version)


def collect_comments(ws: Workspace, project_id: str, model: BaseChatModel) -> list[Comment]:
    """慢稿: every reviewer perspective comments on the newest version; comments are saved as pending."""
    project, draft = _latest(ws, project_id)
    draft = with_confirmed(draft, project.facts)  # reviewers are not told a confirmed fact is unsourced
    comments = reviewer_comments(
        draft,
        project.brief or draft.brief,
        model,
        passages=project.passages,
        existing=ws.comments(project_id, draft.version),
    )
    for c in comments:
        ws.save_comment(project_id, draft.version, c)
    return comments


def set_comment_status(ws: Workspace, project_id: str, version: int, comment: Comment, status: CommentStatus) -> None:
    ws.save_comment(project_id, version, comment.model_copy(update={"status": status}))


def add_writer_comment(
    ws: Workspace, project_id: str, version: int, paragraph: int, text: str, quote: str = ""
) -> Comment:
    """The writer's own comment (accepted), on a paragraph or the whole draft, optionally on a quoted passage."""
    if not text.strip():
        raise BriefError("意见内容为空。")
    quote = quote.strip()
    if quote and paragraph < 0:  # a quote pins the comment to the paragraph that holds it
        _, draft = _latest(ws, project_id)
        paragraph = next((i for i, p in enumerate(draft.paragraphs) if quote in p), -1)
    comment = Comment(
        id=uuid.uuid4().hex[:8],
        author=WRITER,
        text=text.strip(),
        paragraph=paragraph,
        quote=quote,
        status=CommentStatus.ACCEPTED,
    )
    ws.save_comment(project_id, version, comment)
    return comment


def consolidate_comments(ws: Workspace, project_id: str, model: BaseChatModel) -> Version:
    """慢稿: write the next version from the accepted comments on the newest one."""
    project, draft = _latest(ws, project_id)
    comments = ws.comments(project_id, draft.version)
    if not any(c.status == CommentStatus.ACCEPTED for c in comments) and all(
        w != "未覆盖" for w in coverage_map(draft, draft.brief.key_points).values()
    ):
        raise DraftingError("没有采纳的意见：请先采纳至少一条意见，或添加自己的意见。")
    draft = with_confirmed(draft, project.facts)  # confirmed facts and locked sentences are kept
    version = consolidate(draft, comments, model, project.passages, locked=project.locks)
    return _save_version(ws, project_id, version)


def _next_version(ws: Workspace, project_id: str, draft: Draft, note: str, old: Draft) -> Version:
    from drafting.writing.revise import diff_drafts

    versions = ws.versions(project_id)
    number = (versions[-1].number if versions else 0) + 1
    new = draft.model_copy(update={"version": number, "costs": Costs(), "created_at": now_iso()})
    version = Version(
        number=number,
        draft=new,
        mode=RevisionMode.URGENT,
        note=note,
        diff=diff_drafts(old, new),
        coverage=coverage_map(new, new.brief.key_points),
    )
    return _save_version(ws, project_id, version)


def save_edited_draft(ws: Workspace, project_id: str, texts: list[str], title: str | None = None) -> Version:
    """The writer's own edit of the newest version (one text per section), saved as the next version."""
    _, draft = _latest(ws, project_id)
    if len(texts) != len(draft.sections):
        raise DraftingError("稿子已经变了，请刷新页面后重新修改。")
    cleaned = ["\n".join(line.strip() for line in t.strip().splitlines() if line.strip()) for t in texts]
    if not any(cleaned):
        raise BriefError("正文为空：没有保存。")
    if cleaned == [s.text.strip() for s in draft.sections] and (title is None or title.strip() == draft.title):
        raise BriefError("正文没有改动，不需要保存。")
    sections = [
        s.model_copy(update={"text": t, "complete": True}) for s, t in zip(draft.sections, cleaned, strict=True)
    ]
    cited = {int(n) for t in cleaned for n in re.findall(r"\[(\d{1,3})\]", t)}
    edited = draft.model_copy(
        update={
            "sections": sections,
            "title": (title or "").strip() or draft.title,
            "citations": [c for c in draft.citations if c.n in cited],
        }
    )
    return _next_version(ws, project_id, edited, "撰稿人直接修改正文", draft)


def restore_version(ws: Workspace, project_id: str, number: int) -> Version:
    """An earlier version becomes the newest again, as a new version (nothing is overwritten)."""
    _, latest = _latest(ws, project_id)
    old = next((v for v in ws.versions(project_id) if v.number == number), None)
    if old is None:
        raise DraftingError(f"找不到第{number}稿。")
    return _next_version(ws, project_id, old.draft, f"恢复为第{number}稿", latest)


def section_of(draft: Draft, passage: str) -> int:
    """The section that holds ``passage`` (a score's evidence); else the first body section."""
    passage = passage.strip()
    for i, s in enumerate(draft.sections):
        if passage and passage in s.text:
            return i
    return next((i for i, s in enumerate(draft.sections) if s.kind == "body"), 0)


def key_point_coverage(draft: Draft) -> dict[str, str]:
    return coverage_map(draft, draft.brief.key_points)


_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def upload_to_corpus(
    files: list[tuple[str, bytes]],
    store: Store,
    upload_dir: Path,
    *,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> IngestReport:
    """Keep uploaded files under the data directory (so re-uploads are recognised) and index them."""
    if not files:
        raise IngestError("请先选择要导入的文件。")
    upload_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files:
        path = upload_dir / (_SAFE_NAME.sub("_", Path(name).name) or "upload.txt")
        path.write_bytes(data)
        paths.append(path)
    report = ingest_paths(paths, store, on_progress=on_progress)
    # Show the writer the names they uploaded, not our storage paths.
    report.failed = [(Path(p).name, why) for p, why in report.failed]
    return report
