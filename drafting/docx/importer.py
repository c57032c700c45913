"""Read back a .docx the leader or 科长 edited in Word or WPS: the accepted text, the tracked changes,
the 批注 with the text they are anchored to. Pure (bytes in, :class:`EditedDocument` out), so the UI
can call it on an upload; :mod:`drafting.roundtrip` turns the result into the project's next version.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from typing import Any

from docx import Document
from docx.opc.exceptions import PackageNotFoundError
from pydantic import Field

from drafting.docx.ooxml import StyleResolver, w
from drafting.domain import _Model
from drafting.errors import IngestError

__all__ = [
    "TrackedChange",
    "EditedComment",
    "EditedDocument",
    "read_edited_docx",
]

log = logging.getLogger(__name__)

_APPENDIX = re.compile(r"^附件[：:]\s*(?:参考范文|引用来源)")
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
# Deleted or moved-away text, and the copy of a text box that Word keeps for older readers.
_SKIP_ANCESTORS = frozenset({w("del"), w("moveFrom"), _MC_FALLBACK})


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
                self.where.setdefault(str(el.get(w("id"))), index)  # some editors write no range
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
