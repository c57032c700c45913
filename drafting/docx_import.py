"""Read back a .docx the leader or 科长 edited in Word or WPS: the accepted text, the tracked changes,
the 批注 with the text they are anchored to; then turn it into the project's next version.

:func:`read_edited_docx` and :func:`apply_edits` are pure (bytes / drafts in, typed objects out), so the
UI can call them on an upload; :func:`import_edited` is the one function here that saves (to the
workspace), as the orchestrator does for the drafting stages.
"""

from __future__ import annotations

import difflib
import io
import logging
import re
import uuid
import zipfile
from typing import Any

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from pydantic import Field

from drafting import docx_layout as L
from drafting.docx_annotate import ASSISTANT
from drafting.docx_xml import StyleResolver, w
from drafting.domain import Comment, CommentStatus, Draft, DraftSection, Version, _Model
from drafting.errors import DraftingError, IngestError
from drafting.workspace import Workspace

__all__ = [
    "TrackedChange",
    "EditedComment",
    "EditedDocument",
    "ParagraphChange",
    "ImportResult",
    "read_edited_docx",
    "apply_edits",
    "paragraph_changes",
    "import_edited",
]

log = logging.getLogger(__name__)

_APPENDIX = re.compile(r"^附件[：:]\s*(?:参考范文|引用来源)")
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Deleted or moved-away text, and the copy of a text box that Word keeps for older readers.
_SKIP_ANCESTORS = frozenset({w("del"), w("moveFrom"), _MC_FALLBACK})
_UNKNOWN_AUTHOR = "审阅人"


class TrackedChange(_Model):
    """A revision (修订) still in the document; it is read as accepted."""

    kind: str  # 插入 | 删除
    author: str = ""
    text: str = ""


class EditedComment(_Model):
    """A 批注: who wrote it, what it says, and the text it is anchored to."""

    id: str
    author: str = ""
    initials: str = ""
    text: str
    anchor: str = ""
    paragraph: int = -1  # index into EditedDocument.paragraphs; -1 = title, front matter or unknown
    date: str = ""


class EditedDocument(_Model):
    title: str = ""
    addressee: str = ""
    paragraphs: list[str] = Field(default_factory=list)  # the body, accepted text
    comments: list[EditedComment] = Field(default_factory=list)
    changes: list[TrackedChange] = Field(default_factory=list)
    version: int | None = None  # the draft version the export was made from, when the file still says


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


# --- reading ---------------------------------------------------------------------------------


def _skipped(el: Any, stop: Any) -> bool:
    """Deleted or fallback content, or text of a paragraph nested in ``stop`` (a text box): read on its own."""
    parent = el.getparent()
    while parent is not None and parent is not stop:
        if parent.tag in _SKIP_ANCESTORS or parent.tag == w("p"):
            return True
        parent = parent.getparent()
    return False


class _Reader:
    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self.styles = StyleResolver(doc.styles.element)
        self.open: dict[str, list[str]] = {}
        self.anchors: dict[str, list[str]] = {}
        self.where: dict[str, int] = {}  # comment id -> raw paragraph index

    def paragraph(self, p: Any, index: int) -> str:
        parts: list[str] = []
        for el in p.iter():
            tag = el.tag
            if tag == w("commentRangeStart"):
                cid = str(el.get(w("id")))
                self.open[cid] = self.anchors.setdefault(cid, [])
                self.where.setdefault(cid, index)
            elif tag == w("commentRangeEnd"):
                self.open.pop(str(el.get(w("id"))), None)
            elif tag == w("commentReference"):
                self.where.setdefault(str(el.get(w("id"))), index)  # WPS may write no range
            elif tag in (w("t"), w("tab")) and not _skipped(el, p):
                text = el.text or "" if tag == w("t") else " "
                parts.append(text)
                for anchor in self.open.values():
                    anchor.append(text)
        return "".join(parts)

    def jc(self, p: Any) -> str:
        return self.styles.attr(self.styles.ppr_sources(p), "jc", "val") or "left"


def _normalise_ranges(body: Any) -> None:
    """Move comment range markers that sit between paragraphs (as some editors write them for whole
    paragraphs) into the paragraph they open or close, so that anchors are read the same way."""
    for tag, forward in ((w("commentRangeStart"), True), (w("commentRangeEnd"), False)):
        for el in list(body.iter(tag)):
            if any(a.tag == w("p") for a in el.iterancestors()):
                continue
            sibling = el.getnext() if forward else el.getprevious()
            while sibling is not None:
                paras = [sibling] if sibling.tag == w("p") else list(sibling.iter(w("p")))
                if paras:
                    target = paras[0] if forward else paras[-1]
                    ppr = target.find(w("pPr"))
                    if forward and ppr is not None:
                        ppr.addnext(el)
                    elif forward:
                        target.insert(0, el)
                    else:
                        target.append(el)
                    break
                sibling = sibling.getnext() if forward else sibling.getprevious()


def _mark_deleted(p: Any) -> bool:
    return p.find(f"{w('pPr')}/{w('rPr')}/{w('del')}") is not None


def _changes(body: Any) -> list[TrackedChange]:
    out = []
    for tag, kind, text_tag in ((w("ins"), "插入", w("t")), (w("del"), "删除", w("delText"))):
        for el in body.iter(tag):
            if el.getparent() is not None and el.getparent().tag == w("rPr"):
                continue  # an inserted or deleted paragraph mark, no text of its own
            text = "".join(t.text or "" for t in el.iter(text_tag))
            if text:
                out.append(TrackedChange(kind=kind, author=el.get(w("author")) or "", text=text))
    return out


def read_edited_docx(data: bytes, *, spoken: bool = False) -> EditedDocument:
    """The edited document as the writer should see it: tracked changes accepted, 批注 with anchors.

    ``spoken``: a speech has no 主送机关, so a first line such as "同志们：" stays in the body.
    """
    try:
        doc = Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(f"读不了这个Word文档（只支持.docx）：{exc}") from exc
    body = doc.element.body
    _normalise_ranges(body)
    reader = _Reader(doc)
    raw: list[tuple[str, str, list[int]]] = []  # (text, alignment, raw indices merged into it)
    carry: tuple[str, list[int]] | None = None
    for i, p in enumerate(body.iter(w("p"))):
        if any(a.tag == _MC_FALLBACK for a in p.iterancestors()):
            continue
        text = reader.paragraph(p, i)
        if carry is not None:  # the previous paragraph's mark was deleted: it runs on into this one
            text, merged = carry[0] + text, [*carry[1], i]
        else:
            merged = [i]
        if _mark_deleted(p):
            carry = (text, merged)
            continue
        carry = None
        raw.append((text.strip(), reader.jc(p), merged))
    if carry is not None:
        raw.append((carry[0].strip(), "left", carry[1]))

    kept = [(t, jc, idx) for t, jc, idx in raw if t]
    end = next((k for k, (t, _, _) in enumerate(kept) if k and _APPENDIX.match(t)), len(kept))
    kept = kept[:end]
    title = kept[0][0] if kept else ""
    start = 1
    while start < len(kept) and kept[start][1] == "center":  # 讲话人、场合、日期
        start += 1
    addressee = ""
    if not spoken and start < len(kept):
        first = kept[start][0]
        if len(first) <= 40 and first.endswith(("：", ":")) and not re.search("[。；！？]", first):
            addressee, start = first.rstrip("：:"), start + 1
    stop = len(kept)
    while stop > start and stop > len(kept) - 3 and kept[stop - 1][1] in ("right", "end"):  # 署名、成文日期
        stop -= 1
    body_paras = kept[start:stop]

    owner: dict[int, int] = {}
    for n, (_, _, idx) in enumerate(body_paras):
        owner.update({i: n for i in idx})
    comments = []
    for c in doc.comments:
        cid = str(c.comment_id)
        comments.append(
            EditedComment(
                id=cid,
                author=c.author or "",
                initials=c.initials or "",
                text=c.text.strip(),
                anchor="".join(reader.anchors.get(cid, [])).strip(),
                paragraph=owner.get(reader.where.get(cid, -1), -1),
                date=c.timestamp.isoformat() if c.timestamp else "",
            )
        )
    version = (doc.core_properties.version or "").strip()
    return EditedDocument(
        title=title,
        addressee=addressee,
        paragraphs=[t for t, _, _ in body_paras],
        comments=comments,
        changes=_changes(body),
        version=int(version) if version.isdigit() else None,
    )


# --- the next version ------------------------------------------------------------------------


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
