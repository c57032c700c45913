"""The body of an exported draft, written paragraph by paragraph and sentence by sentence, so that a
送审稿 can anchor a Word comment to each sentence and a forced 定稿 can highlight each placeholder."""

from __future__ import annotations

import re
from collections.abc import Sequence

from docx.document import Document as DocxDocument
from docx.enum.text import WD_COLOR_INDEX
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from drafting.docx import layout as L
from drafting.docx import ooxml as X
from drafting.docx.annotate import Annotator, Note
from drafting.domain import Draft

__all__ = ["BodyWriter", "add_comments", "is_salutation"]


def _highlight(run: Run) -> None:
    run.font.highlight_color = WD_COLOR_INDEX.YELLOW


class BodyWriter:
    """Writes the body paragraph by paragraph, sentence by sentence, so that a 送审稿 can anchor
    a comment to each sentence and a forced 定稿 can highlight each placeholder."""

    def __init__(self, doc: DocxDocument, keep_marks: bool, annotator: Annotator | None, highlight: bool) -> None:
        self.doc, self.keep_marks, self.annotator, self.highlight = doc, keep_marks, annotator, highlight
        self.index = 0  # position in draft.paragraphs

    def _clean(self, text: str) -> str:
        return text if self.keep_marks else L.CITATION_MARK.sub("", text)

    def _sentence_runs(self, p: Paragraph, sentence: str, font: str) -> list[Run]:
        runs: list[Run] = []
        text = self._clean(sentence)
        pos = 0
        for m in L.PLACEHOLDER_MARK.finditer(text) if self.highlight else ():
            if m.start() > pos:
                runs.append(X.text_run(p, text[pos : m.start()], font, L.BODY_PT))
            runs.append(X.text_run(p, m.group(0), font, L.BODY_PT))
            _highlight(runs[-1])
            pos = m.end()
        if pos < len(text):
            runs.append(X.text_run(p, text[pos:], font, L.BODY_PT))
        return runs

    def paragraph(self, raw: str, level: int = 0, *, salutation: bool = False) -> None:
        """One paragraph of ``draft.paragraphs`` (``raw`` keeps its [n] marks)."""
        p = self.doc.add_paragraph()
        X.format_paragraph(p, align="both", first_chars=0 if salutation else 2)
        font = {1: L.H1_FONT, 2: L.H2_FONT}.get(level, L.BODY_FONT)
        if font == L.BODY_FONT:
            parts = [(s, font) for s in L.split_sentences(raw)]
        else:
            head, rest = L.split_lead(raw)
            parts = [(head, font)] + [(s, L.BODY_FONT) for s in L.split_sentences(rest)]
        notes = self.annotator.notes(self.index, [t for t, _ in parts]) if self.annotator else [[] for _ in parts]
        for (sentence, f), sentence_notes in zip(parts, notes, strict=True):
            runs = self._sentence_runs(p, sentence, f)
            if runs:
                add_comments(self.doc, runs, sentence_notes)
        self.index += 1

    def write(self, draft: Draft) -> None:
        for section in draft.sections:
            if section.kind == "body" and section.heading:
                heading = section.heading.strip()
                self.paragraph(heading, L.heading_level(self._clean(heading)) or 1)
            for line in section.text.splitlines():
                if not line.strip():
                    continue
                raw = line.strip()
                text = self._clean(raw).strip()
                if not text:  # a line that held only [n] marks
                    self.index += 1
                elif section.kind == "opening" and is_salutation(text):
                    self.paragraph(raw, salutation=True)  # 称呼 flush left, like 主送机关
                else:
                    self.paragraph(raw, L.heading_level(text))


def add_comments(doc: DocxDocument, runs: list[Run], notes: Sequence[Note]) -> None:
    for note in notes:
        doc.add_comment(runs, text=note.text, author=note.author, initials=note.initials)


def is_salutation(text: str) -> bool:
    """ "同志们：" and the like: a short line ending in a colon with no sentence in it."""
    return 0 < len(text) <= 20 and text.endswith(("：", ":")) and not re.search("[。！？；]", text)
