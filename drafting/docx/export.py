"""Export a draft as a GB/T 9704-2012 .docx (python-docx, in memory) or as Markdown.

Two kinds (:class:`ExportKind`): 定稿, the document as it is read out or issued (no [n] marks, no
appendix, 〔待补：…〕 placeholders refused unless forced, then highlighted); 送审稿, the same document
for the leader or 科长 who checks it, with every citation, placeholder, reviewer comment and unverified
figure as a Word comment (批注) on its sentence and "送审稿" in the header. Neither contains a file path.

The layout numbers live in :mod:`drafting.docx_layout`; :mod:`drafting.docx_check` verifies them.
What could not be applied (no date, an unknown genre, a title too long for three lines ...) is
listed by :func:`export_notes` in Chinese and logged when exporting.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.text.paragraph import Paragraph

from drafting.docx import layout as L
from drafting.docx import ooxml as X
from drafting.docx.annotate import REVIEW_HEADER, Annotator, source_label
from drafting.docx.body import BodyWriter, add_comments
from drafting.docx.layout import split_lead
from drafting.domain import GENRES, CheckFinding, Comment, Draft
from drafting.errors import ExportError
from drafting.textclean import clean_model

__all__ = [
    "ExportKind",
    "PlaceholderError",
    "export_docx",
    "export_markdown",
    "export_notes",
    "placeholders",
    "Preflight",
    "preflight",
    "split_lead",
]

logger = logging.getLogger(__name__)

_EXCERPT_CHARS = 120
_SIGNATURE_GAP_LINES = 2  # room for the seal above 发文机关署名 and 成文日期


class ExportKind(str, Enum):
    FINAL = "定稿"
    REVIEW = "送审稿"

    @classmethod
    def of(cls, value: str | ExportKind) -> ExportKind:
        """ "定稿"/"final" or "送审稿"/"review"."""
        if isinstance(value, ExportKind):
            return value
        v = value.strip().lower()
        for kind in cls:
            if v in (kind.value, kind.name.lower()):
                return kind
        raise ExportError(f"导出类型只能是“定稿”或“送审稿”，实为“{value}”")


class PlaceholderError(ExportError):
    """The draft still holds 〔待补：…〕 placeholders; a 定稿 is refused unless forced."""

    def __init__(self, found: list[str]) -> None:
        self.placeholders = found
        listed = "\n".join(f"  {i}. {p}" for i, p in enumerate(found, 1))
        super().__init__(
            f"稿子里还有{len(found)}处待补内容，不能导出定稿：\n{listed}\n"
            "请补齐后再导出；确需先导出，可强制导出（待补处将以黄色突出显示），或导出送审稿。"
        )


def placeholders(draft: Draft) -> list[str]:
    """Every 〔待补：…〕 in the title and body, in order, each once."""
    text = _title(draft) + "\n" + draft.body_text
    return list(dict.fromkeys(m.group(0) for m in L.PLACEHOLDER_MARK.finditer(text)))


@dataclass(frozen=True)
class Preflight:
    """What the writer should see before a 定稿 leaves: genre-rule findings (errors first), the
    placeholders still open, and what the layout could not apply. The CLI and the UI show the same."""

    findings: list[CheckFinding]
    placeholders: list[str]
    notes: list[str]

    @property
    def errors(self) -> list[CheckFinding]:
        return [f for f in self.findings if f.severity == "error"]


def preflight(draft: Draft) -> Preflight:
    from drafting.checks.lint import lint_draft

    order = {"error": 0, "warning": 1, "info": 2}
    findings = sorted(lint_draft(draft), key=lambda f: order.get(f.severity, 3))
    return Preflight(findings, placeholders(draft), export_notes(draft))


def _known_genre(genre: str) -> bool:
    return genre in GENRES or genre in L.OFFICIAL_GENRES or genre in L.NON_GENRES or L.is_spoken(genre)


def _title(draft: Draft) -> str:
    return (draft.title or draft.brief.title).strip()


def export_notes(draft: Draft) -> list[str]:
    """What the export could not apply as asked, in Chinese (empty when everything fit)."""
    notes: list[str] = []
    b = draft.brief
    genre = b.genre.strip()
    title = _title(draft)
    if not _known_genre(genre):
        notes.append(f"文种“{genre or '（空）'}”无法识别，已按公文（报告类）格式导出。")
    if not title:
        notes.append("未填写标题，标题行留空。")
    elif L.text_width(title) > L.TITLE_MAX_CHARS * L.TITLE_MAX_LINES:
        notes.append(f"标题过长（约{L.text_width(title):.0f}字），三行排不下，已整行导出由Word自动换行，建议压缩标题。")
    body = [s for s in draft.sections if s.kind == "body"]
    if not any(s.heading.strip() for s in body) and not any(
        L.heading_level(p) for s in body for p in s.text.splitlines()
    ):
        notes.append("正文没有层次标题（一、（一）1.（1）），已全部按正文段落导出。")
    for i, s in enumerate(body, 1):
        if s.heading.strip() and not L.heading_level(s.heading):
            notes.append(f"第{i}部分标题“{s.heading.strip()}”未编号，已按一级标题（黑体）排版。")
    if L.is_spoken(genre):
        if not b.speaker.strip():
            notes.append("未填写讲话人，已省略署名行。")
        if not b.date.strip():
            notes.append("未填写讲话日期，已省略日期行。")
        elif L.format_cn_date(b.date) is None:
            notes.append(f"日期“{b.date}”无法识别，已按原样排在日期行。")
    else:
        if not b.audience.strip():
            notes.append("未填写主送机关，已省略主送机关行。")
        if not b.speaker.strip():
            notes.append("未填写发文机关，落款只保留成文日期。")
        if not b.date.strip():
            notes.append(f"未填写成文日期，已使用今天的日期（{L.format_cn_date()}）。")
        elif L.format_cn_date(b.date) is None:
            notes.append(f"日期“{b.date}”无法识别，成文日期已改用今天（{L.format_cn_date()}）。")
    return notes


# --- low-level XML helpers -------------------------------------------------------------------


def _para(doc: DocxDocument, runs: Iterable[tuple[str, str]], *, pt: float = L.BODY_PT, **fmt: object) -> Paragraph:
    p = doc.add_paragraph()
    X.format_paragraph(p, pt=pt, **fmt)  # type: ignore[arg-type]
    for text, font in runs:
        if text:
            X.text_run(p, text, font, pt)
    return p


def _blank(doc: DocxDocument) -> None:
    _para(doc, [], align="both")


# --- document setup ---------------------------------------------------------------------------


def _setup(doc: DocxDocument) -> None:
    styles = doc.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    X.set_fonts(rpr_default, L.BODY_FONT)
    X.set_size(rpr_default, L.BODY_PT)
    lang = rpr_default.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:eastAsia"), "zh-CN")
    # LibreOffice derives the character grid from the Normal style, not from docDefaults.
    normal = doc.styles["Normal"].element.get_or_add_rPr()
    X.set_fonts(normal, L.BODY_FONT)
    X.set_size(normal, L.BODY_PT)
    spacing = defaults.find(qn("w:pPrDefault")).find(qn("w:pPr")).find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), str(L.LINE_PITCH_TWIPS))
    spacing.set(qn("w:lineRule"), "exact")

    section = doc.sections[0]
    section.page_width, section.page_height = Mm(L.PAGE_WIDTH_MM), Mm(L.PAGE_HEIGHT_MM)
    section.top_margin, section.bottom_margin = Mm(L.MARGIN_TOP_MM), Mm(L.MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(L.MARGIN_LEFT_MM), Mm(L.MARGIN_RIGHT_MM)
    section.header_distance, section.footer_distance = Mm(L.HEADER_DISTANCE_MM), Mm(L.FOOTER_DISTANCE_MM)
    grid = section._sectPr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        section._sectPr.append(grid)
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(L.LINE_PITCH_TWIPS))
    grid.set(qn("w:charSpace"), str(L.CHAR_SPACE))

    doc.settings.odd_and_even_pages_header_footer = True
    X.page_number_paragraph(section.footer.paragraphs[0], odd=True)
    X.page_number_paragraph(section.even_page_footer.paragraphs[0], odd=False)
    X.register_font_fallbacks(doc)


# --- content ----------------------------------------------------------------------------------


def _write_signature(doc: DocxDocument, issuer: str, date_text: str) -> None:
    """Sealed layout (7.3.5.1): 成文日期 4 characters from the right, 署名 centred over it."""
    w_issuer, w_date = L.text_width(issuer), L.text_width(date_text)
    centre = max(4 + w_date / 2, 2 + w_issuer / 2)
    # Keep the last line of text with the signature: 9704 does not allow a page holding only 落款.
    if doc.paragraphs:
        doc.paragraphs[-1].paragraph_format.keep_with_next = True
    for _ in range(_SIGNATURE_GAP_LINES):
        _blank(doc)
        doc.paragraphs[-1].paragraph_format.keep_with_next = True
    if issuer:
        p = _para(doc, [(issuer, L.BODY_FONT)], align="right", right_chars=round(centre - w_issuer / 2, 1))
        p.paragraph_format.keep_with_next = True
    _para(doc, [(date_text, L.BODY_FONT)], align="right", right_chars=round(centre - w_date / 2, 1))


def _write_appendix(doc: DocxDocument, draft: Draft) -> None:
    """送审稿 only: the cited sources by title, issuing body and date (never a file path)."""
    head = _para(doc, [("附件：引用来源", L.H1_FONT)], align="left")
    head.paragraph_format.page_break_before = True
    for c in draft.citations:
        _para(doc, [(f"[{c.n}] {source_label(c.passage)}", L.H1_FONT)], align="left", pt=L.APPENDIX_PT, line=480)
        excerpt = " ".join(c.passage.text.split())
        if len(excerpt) > _EXCERPT_CHARS:
            excerpt = excerpt[:_EXCERPT_CHARS] + "……"
        _para(doc, [(excerpt, L.BODY_FONT)], align="both", first_chars=2, pt=L.APPENDIX_PT, line=480)


def _review_header(doc: DocxDocument) -> None:
    section = doc.sections[0]
    for header in (section.header, section.even_page_header):
        p = header.paragraphs[0]
        X.format_paragraph(p, align="left", line=None)
        X.text_run(p, REVIEW_HEADER, L.H1_FONT, L.BODY_PT)


def export_docx(
    draft: Draft,
    *,
    kind: ExportKind | str = ExportKind.FINAL,
    force: bool = False,
    comments: Sequence[Comment] = (),
    appendix: bool = False,
    keep_citation_marks: bool = False,
) -> bytes:
    """The draft as a .docx laid out per GB/T 9704-2012; returns the file's bytes (writes nothing).

    ``kind`` 定稿 refuses a draft with 〔待补：…〕 placeholders (:class:`PlaceholderError`) unless
    ``force``, which highlights them. 送审稿 adds a Word comment per citation, placeholder,
    unverified figure and reviewer comment (``comments``), and "送审稿" in the header; ``appendix``
    (送审稿 only, for compatibility with older callers) also lists the cited sources at the end.
    """
    draft = clean_model(draft)  # NUL, control characters, lone surrogates cannot go into XML
    kind = ExportKind.of(kind)
    if kind is ExportKind.FINAL and not force:
        found = placeholders(draft)
        if found:
            raise PlaceholderError(found)
    for note in export_notes(draft):
        logger.info("export: %s", note)
    annotator = None
    if kind is ExportKind.REVIEW:
        from drafting.writing.review import unverified_numbers  # local: pulls in the model-call helpers

        annotator = Annotator(draft, comments, unverified_numbers(draft))
    b = draft.brief
    try:
        doc = Document()
        _setup(doc)
        title = _title(draft)
        title_p = _para(doc, [], align="center", pt=L.TITLE_PT)
        # Off the grid: a 22 pt line would otherwise take two grid lines in LibreOffice and WPS.
        off_grid = OxmlElement("w:snapToGrid")
        off_grid.set(qn("w:val"), "0")
        title_p._p.get_or_add_pPr().get_or_add_spacing().addprevious(off_grid)
        title_runs = []
        for i, line in enumerate(L.balance_title(title) if title else [""]):
            if i:
                title_p.add_run().add_break()
            title_runs.append(X.text_run(title_p, line, L.TITLE_FONT, L.TITLE_PT))
        if L.is_spoken(b.genre.strip()):
            lines = [re.sub(r"\s+", "\u3000", b.speaker.strip())]  # 职务　姓名: a full-width space
            if b.occasion.strip() and b.occasion.strip() not in title:
                lines.append(b.occasion.strip())
            if b.date.strip():
                lines.append(f"（{L.format_cn_date(b.date) or b.date.strip()}）")
            for line in filter(None, lines):
                _para(doc, [(line, L.KAI_FONT)], align="center")
            _blank(doc)
        else:
            _blank(doc)
            if b.audience.strip():
                addressee = b.audience.strip().rstrip("：:") + "："
                _para(doc, [(addressee, L.BODY_FONT)], align="both")
        BodyWriter(doc, keep_citation_marks, annotator, highlight=force).write(draft)
        if not L.is_spoken(b.genre.strip()):
            _write_signature(doc, b.speaker.strip(), L.format_cn_date(b.date) or L.format_cn_date() or "")
        if annotator is not None:
            add_comments(doc, title_runs, annotator.leftover())
            _review_header(doc)
            if appendix and draft.citations:
                _write_appendix(doc, draft)
        doc.core_properties.title = title
        doc.core_properties.version = str(draft.version)
        doc.core_properties.author = ""
        doc.core_properties.comments = ""
        buf = io.BytesIO()
        doc.save(buf)
    except (ValueError, KeyError, AttributeError) as exc:  # python-docx / lxml failures
        logger.exception("docx export failed")
        raise ExportError(f"导出Word文档失败：{exc}") from exc
    return buf.getvalue()


def export_markdown(draft: Draft) -> str:
    """The draft as Markdown: # title, ## / ### headings, citations as footnotes [^n]."""
    draft = clean_model(draft)
    b = draft.brief
    out = [f"# {_title(draft)}", ""]
    if L.is_spoken(b.genre.strip()):
        meta = [b.speaker.strip(), b.occasion.strip()]
        if b.date.strip():
            meta.append(f"（{L.format_cn_date(b.date) or b.date.strip()}）")
        out += [f"*{m}*  " for m in meta if m] + [""]
    elif b.audience.strip():
        out += [b.audience.strip().rstrip("：:") + "：", ""]

    def cite(text: str) -> str:
        return re.sub(r"\[(\d{1,3})\]", r"[^\1]", text)

    for section in draft.sections:
        if section.kind == "body" and section.heading.strip():
            out += [f"## {cite(section.heading.strip())}", ""]
        for line in section.text.splitlines():
            text = line.strip()
            if not text:
                continue
            level = L.heading_level(text)
            if level in (1, 2, 3) and not split_lead(text)[1]:
                out += [f"{'#' * (level + 1)} {cite(text)}", ""]
            else:
                out += [cite(text), ""]
    if not L.is_spoken(b.genre.strip()):
        out += [x for x in (b.speaker.strip(), L.format_cn_date(b.date) or L.format_cn_date() or "") if x]
        out.append("")
    if draft.citations:
        out += ["---", ""]
        for c in draft.citations:
            p = c.passage
            where = f"（{p.section}）" if p.section_path else ""
            excerpt = " ".join(p.text.split())[:_EXCERPT_CHARS]
            out.append(f"[^{c.n}]: 《{p.title}》{where}：{excerpt}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"
