"""Export a draft as a GB/T 9704-2012 .docx (python-docx, in memory) or as Markdown.

The layout numbers live in :mod:`drafting.docx_layout`; :mod:`drafting.docx_check` verifies them.
What could not be applied (no date, an unknown genre, a title too long for three lines ...) is
listed by :func:`export_notes` in Chinese and logged when exporting.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterable

from docx import Document
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm
from docx.text.paragraph import Paragraph

from drafting import docx_layout as L
from drafting import docx_xml as X
from drafting.domain import GENRES, Draft
from drafting.errors import ExportError
from drafting.textclean import clean_model

__all__ = ["export_docx", "export_markdown", "export_notes", "split_lead"]

logger = logging.getLogger(__name__)

_EXCERPT_CHARS = 120
_SIGNATURE_GAP_LINES = 2  # room for the seal above 发文机关署名 and 成文日期


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


def _add_run(p: Paragraph, text: str, font: str, pt: float, latin: str = L.LATIN_FONT) -> None:
    run = p.add_run(text)
    X.set_fonts(run._r.get_or_add_rPr(), font, latin)
    X.set_size(run._r.get_or_add_rPr(), pt)
    run.font.bold = False


def _para(doc: DocxDocument, runs: Iterable[tuple[str, str]], *, pt: float = L.BODY_PT, **fmt: object) -> Paragraph:
    p = doc.add_paragraph()
    X.format_paragraph(p, pt=pt, **fmt)  # type: ignore[arg-type]
    for text, font in runs:
        if text:
            _add_run(p, text, font, pt)
    return p


def _blank(doc: DocxDocument) -> None:
    _para(doc, [], align="both")


def split_lead(paragraph: str) -> tuple[str, str]:
    """A heading paragraph's heading part and the prose that follows on the same line.

    "（一）健全责任体系。各乡镇要……" -> ("（一）健全责任体系。", "各乡镇要……");
    a stand-alone heading comes back whole with an empty rest.
    """
    m = re.match(r"^(.+?[。！？])(.+)$", paragraph)
    if m and m.group(2).strip():
        return m.group(1), m.group(2)
    return paragraph, ""


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


def _clean(text: str, keep_marks: bool) -> str:
    return text if keep_marks else L.CITATION_MARK.sub("", text)


def _heading_runs(text: str, level: int) -> list[tuple[str, str]]:
    font = {1: L.H1_FONT, 2: L.H2_FONT}.get(level, L.BODY_FONT)
    if font == L.BODY_FONT:
        return [(text, font)]
    head, rest = split_lead(text)
    return [(head, font), (rest, L.BODY_FONT)]


def _body_paragraph(doc: DocxDocument, text: str, level: int = 0) -> None:
    runs = _heading_runs(text, level) if level else [(text, L.BODY_FONT)]
    _para(doc, runs, align="both", first_chars=2)


def _is_salutation(text: str) -> bool:
    """ "同志们：" and the like: a short line ending in a colon with no sentence in it."""
    return 0 < len(text) <= 20 and text.endswith(("：", ":")) and not re.search("[。！？；]", text)


def _write_body(doc: DocxDocument, draft: Draft, keep_marks: bool) -> None:
    for section in draft.sections:
        if section.kind == "body" and section.heading.strip():
            heading = _clean(section.heading.strip(), keep_marks)
            _body_paragraph(doc, heading, L.heading_level(heading) or 1)
        for line in section.text.splitlines():
            text = _clean(line.strip(), keep_marks).strip()
            if section.kind == "opening" and _is_salutation(text):
                _para(doc, [(text, L.BODY_FONT)], align="both")  # 称呼 flush left, like 主送机关
            elif text:
                _body_paragraph(doc, text, L.heading_level(text))


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
    head = _para(doc, [("附件：参考范文", L.H1_FONT)], align="left")
    head.paragraph_format.page_break_before = True
    for c in draft.citations:
        p = c.passage
        where = f"（{p.section}）" if p.section_path else ""
        _para(doc, [(f"[{c.n}] 《{p.title}》{where}", L.H1_FONT)], align="left", pt=L.APPENDIX_PT, line=480)
        excerpt = " ".join(p.text.split())
        if len(excerpt) > _EXCERPT_CHARS:
            excerpt = excerpt[:_EXCERPT_CHARS] + "……"
        _para(doc, [(excerpt, L.BODY_FONT)], align="both", first_chars=2, pt=L.APPENDIX_PT, line=480)
        if p.source:
            _para(doc, [(f"来源：{p.source}", L.BODY_FONT)], align="both", first_chars=2, pt=L.APPENDIX_PT, line=480)


def export_docx(draft: Draft, *, appendix: bool = True, keep_citation_marks: bool = False) -> bytes:
    """The draft as a .docx laid out per GB/T 9704-2012; returns the file's bytes (writes nothing)."""
    draft = clean_model(draft)  # NUL, control characters, lone surrogates cannot go into XML
    for note in export_notes(draft):
        logger.info("export: %s", note)
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
        for i, line in enumerate(L.balance_title(title) if title else [""]):
            if i:
                title_p.add_run().add_break()
            _add_run(title_p, line, L.TITLE_FONT, L.TITLE_PT)
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
        _write_body(doc, draft, keep_citation_marks)
        if not L.is_spoken(b.genre.strip()):
            _write_signature(doc, b.speaker.strip(), L.format_cn_date(b.date) or L.format_cn_date() or "")
        if appendix and draft.citations:
            _write_appendix(doc, draft)
        doc.core_properties.title = title
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
