"""What a 送审稿 carries as Word comments (批注): each citation, each 〔待补：…〕 placeholder, each
reviewer comment and each unverified figure, anchored to the sentence it concerns.

Pure: the exporter asks, paragraph by paragraph, which notes go on which sentence. A source is named
by its title, issuing body, date and section, never by its file path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from drafting.docx import layout as L
from drafting.domain import Comment, CommentStatus, Draft, Passage
from drafting.writing.references import overlap

__all__ = ["Note", "Annotator", "source_label", "ASSISTANT", "REVIEW_HEADER"]

ASSISTANT = "文稿助手"
REVIEW_HEADER = "送审稿"
_EXCERPT = 60


@dataclass(frozen=True)
class Note:
    """One Word comment: who says it and what."""

    author: str
    text: str
    initials: str = ""


def source_label(p: Passage) -> str:
    """《标题》（发文机关，日期）小节 — what a reader may see of a source; never ``p.source`` (a path)."""
    if p.origin == "material":
        name = f"写作者提供的{p.title}" if p.title else "写作者提供的材料"
    else:
        name = f"《{p.title}》" if p.title else "范文"
    when = (L.format_cn_date(p.date) or p.date.strip()) if p.date.strip() else ""
    meta = "，".join(x for x in (p.issuing_body.strip(), when) if x)
    where = f"{p.section}" if p.section_path else ""
    return name + (f"（{meta}）" if meta else "") + (f" {where}" if where else "")


def _figure_pattern(figure: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\d.]){re.escape(figure)}(?![\d.])")


@dataclass
class Annotator:
    """Assigns notes to sentences. Build it once per export, then call :meth:`notes` per paragraph
    (``index`` counts ``draft.paragraphs``) with that paragraph's sentences as written (marks included)."""

    draft: Draft
    comments: Sequence[Comment] = ()
    unverified: Sequence[str] = ()
    _pending: list[Comment] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._cited = {c.n: c.passage for c in self.draft.citations}
        self._figures = [(f, _figure_pattern(f)) for f in self.unverified]
        self._pending = [c for c in self.comments if c.status != CommentStatus.REJECTED]

    def _citation(self, n: int) -> Note | None:
        p = self._cited.get(n)
        if p is None:
            return None
        excerpt = " ".join(p.text.split())
        if len(excerpt) > _EXCERPT:
            excerpt = excerpt[:_EXCERPT] + "……"
        return Note(ASSISTANT, f"引用[{n}]：{source_label(p)}。原文：“{excerpt}”", "助")

    def _sentence_notes(self, sentence: str) -> list[Note]:
        out: list[Note] = []
        for m in L.CITATION_MARK.finditer(sentence):
            note = self._citation(int(m.group(0)[1:-1]))
            if note:
                out.append(note)
        for m in L.PLACEHOLDER_MARK.finditer(sentence):
            what = m.group(1).strip() or "内容"
            out.append(Note(ASSISTANT, f"待补：{what}。请补充后再定稿。", "助"))
        for figure, pattern in self._figures:
            if pattern.search(L.CITATION_MARK.sub("", sentence)):
                out.append(Note(ASSISTANT, f"数字“{figure}”在任务和引用材料中都找不到，需核实。", "助"))
        return out

    def _comment_target(self, c: Comment, sentences: list[str]) -> int:
        if not c.quote.strip():
            return 0
        plain = [L.CITATION_MARK.sub("", s) for s in sentences]
        exact = next((i for i, s in enumerate(plain) if c.quote.strip() in s), None)
        if exact is not None:
            return exact
        return max(range(len(plain)), key=lambda i: overlap(c.quote, plain[i]))

    def notes(self, index: int, sentences: list[str]) -> list[list[Note]]:
        """For each sentence of paragraph ``index``, the notes anchored to it."""
        out = [self._sentence_notes(s) for s in sentences]
        if not sentences:
            return out
        for c in [c for c in self._pending if c.paragraph == index]:
            out[self._comment_target(c, sentences)].append(Note(c.author, c.text))
            self._pending.remove(c)
        return out

    def leftover(self) -> list[Note]:
        """Reviewer comments on the whole draft (or on a paragraph that no longer exists): go on the title."""
        notes = [Note(c.author, c.text + (f"（针对“{c.quote}”）" if c.quote else "")) for c in self._pending]
        self._pending = []
        return notes
