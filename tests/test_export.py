"""export_docx / export_markdown: round-trip the .docx with python-docx and assert the XML itself."""

from __future__ import annotations

import io
from datetime import date

import pytest
from docx import Document
from docx.oxml.ns import qn

from drafting.docx import layout as L
from drafting.docx.export import export_docx, export_markdown, export_notes, split_lead
from drafting.domain import Brief, Citation, Draft, DraftSection, Outline, Passage

LONG_TITLE = "关于申请拨付2026年度农村饮水安全巩固提升工程专项资金的请示"


def make_draft(
    genre: str = "请示",
    *,
    title: str = LONG_TITLE,
    sections: list[DraftSection] | None = None,
    citations: bool = True,
    **brief: str,
) -> Draft:
    fields = {"speaker": "青山县人民政府", "date": "2026-11-23", "audience": "江川市人民政府"} | brief
    b = Brief(genre=genre, title=title, **fields)
    if sections is None:
        sections = [
            DraftSection(heading="", kind="opening", text="为保障农村群众饮水安全[1]，现请示如下。"),
            DraftSection(
                heading="一、基本情况",
                kind="body",
                text="（一）工程现状。全县共有农村供水工程128处[2]。\n（二）存在问题\n1. 管网老化\n（1）漏损率高",
            ),
            DraftSection(heading="二、申请事项", kind="body", text="恳请拨付专项资金500万元[1][2]。"),
            DraftSection(heading="", kind="closing", text="妥否，请批示。"),
        ]
    cites = (
        [
            Citation(
                n=1,
                passage=Passage(
                    chunk_id="a",
                    doc_id="d1",
                    title="范文甲",
                    text="甲" * 300,
                    section_path=["一、总体要求"],
                    source="corpus/a.txt",
                ),
            ),
            Citation(n=2, passage=Passage(chunk_id="b", doc_id="d2", title="范文乙", text="乙文摘录")),
        ]
        if citations
        else []
    )
    return Draft(title=title, brief=b, outline=Outline(title=title, sections=[]), sections=sections, citations=cites)


def speech() -> Draft:
    return make_draft(
        "讲话稿",
        title="在全县安全生产工作会议上的讲话",
        speaker="青山县县长 王某某",
        citations=False,
        occasion="全县安全生产工作会议",
        date="2026年11月23日",
        audience="全县干部",
        sections=[
            DraftSection(heading="", kind="opening", text="同志们：\n今天召开会议。"),
            DraftSection(heading="一、压实责任", kind="body", text="要压实责任。"),
            DraftSection(heading="", kind="closing", text="谢谢大家！"),
        ],
    )


def load(draft: Draft, **kw: object):
    return Document(io.BytesIO(export_docx(draft, **kw)))


def text_paras(doc):
    return [p for p in doc.paragraphs if p.text.strip()]


def find(doc, start: str):
    return next(p for p in doc.paragraphs if p.text.startswith(start))


def fonts(run) -> dict[str, str]:
    rf = run._r.rPr.find(qn("w:rFonts"))
    return {k: rf.get(qn(f"w:{k}")) for k in ("eastAsia", "ascii", "hAnsi")}


def size(run) -> int:
    return int(run._r.rPr.find(qn("w:sz")).get(qn("w:val")))


def ind(p, name: str) -> str | None:
    return p._p.pPr.find(qn("w:ind")).get(qn(f"w:{name}"))


def jc(p) -> str:
    return p._p.pPr.find(qn("w:jc")).get(qn("w:val"))


def test_page_is_a4_with_gb9704_margins():
    s = load(make_draft()).sections[0]
    assert round(s.page_width.mm) == 210 and round(s.page_height.mm) == 297
    for actual, expected in ((s.top_margin, 37), (s.bottom_margin, 35), (s.left_margin, 28), (s.right_margin, 26)):
        assert abs(actual.mm - expected) < 0.1


def test_document_grid_is_22_lines_of_28_chars():
    grid = load(make_draft()).sections[0]._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars"
    assert grid.get(qn("w:linePitch")) == "579"
    assert grid.get(qn("w:charSpace")) == "-849"


def test_title_is_2hao_xiaobiaosong_centred_and_balanced():
    doc = load(make_draft())
    title = text_paras(doc)[0]
    assert jc(title) == "center"
    runs = [r for r in title.runs if r._r.find(qn("w:t")) is not None]
    assert all(fonts(r)["eastAsia"] == "方正小标宋简体" and size(r) == 44 for r in runs)
    lines = [r.text for r in runs]
    assert len(lines) == 2 and len(title._p.findall(f".//{qn('w:br')}")) == 1
    assert "".join(lines) == LONG_TITLE
    widths = [L.text_width(x) for x in lines]
    assert max(widths) <= L.TITLE_MAX_CHARS and abs(widths[0] - widths[1]) <= 3


def test_short_title_stays_on_one_line():
    title = text_paras(load(speech()))[0]
    assert title.text == "在全县安全生产工作会议上的讲话" and not title._p.findall(f".//{qn('w:br')}")


def test_balance_title_never_leaves_an_orphan_and_never_exceeds_three_lines():
    for t in (
        LONG_TITLE,
        "关于进一步做好2026年冬春季节森林草原防灭火和安全生产隐患排查整治工作的通知",
        "关于" + "甲" * 19 + "的通知",
    ):
        lines = L.balance_title(t)
        assert "".join(lines) == t and 2 <= len(lines) <= 3
        assert min(len(x) for x in lines) >= 3 and max(L.text_width(x) for x in lines) <= 20
    assert L.balance_title("甲" * 70) == ["甲" * 70]


def test_overlong_title_exports_and_is_noted():
    d = make_draft(title="关于" + "很长的事由" * 14 + "的请示")
    doc = load(d)
    assert text_paras(doc)[0].text == d.title
    assert any("标题过长" in n for n in export_notes(d))


def test_body_paragraph_fangsong_3hao_indented_exact_spacing():
    p = find(load(make_draft()), "恳请拨付")
    run = p.runs[0]
    assert fonts(run) == {"eastAsia": "仿宋_GB2312", "ascii": "Times New Roman", "hAnsi": "Times New Roman"}
    assert size(run) == 32
    assert ind(p, "firstLineChars") == "200" and ind(p, "firstLine") == "640"
    spacing = p._p.pPr.find(qn("w:spacing"))
    assert spacing.get(qn("w:line")) == "579" and spacing.get(qn("w:lineRule")) == "exact"
    assert jc(p) == "both"


@pytest.mark.parametrize(
    ("start", "font"),
    [
        ("一、基本情况", "黑体"),
        ("（二）存在问题", "楷体_GB2312"),
        ("1. 管网老化", "仿宋_GB2312"),
        ("（1）漏损率高", "仿宋_GB2312"),
    ],
)
def test_heading_fonts_per_level_not_bold_and_indented(start, font):
    p = find(load(make_draft()), start)
    assert fonts(p.runs[0])["eastAsia"] == font and size(p.runs[0]) == 32
    assert p.runs[0].bold is False
    assert ind(p, "firstLineChars") == "200"


def test_inline_lead_heading_only_the_lead_sentence_is_kaiti():
    p = find(load(make_draft()), "（一）工程现状")
    assert [r.text for r in p.runs] == ["（一）工程现状。", "全县共有农村供水工程128处。"]
    assert fonts(p.runs[0])["eastAsia"] == "楷体_GB2312" and fonts(p.runs[1])["eastAsia"] == "仿宋_GB2312"
    assert split_lead("（二）存在问题") == ("（二）存在问题", "")


def test_defaults_carry_the_east_asian_font_too():
    doc = load(make_draft())
    rfonts = doc.styles.element.find(qn("w:docDefaults")).find(f".//{qn('w:rFonts')}")
    assert rfonts.get(qn("w:eastAsia")) == "仿宋_GB2312" and rfonts.get(qn("w:eastAsiaTheme")) is None
    normal = doc.styles["Normal"].element.find(f".//{qn('w:rFonts')}")
    assert normal.get(qn("w:eastAsia")) == "仿宋_GB2312"


def test_page_numbers_odd_right_even_left_with_em_dashes():
    doc = load(make_draft())
    assert doc.settings.odd_and_even_pages_header_footer is True
    s = doc.sections[0]
    odd, even = s.footer.paragraphs[0], s.even_page_footer.paragraphs[0]
    for p in (odd, even):
        text, instr = _footer_text_of(p)
        assert text == "— 1 —" and instr.strip() == "PAGE"
        assert all(fonts(r)["eastAsia"] == "宋体" and size(r) == 28 for r in p.runs if r.text)
    assert jc(odd) == "right" and ind(odd, "rightChars") == "100" and ind(odd, "right") == "280"
    assert jc(even) == "left" and ind(even, "leftChars") == "100" and ind(even, "left") == "280"


def _footer_text_of(p) -> tuple[str, str]:
    return p.text, "".join(x.text for x in p._p.iter(qn("w:instrText")))


def test_qingshi_has_addressee_flush_left_and_signature_with_arabic_date():
    doc = load(make_draft(), appendix=False)
    paras = text_paras(doc)
    addressee = paras[1]
    assert addressee.text == "江川市人民政府：" and ind(addressee, "firstLineChars") == "0"
    issuer, issued = paras[-2], paras[-1]
    assert issuer.text == "青山县人民政府" and issued.text == "2026年11月23日"
    assert jc(issuer) == "right" and jc(issued) == "right"
    assert ind(issued, "rightChars") == "400"  # 成文日期右空四字
    # 署名 centred over the date: 7 characters wide vs 7 -> the same right indent
    assert ind(issuer, "rightChars") == "400"


def test_signature_is_kept_with_the_last_line_of_text():
    paras = load(make_draft(), appendix=False).paragraphs
    closing = next(i for i, p in enumerate(paras) if p.text == "妥否，请批示。")
    assert all(p.paragraph_format.keep_with_next for p in paras[closing:-1])


def test_missing_date_uses_today_without_zero_padding_and_notes_it():
    d = make_draft(date="")
    today = date.today()
    assert text_paras(load(d, appendix=False))[-1].text == f"{today.year}年{today.month}月{today.day}日"
    assert any("今天" in n for n in export_notes(d))
    assert L.format_cn_date("2026-01-05") == "2026年1月5日"
    assert L.format_cn_date("2026年01月05日") == "2026年1月5日"


def test_speech_has_speaker_and_date_lines_in_kaiti_and_no_signature():
    doc = load(speech())
    paras = text_paras(doc)
    speaker, when = paras[1], paras[2]
    assert speaker.text == "青山县县长\u3000王某某" and when.text == "（2026年11月23日）"
    for p in (speaker, when):
        assert jc(p) == "center" and fonts(p.runs[0])["eastAsia"] == "楷体_GB2312"
    assert paras[3].text == "同志们：" and ind(paras[3], "firstLineChars") == "0"
    assert paras[-1].text == "谢谢大家！"
    assert not any(p.text.endswith("：") and p.text.startswith("全县干部") for p in paras)


def test_citation_marks_removed_unless_kept():
    body = "\n".join(p.text for p in load(make_draft(), appendix=False).paragraphs)
    assert "[1]" not in body and "[2]" not in body and "恳请拨付专项资金500万元。" in body
    kept = "\n".join(p.text for p in load(make_draft(), appendix=False, keep_citation_marks=True).paragraphs)
    assert "恳请拨付专项资金500万元[1][2]。" in kept


def test_appendix_only_in_review_copy_names_sources_without_paths():
    doc = load(make_draft(), kind="送审稿", appendix=True)
    head = find(doc, "附件：引用来源")
    assert head.paragraph_format.page_break_before is True
    texts = [p.text for p in doc.paragraphs]
    after = texts[texts.index("附件：引用来源") :]
    assert any(t.startswith("[1] 《范文甲》 一、总体要求") for t in after)
    assert any(t.startswith("[2] 《范文乙》") for t in after)
    excerpt = next(t for t in after if t.startswith("甲"))
    assert excerpt.endswith("……") and len(excerpt) < 130
    assert size(find(doc, "[1] 《范文甲》").runs[0]) == 28
    assert not any("corpus/a.txt" in t or "来源：" in t for t in texts)


def test_final_copy_never_has_an_appendix():
    for d, kw in ((make_draft(), {"appendix": True}), (make_draft(), {}), (make_draft(citations=False), {})):
        assert not any(p.text.startswith("附件") for p in load(d, **kw).paragraphs)


def test_unknown_genre_exports_as_report_style_with_a_note():
    d = make_draft("随便什么", title="关于某事的说明")
    paras = text_paras(load(d, appendix=False))
    assert paras[1].text == "江川市人民政府：" and paras[-1].text == "2026年11月23日"
    assert any("随便什么" in n for n in export_notes(d))


def test_text_without_headings_exports_and_is_noted():
    d = make_draft(
        "通知",
        title="关于做好冬季防火工作的通知",
        sections=[DraftSection(heading="", kind="body", text="第一段。\n第二段。")],
    )
    doc = load(d)
    assert [p.text for p in text_paras(doc)][2:4] == ["第一段。", "第二段。"]
    assert any("没有层次标题" in n for n in export_notes(d))
    assert export_notes(make_draft()) == []


def test_unnumbered_heading_is_set_in_heiti_and_noted():
    d = make_draft(sections=[DraftSection(heading="基本情况", kind="body", text="内容。")])
    assert fonts(find(load(d), "基本情况").runs[0])["eastAsia"] == "黑体"
    assert any("未编号" in n for n in export_notes(d))


def test_markdown_has_title_headings_and_footnotes():
    md = export_markdown(make_draft())
    assert md.startswith(f"# {LONG_TITLE}\n")
    assert "\n## 一、基本情况\n" in md and "\n### （二）存在问题\n" in md and "\n#### 1. 管网老化\n" in md
    assert "江川市人民政府：" in md and "恳请拨付专项资金500万元[^1][^2]。" in md
    assert "[^1]: 《范文甲》（一、总体要求）：" in md and "[^2]: 《范文乙》：乙文摘录" in md
    assert md.rstrip().endswith("[^2]: 《范文乙》：乙文摘录")
    speech_md = export_markdown(speech())
    assert "*青山县县长 王某某*" in speech_md and "江川" not in speech_md
