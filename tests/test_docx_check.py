"""check_docx: our own exports conform; a plain python-docx document and targeted breakages do not."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

from drafting.docx.check import check_docx, conforms, format_findings
from drafting.docx.export import export_docx
from drafting.domain import Brief, CheckFinding, Citation, Draft, DraftSection, Outline, Passage
from drafting.errors import ExportError

SECTIONS = [
    DraftSection(heading="", kind="opening", text="同志们：\n为做好有关工作[1]，现说明如下。"),
    DraftSection(
        heading="一、总体要求",
        kind="body",
        text="（一）提高认识。要把思想统一到部署上来。\n（二）压实责任\n1. 抓排查\n（1）全覆盖",
    ),
    DraftSection(heading="二、工作措施", kind="body", text="加强统筹，在2026年12月底前完成。"),
    DraftSection(heading="", kind="closing", text="特此报告。"),
]


def make_draft(
    genre: str, title: str = "关于做好冬春火灾防控工作的通知", sections: list[DraftSection] | None = None, **brief: str
) -> Draft:
    fields = {"speaker": "青山县人民政府", "date": "2026年11月23日", "audience": "各乡镇人民政府"} | brief
    cite = Citation(
        n=1, passage=Passage(chunk_id="a", doc_id="d", title="范文", text="摘录" * 80, section_path=["一、x"])
    )
    return Draft(
        title=title,
        brief=Brief(genre=genre, title=title, **fields),
        outline=Outline(title=title, sections=[]),
        sections=SECTIONS if sections is None else sections,
        citations=[cite],
    )


def rules(findings: list[CheckFinding], severity: str | None = None) -> set[str]:
    return {f.rule for f in findings if severity is None or f.severity == severity}


def mutate(data: bytes, change: Callable) -> bytes:
    doc = Document(io.BytesIO(data))
    change(doc)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def notice() -> bytes:
    return export_docx(make_draft("通知"))


def para(doc, start: str):
    return next(p for p in doc.paragraphs if p.text.startswith(start))


@pytest.mark.parametrize(
    "draft",
    [
        make_draft("通知"),
        make_draft(
            "请示", title="关于申请拨付2026年度农村饮水安全巩固提升工程专项资金的请示", audience="江川市人民政府"
        ),
        make_draft("讲话稿", title="在全县安全生产工作会议暨冬春火灾防控部署会上的讲话", speaker="青山县县长 王某某"),
        make_draft("报告", date=""),
        make_draft("自创文种", audience=""),
        make_draft("意见", sections=[DraftSection(heading="", kind="body", text="只有一段正文，没有标题。")]),
    ],
    ids=["通知", "请示", "讲话稿", "报告", "未知文种", "无标题层次"],
)
def test_our_exports_conform_without_any_finding(draft: Draft):
    for kw in ({}, {"appendix": False}, {"keep_citation_marks": True}):
        findings = check_docx(export_docx(draft, **kw))
        assert findings == [], format_findings(findings)


def test_plain_python_docx_document_fails_for_the_right_reasons():
    doc = Document()
    doc.add_paragraph("关于某事的通知")
    doc.add_paragraph("现将有关事项通知如下。")
    buf = io.BytesIO()
    doc.save(buf)
    findings = check_docx(buf.getvalue())
    assert not conforms(findings)
    expected = {
        "layout.page.size",
        "layout.margin.top",
        "layout.margin.bottom",
        "layout.margin.left",
        "layout.margin.right",
        "layout.grid.type",
        "layout.grid.lines",
        "layout.font.east_asia",
        "layout.title.size",
        "layout.title.align",
        "layout.body.size",
        "layout.body.indent",
        "layout.body.line_spacing",
        "layout.page_number.missing",
        "layout.page_number.odd_even",
    }
    assert expected <= rules(findings, "error")
    top = next(f for f in findings if f.rule == "layout.margin.top")
    assert "37mm" in top.message and "25.4mm" in top.message and top.position == "第1节"
    size = next(f for f in findings if f.rule == "layout.body.size")
    assert size.position == "第2段" and "16磅" in size.message and "11磅" in size.message


def test_margin_tolerance_is_half_a_millimetre(notice: bytes):
    def top(mm: float) -> Callable:
        return lambda d: setattr(d.sections[0], "top_margin", Mm(mm))

    assert "layout.margin.top" not in rules(check_docx(mutate(notice, top(37.4))))
    assert "layout.margin.top" in rules(check_docx(mutate(notice, top(37.8))), "error")
    left = check_docx(mutate(notice, lambda d: setattr(d.sections[0], "left_margin", Mm(25))))
    assert rules(left, "error") == {"layout.margin.left"}


def _set_east_asia(p, font: str, run: int = 0) -> None:
    p.runs[run]._r.rPr.find(qn("w:rFonts")).set(qn("w:eastAsia"), font)


def test_title_fallback_font_warns_other_fonts_fail(notice: bytes):
    songti = check_docx(mutate(notice, lambda d: _set_east_asia(d.paragraphs[0], "华文中宋")))
    assert rules(songti) == {"layout.title.font"} and conforms(songti)
    heiti = check_docx(mutate(notice, lambda d: _set_east_asia(d.paragraphs[0], "黑体")))
    assert rules(heiti, "error") == {"layout.title.font"}


def test_title_must_be_centred_and_22pt(notice: bytes):
    def change(d):
        d.paragraphs[0].alignment = 0
        d.paragraphs[0].runs[0].font.size = Mm(7)

    assert {"layout.title.align", "layout.title.size"} <= rules(check_docx(mutate(notice, change)), "error")


@pytest.mark.parametrize(
    ("start", "wrong", "rule"),
    [
        ("一、总体要求", "仿宋_GB2312", "layout.heading1.font"),
        ("（二）压实责任", "黑体", "layout.heading2.font"),
        ("1. 抓排查", "楷体_GB2312", "layout.heading3.font"),
        ("（1）全覆盖", "黑体", "layout.heading4.font"),
        ("加强统筹", "楷体_GB2312", "layout.body.font"),
    ],
)
def test_wrong_font_per_level_is_an_error(notice: bytes, start: str, wrong: str, rule: str):
    findings = check_docx(mutate(notice, lambda d: _set_east_asia(para(d, start), wrong)))
    assert rules(findings, "error") == {rule}


def test_body_size_indent_spacing_and_bold_headings(notice: bytes):
    def change(d):
        body = para(d, "加强统筹")
        body.runs[0].font.size = Mm(5)
        body._p.pPr.find(qn("w:ind")).set(qn("w:firstLineChars"), "0")
        body._p.pPr.find(qn("w:ind")).set(qn("w:firstLine"), "0")
        body._p.pPr.find(qn("w:spacing")).set(qn("w:line"), "360")
        para(d, "一、总体要求").runs[0].bold = True

    found = rules(check_docx(mutate(notice, change)))
    assert {"layout.body.size", "layout.body.indent", "layout.body.line_spacing", "layout.heading.bold"} <= found


def test_theme_east_asian_font_is_an_error(notice: bytes):
    def change(d):
        rf = para(d, "加强统筹").runs[0]._r.rPr.find(qn("w:rFonts"))
        rf.set(qn("w:eastAsiaTheme"), "minorEastAsia")

    assert rules(check_docx(mutate(notice, change)), "error") == {"layout.font.east_asia"}


def test_formatting_through_styles_is_resolved(notice: bytes):
    """Strip direct run formatting from the body: the Normal style (仿宋_GB2312, 16 pt) still applies."""

    def change(d):
        for p in d.paragraphs:
            if p.text.startswith("加强统筹"):
                for r in p.runs:
                    r._r.remove(r._r.rPr)

    assert check_docx(mutate(notice, change)) == []

    def break_style(d):
        change(d)
        d.styles["Normal"].font.size = Mm(5)

    assert "layout.body.size" in rules(check_docx(mutate(notice, break_style)), "error")


def test_page_number_format_alignment_and_odd_even(notice: bytes):
    def dashes(d):
        for t in d.sections[0].footer.paragraphs[0]._p.iter(qn("w:t")):
            t.text = t.text.replace("—", "-")

    assert "layout.page_number.format" in rules(check_docx(mutate(notice, dashes)), "error")
    found = check_docx(mutate(notice, lambda d: setattr(d.sections[0].footer.paragraphs[0], "alignment", 1)))
    assert rules(found, "error") == {"layout.page_number.align"} and found[0].position == "页脚（奇数页）"
    found = check_docx(mutate(notice, lambda d: setattr(d.sections[0].even_page_footer.paragraphs[0], "alignment", 2)))
    assert rules(found, "error") == {"layout.page_number.align"} and found[0].position == "页脚（偶数页）"
    no_even = check_docx(mutate(notice, lambda d: setattr(d.settings, "odd_and_even_pages_header_footer", False)))
    assert rules(no_even, "error") == {"layout.page_number.odd_even"}

    def small(d):
        for r in d.sections[0].footer.paragraphs[0].runs:
            r.font.size = Mm(3)

    assert "layout.page_number.size" in rules(check_docx(mutate(notice, small)), "error")


def test_document_grid_chars_per_line_is_checked(notice: bytes):
    def change(d):
        d.sections[0]._sectPr.find(qn("w:docGrid")).set(qn("w:charSpace"), "0")

    found = check_docx(mutate(notice, change))
    assert rules(found) == {"layout.grid.chars"} and conforms(found)


def test_identical_findings_are_grouped():
    doc = Document()
    for i in range(12):
        doc.add_paragraph(f"第{i}段正文。")
    buf = io.BytesIO()
    doc.save(buf)
    size = [f for f in check_docx(buf.getvalue()) if f.rule == "layout.body.size"]
    assert len(size) == 1 and size[0].position.endswith("等11处")


def test_reads_a_path_and_rejects_non_docx(tmp_path: Path, notice: bytes):
    path = tmp_path / "a.docx"
    path.write_bytes(notice)
    assert check_docx(path) == []
    with pytest.raises(ExportError, match="无法读取"):
        check_docx(b"not a zip")


def test_conforms_and_format_findings():
    warning = CheckFinding(rule="layout.grid.chars", message="每行应为28字", severity="warning", position="第1节")
    error = CheckFinding(
        rule="layout.margin.top", message="上边距应为37mm，实为25.4mm", severity="error", position="第1节"
    )
    assert conforms([]) and conforms([warning]) and not conforms([warning, error])
    text = format_findings([warning, error])
    assert text.splitlines()[1].startswith("[错误] layout.margin.top（第1节）上边距应为37mm")
    assert "不符合" in text.splitlines()[-1]
    assert "通过" in format_findings([])
