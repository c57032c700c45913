"""The Word round trip's second half: an edited document (:mod:`drafting.docx_import`) becomes the
project's next version, with a paragraph diff against the version it was exported from, its 批注 as
pending comments for the next 慢稿 round, and the leader's wording locked.

:func:`apply_edits` and :func:`paragraph_changes` are pure; :func:`import_edited` is the one function
here that saves (to the workspace), as the orchestrator does for the drafting stages.
"""

from __future__ import annotations

import difflib
import logging
import re
import uuid

from pydantic import Field

from drafting.docx import layout as L
from drafting.docx.annotate import ASSISTANT
from drafting.docx.importer import EditedDocument, TrackedChange, read_edited_docx
from drafting.domain import Comment, CommentStatus, Draft, DraftSection, Version, _Model
from drafting.errors import DraftingError, IngestError
from drafting.workspace import Workspace

__all__ = ["ParagraphChange", "ImportResult", "apply_edits", "paragraph_changes", "import_edited"]

log = logging.getLogger(__name__)

_UNKNOWN_AUTHOR = "审阅人"


class ParagraphChange(_Model):
    kind: str  # 修改 | 新增 | 删除
    old_index: int = -1
    new_index: int = -1
    old: str = ""
    new: str = ""


class ImportResult(_Model):
    version: Version
    base: int
    comments: list[Comment] = Field(default_factory=list)
    changes: list[ParagraphChange] = Field(default_factory=list)
    tracked: list[TrackedChange] = Field(default_factory=list)
    locked: list[str] = Field(default_factory=list)  # the edited wording, now kept by later revisions
    notes: list[str] = Field(default_factory=list)


def _plain(text: str) -> str:
    return L.CITATION_MARK.sub("", text).strip()


def paragraph_changes(old: list[str], new: list[str]) -> list[ParagraphChange]:
    """Paragraph by paragraph: what was rewritten, added or deleted (citation marks ignored)."""
    out: list[ParagraphChange] = []
    sm = difflib.SequenceMatcher(None, [_plain(p) for p in old], [_plain(p) for p in new], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(pairs):
            out.append(
                ParagraphChange(kind="修改", old_index=i1 + k, new_index=j1 + k, old=old[i1 + k], new=new[j1 + k])
            )
        for i in range(i1 + pairs, i2):
            out.append(ParagraphChange(kind="删除", old_index=i, old=old[i]))
        for j in range(j1 + pairs, j2):
            out.append(ParagraphChange(kind="新增", new_index=j, new=new[j]))
    return out


def _owners(draft: Draft) -> tuple[list[int], set[int]]:
    """Section index of every paragraph of ``draft.paragraphs``, and which paragraphs are section headings."""
    owners: list[int] = []
    headings: set[int] = set()
    for i, s in enumerate(draft.sections):
        if s.kind == "body" and s.heading:
            headings.add(len(owners))
            owners.append(i)
        owners.extend(i for p in s.text.splitlines() if p.strip())
    return owners, headings


def _still_heading(old: list[str], i: int, text: str) -> bool:
    """A new paragraph in an old heading's place is that section's heading if it still reads like one."""
    was = _plain(old[i])
    if text == was:
        return True
    level = L.heading_level(text)
    return level == L.heading_level(was) if level else len(text) <= 30 and not re.search("[。；！？]", text)


def apply_edits(base: Draft, edited: EditedDocument) -> Draft:
    """``base`` rewritten to the edited text, keeping its sections: unchanged paragraphs keep their [n]
    marks, new ones join the section of the paragraph before them. ``version`` is left to the caller."""
    old = base.paragraphs
    new = edited.paragraphs
    owners, headings = _owners(base)
    mapped: list[int] = []  # for each new paragraph, the old paragraph it replaces (-1 = none)
    section_of: list[int] = []
    sm = difflib.SequenceMatcher(None, [_plain(p) for p in old], [_plain(p) for p in new], autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        for k in range(j2 - j1):
            i = i1 + k if tag in ("equal", "replace") and k < i2 - i1 else -1
            mapped.append(i)
            if i >= 0:
                section_of.append(owners[i])
            elif section_of:
                section_of.append(section_of[-1])
            else:
                section_of.append(owners[i1] if i1 < len(owners) else 0)
    texts = [old[i] if i >= 0 and _plain(old[i]) == _plain(p) else p for i, p in zip(mapped, new, strict=True)]
    sections: list[DraftSection] = []
    for si, sec in enumerate(base.sections):
        mine = [j for j in range(len(new)) if section_of[j] == si]
        heading_j = (
            mine[0]
            if mine and mapped[mine[0]] in headings and _still_heading(old, mapped[mine[0]], new[mine[0]])
            else None
        )
        heading = texts[heading_j] if heading_j is not None else ""
        lines = [texts[j] for j in mine if j != heading_j]
        # An emptied section is kept (empty) so that section indices still match the outline.
        sections.append(DraftSection(heading=heading, kind=sec.kind, text="\n".join(lines), complete=True))
    if not any(s.heading or s.text for s in sections) and new:
        sections = [DraftSection(heading="", kind="body", text="\n".join(new))]
    body = "\n".join(s.heading + s.text for s in sections)
    citations = [c for c in base.citations if f"[{c.n}]" in body]
    return base.model_copy(update={"title": edited.title or base.title, "sections": sections, "citations": citations})


def _diff_text(old: Draft, new: Draft, base: int, number: int) -> str:
    return "\n".join(
        difflib.unified_diff(
            [_plain(p) for p in old.paragraphs],
            [_plain(p) for p in new.paragraphs],
            fromfile=f"第{base}稿",
            tofile=f"第{number}稿（导入）",
            lineterm="",
        )
    )


def import_edited(
    workspace: Workspace, project_id: str, data: bytes, *, name: str = "", lock_edits: bool = True
) -> ImportResult:
    """Store an edited .docx as the project's next version, its 批注 as pending comments on it.

    With ``lock_edits`` the paragraphs the leader rewrote or added are locked, so that later
    revisions keep that wording character for character (the writer can unlock them)."""
    project = workspace.load(project_id)
    if not project.versions:
        raise DraftingError("这个项目还没有稿子，无法导入修改稿；请先生成初稿。")
    genre = (project.brief or project.versions[-1].draft.brief).genre
    edited = read_edited_docx(data, spoken=L.is_spoken(genre))
    if not edited.paragraphs:
        raise IngestError("这个Word文档里没有读到正文，未导入。")
    latest = project.versions[-1]
    base = next((v for v in project.versions if v.number == edited.version), latest)
    number = latest.number + 1
    draft = apply_edits(base.draft, edited).model_copy(update={"version": number})
    changes = paragraph_changes(base.draft.paragraphs, draft.paragraphs)
    # A 送审稿 comes back with the tool's own notes and the reviewers' comments it carried: not new.
    known = {(c.author, c.text) for c in project.comments}
    comments = [
        Comment(
            id=f"docx-{uuid.uuid4().hex[:8]}",
            author=c.author or _UNKNOWN_AUTHOR,
            text=c.text,
            paragraph=c.paragraph,
            quote=c.anchor,
            status=CommentStatus.PENDING,
        )
        for c in edited.comments
        if c.text and c.author != ASSISTANT and (c.author, c.text) not in known
    ]
    notes: list[str] = []
    if base.number != latest.number:
        notes.append(
            f"这份文档是从第{base.number}稿导出的（项目最新为第{latest.number}稿），已与第{base.number}稿比较。"
        )
    if edited.changes:
        ins = sum(c.kind == "插入" for c in edited.changes)
        dels = len(edited.changes) - ins
        who = "、".join(dict.fromkeys(c.author for c in edited.changes if c.author)) or "未署名"
        notes.append(f"文档中有未接受的修订（插入{ins}处、删除{dels}处，修订人：{who}），已按全部接受读取。")
    counts = {k: sum(c.kind == k for c in changes) for k in ("修改", "新增", "删除")}
    summary = "、".join(f"{k}{n}段" for k, n in counts.items() if n) or "正文未改动"
    label = f"“{name}”" if name else ""
    version = Version(
        number=number,
        draft=draft,
        mode=base.mode,
        note=f"导入修改稿{label}：{summary}；批注{len(comments)}条",
        diff=_diff_text(base.draft, draft, base.number, number),
    )
    workspace.add_version(project_id, version)
    workspace.save_working(project_id, draft)
    for c in comments:
        workspace.save_comment(project_id, number, c)
    locked: list[str] = []
    if lock_edits:
        for ch in changes:
            if ch.kind in ("修改", "新增") and _plain(ch.new) and not L.heading_level(ch.new):
                locked.append(workspace.lock(project_id, ch.new))
    log.info("import: project %s version %d from %d: %s", project_id, number, base.number, summary)
    return ImportResult(
        version=version,
        base=base.number,
        comments=comments,
        changes=changes,
        tracked=edited.changes,
        locked=locked,
        notes=notes,
    )
