"""Check any .docx against the GB/T 9704-2012 layout that :func:`drafting.export.export_docx` produces.

Properties are resolved the way Word resolves them (direct formatting, then the character style,
the paragraph style chain, then docDefaults), so a document formatted through styles passes as well
as one formatted directly. Paragraphs are classified by content: the first non-empty paragraph is
the title, numbered paragraphs are headings (一、/（一）/1./（1）), right-aligned ones 落款, a short
line ending in "：" the 主送机关 or 称呼, everything from a "附件" paragraph on the appendix.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docx import Document
from docx.opc.exceptions import PackageNotFoundError

from drafting.docx import layout as L
from drafting.docx.ooxml import StyleResolver, field_text, w
from drafting.domain import CheckFinding, Severity
from drafting.errors import ExportError

__all__ = ["check_docx", "conforms", "format_findings"]

_SEVERITY = {"error": "错误", "warning": "警告", "info": "提示"}
_LEVEL_FAMILY = {1: "黑体", 2: "楷体", 3: "仿宋", 4: "仿宋"}
_LEVEL_NAME = {1: "一级标题（一、）", 2: "二级标题（（一））", 3: "三级标题（1.）", 4: "四级标题（（1））"}
_MARGINS = (
    ("top", "上", L.MARGIN_TOP_MM),
    ("bottom", "下", L.MARGIN_BOTTOM_MM),
    ("left", "左", L.MARGIN_LEFT_MM),
    ("right", "右", L.MARGIN_RIGHT_MM),
)


@dataclass
class _Collector:
    """Groups identical findings so that 40 mis-set paragraphs make one line, not 40."""

    groups: dict[tuple[str, str, str], tuple[str, list[str]]] = field(default_factory=dict)

    def add(self, rule: str, severity: str, message: str, position: str) -> None:
        key = (rule, severity, message)
        self.groups.setdefault(key, (message, []))[1].append(position)

    def findings(self) -> list[CheckFinding]:
        out = []
        for (rule, severity, message), (_, positions) in self.groups.items():
            shown = "、".join(positions[:5]) + (f" 等{len(positions)}处" if len(positions) > 5 else "")
            out.append(CheckFinding(rule=rule, message=message, severity=Severity(severity), position=shown))
        return out


def _mm(twips: str | None) -> float:
    return round(L.twips_to_mm(abs(int(twips or 0))), 1)


def _text(p: Any) -> str:
    return "".join(t.text or "" for t in p.iter(w("t")))


def _text_runs(p: Any) -> list[Any]:
    return [r for r in p.iter(w("r")) if "".join(t.text or "" for t in r.findall(w("t"))).strip()]


def _check_sections(doc: Any, out: _Collector) -> tuple[int, int, int]:
    """Page size, margins and document grid per section; returns the first section's text block and line pitch."""
    first: tuple[int, int, int] | None = None
    for i, section in enumerate(doc.sections, 1):
        sp = section._sectPr
        pos = f"第{i}节"
        size, mar, grid = sp.find(w("pgSz")), sp.find(w("pgMar")), sp.find(w("docGrid"))
        pw = int(size.get(w("w"), 0)) if size is not None else 0
        h = int(size.get(w("h"), 0)) if size is not None else 0
        if abs(L.twips_to_mm(pw) - L.PAGE_WIDTH_MM) > 1 or abs(L.twips_to_mm(h) - L.PAGE_HEIGHT_MM) > 1:
            paper = f"{_mm(str(pw))}mm×{_mm(str(h))}mm"
            out.add("layout.page.size", "error", f"纸张应为A4纵向（210mm×297mm），实为{paper}", pos)
        margins = dict(mar.attrib) if mar is not None else {}

        def get(key: str, margins: dict[str, str] = margins) -> str | None:
            return margins.get(w(key))

        for key, label, expected in _MARGINS:
            actual = _mm(get(key))
            if abs(actual - expected) > L.MARGIN_TOLERANCE_MM:
                out.add(f"layout.margin.{key}", "error", f"{label}边距应为{expected:g}mm，实为{actual:g}mm", pos)
        text_h = h - abs(int(get("top") or 0)) - abs(int(get("bottom") or 0))
        text_w = pw - int(get("left") or 0) - int(get("right") or 0)
        gtype = grid.get(w("type")) if grid is not None else None
        pitch = int(grid.get(w("linePitch"), 0)) if grid is not None else 0
        if gtype not in ("lines", "linesAndChars"):
            out.add(
                "layout.grid.type",
                "error",
                f"文档网格应为“指定行和字符网格”（linesAndChars），实为{gtype or '无网格'}",
                pos,
            )
        lines = round(text_h / pitch) if pitch else 0
        if lines != L.LINES_PER_PAGE:
            out.add(
                "layout.grid.lines",
                "error",
                f"每页应为{L.LINES_PER_PAGE}行（行距579），实为{lines}行（linePitch={pitch}）",
                pos,
            )
        if first is None:
            first = (text_w, text_h, pitch if gtype in ("lines", "linesAndChars") else 0)
        if gtype == "linesAndChars" and grid is not None:
            base = L.BODY_PT  # the character pitch is the Normal font size plus charSpace/4096 pt
            chars = int(text_w / 20 / (base + int(grid.get(w("charSpace"), 0)) / 4096))
            if chars != L.CHARS_PER_LINE:
                out.add("layout.grid.chars", "warning", f"每行应为{L.CHARS_PER_LINE}字，实为{chars}字", pos)
        elif gtype == "lines":
            out.add("layout.grid.chars", "warning", f"文档网格未指定字符数，每行应为{L.CHARS_PER_LINE}字", pos)
    return first or (0, 0, 0)


def _first_line_chars(styles: StyleResolver, p: Any, size: float) -> float:
    src = styles.ppr_sources(p)
    chars = styles.attr(src, "ind", "firstLineChars")
    if chars is not None and int(chars) != 0:
        return int(chars) / 100
    hanging = styles.attr(src, "ind", "hanging")
    if hanging and int(hanging):
        return -int(hanging) / (size * 20)
    twips = styles.attr(src, "ind", "firstLine")
    return int(twips) / (size * 20) if twips else 0.0


def _line_ok(styles: StyleResolver, p: Any, text_h: int, pitch: int) -> tuple[bool, str]:
    src = styles.ppr_sources(p)
    line = int(styles.attr(src, "spacing", "line") or 240)
    rule = styles.attr(src, "spacing", "lineRule") or "auto"
    if rule == "exact":
        return round(text_h / line) == L.LINES_PER_PAGE if line else False, f"固定值{line / 20:g}磅"
    snap = styles.attr(src, "snapToGrid", "val") not in ("0", "false", "off")
    ok = rule == "auto" and line <= 240 and snap and pitch and round(text_h / pitch) == L.LINES_PER_PAGE
    return bool(ok), ("单倍行距（对齐网格）" if rule == "auto" and line == 240 else f"{rule} {line}")


def _check_runs(
    styles: StyleResolver,
    p: Any,
    pos: str,
    out: _Collector,
    *,
    what: str,
    family: str | None,
    size: float | None,
    first_only: bool = False,
) -> None:
    runs = _text_runs(p)
    for k, r in enumerate(runs):
        ea = styles.font(p, r, "eastAsia")
        if ea is None or ea.startswith("主题字体"):
            out.add("layout.font.east_asia", "error", f"未指定中文字体（w:eastAsia），实为{ea or '未设置'}", pos)
        elif family and (not first_only or k == 0) and L.font_family(ea) != family:
            rule = "layout.title.font" if what == "标题" else f"layout.{_rule_part(what)}.font"
            fallback = what == "标题" and ea in L.FONT_FALLBACKS[L.TITLE_FONT]
            out.add(rule, "warning" if fallback else "error", f"{what}字体应为{family}，实为{ea}", pos)
        t = "".join(x.text or "" for x in r.findall(w("t")))
        latin = styles.font(p, r, "ascii")
        if re.search(r"[A-Za-z0-9]", t) and what != "页码" and latin != L.LATIN_FONT:
            out.add("layout.font.latin", "warning", f"数字和西文字体应为{L.LATIN_FONT}，实为{latin or '未设置'}", pos)
        if size is not None and styles.size_pt(p, r) != size:
            rule = "layout.title.size" if what == "标题" else f"layout.{_rule_part(what)}.size"
            out.add(rule, "error", f"{what}字号应为{size:g}磅，实为{styles.size_pt(p, r):g}磅", pos)


def _rule_part(what: str) -> str:
    for level, name in _LEVEL_NAME.items():
        if what == name:
            return f"heading{level}"
    return {
        "正文": "body",
        "主送机关": "addressee",
        "落款": "signature",
        "署名行": "byline",
        "页码": "page_number",
    }.get(what, "body")


def _classify(styles: StyleResolver, paras: list[Any]) -> list[str]:
    kinds: list[str] = []
    stage = "before"
    for p in paras:
        text = _text(p).strip()
        jc = styles.attr(styles.ppr_sources(p), "jc", "val")
        if not text:
            kinds.append("empty")
            continue
        if stage == "appendix" or (stage != "before" and re.match(r"^附件(\s*[:：\d]|$)", text)):
            stage = "appendix"
        elif stage == "before":
            stage = "title"
        elif stage in ("title", "byline") and jc == "center":
            runs = _text_runs(p)
            big = runs and styles.size_pt(p, runs[0]) >= 20
            stage = "title" if big and stage == "title" else "byline"
        elif len(text) <= 40 and text.endswith(("：", ":")) and not re.search("[。；]", text) and stage != "body":
            stage = "addressee"
        elif jc in ("right", "end"):
            stage = "signature"
        else:
            stage = "body"
        kinds.append(stage)
    return kinds


def _check_paragraphs(doc: Any, styles: StyleResolver, text_h: int, pitch: int, out: _Collector) -> None:
    paras = list(doc.element.body.iterchildren(w("p")))
    for i, (p, kind) in enumerate(zip(paras, _classify(styles, paras), strict=True), 1):
        pos = f"第{i}段"
        if kind in ("empty", "appendix"):
            if kind == "appendix":
                _check_runs(styles, p, pos, out, what="附件", family=None, size=None)
            continue
        jc = styles.attr(styles.ppr_sources(p), "jc", "val") or "left"
        if kind == "title":
            _check_runs(styles, p, pos, out, what="标题", family="小标宋", size=L.TITLE_PT)
            if jc != "center":
                out.add("layout.title.align", "error", f"标题应居中，实为{jc}", pos)
            if any(styles.bold(p, r) for r in _text_runs(p)):
                out.add("layout.title.bold", "warning", "标题不应加粗", pos)
            continue
        level = L.heading_level(_text(p).strip()) if kind == "body" else 0
        what = {"byline": "署名行", "addressee": "主送机关", "signature": "落款"}.get(kind) or (
            _LEVEL_NAME[level] if level else "正文"
        )
        family = {"byline": None}.get(kind, _LEVEL_FAMILY.get(level, "仿宋"))
        _check_runs(styles, p, pos, out, what=what, family=family, size=L.BODY_PT, first_only=level in (1, 2))
        ok, actual = _line_ok(styles, p, text_h, pitch)
        if not ok and kind != "byline":
            out.add("layout.body.line_spacing", "error", f"行距应为固定值28.95磅（每页22行），实为{actual}", pos)
        if level and any(styles.bold(p, r) for r in _text_runs(p)[:1]):
            out.add("layout.heading.bold", "warning", f"{what}不应加粗", pos)
        indent = _first_line_chars(styles, p, L.BODY_PT)
        if kind == "addressee" and abs(indent) > 0.1:
            out.add("layout.addressee.indent", "warning", f"主送机关或称呼应顶格，实为首行缩进{indent:g}字", pos)
        elif kind == "body" and abs(indent - 2) > 0.1:
            rule = "layout.heading.indent" if level else "layout.body.indent"
            out.add(rule, "warning" if level else "error", f"{what}应首行缩进2字，实为{indent:.3g}字", pos)
        if kind == "body" and not level and jc not in ("both", "distribute"):
            out.add("layout.body.align", "warning", f"正文应两端对齐，实为{jc}", pos)


def _check_footer(styles: StyleResolver, footer: Any, odd: bool, out: _Collector) -> None:
    pos = "页脚（奇数页）" if odd else "页脚（偶数页）"
    paras = [p for p in footer._element.iter(w("p")) if field_text(p)[1]]
    if not paras:
        out.add("layout.page_number.missing", "error", "页脚中没有页码（PAGE域）", pos)
        return
    p = paras[0]
    text = field_text(p)[0]
    if not re.fullmatch(r"\s*—\s*\{PAGE\}\s*—\s*", text):
        out.add(
            "layout.page_number.format", "error", f"页码应为“— 1 —”（一字线），实为“{text.replace('{PAGE}', '1')}”", pos
        )
    for r in p.iter(w("r")):
        ea = styles.font(p, r, "eastAsia")
        if "".join(t.text or "" for t in r.findall(w("t"))).strip() and L.font_family(ea) != "宋体":
            out.add("layout.page_number.font", "error", f"页码字体应为宋体，实为{ea or '未设置'}", pos)
        if r.find(w("fldChar")) is None and styles.size_pt(p, r) != L.PAGE_NUMBER_PT:
            out.add("layout.page_number.size", "error", f"页码字号应为4号（14磅），实为{styles.size_pt(p, r):g}磅", pos)
    src = styles.ppr_sources(p)
    jc = styles.attr(src, "jc", "val") or "left"
    side, names = ("右", ("right", "end")) if odd else ("左", ("left", "start"))
    if jc not in names:
        out.add("layout.page_number.align", "error", f"{pos}页码应{side}对齐，实为{jc}", pos)
    key = "right" if odd else "left"
    chars = styles.attr(src, "ind", f"{key}Chars")
    twips = styles.attr(src, "ind", key) or styles.attr(src, "ind", "end" if odd else "start")
    indent = int(chars) / 100 if chars and int(chars) else int(twips or 0) / (L.PAGE_NUMBER_PT * 20)
    if abs(indent - 1) > 0.15:
        out.add("layout.page_number.indent", "warning", f"{pos}页码应{side}空一字，实为{indent:.2g}字", pos)


def check_docx(data: bytes | Path | str) -> list[CheckFinding]:
    """Every deviation of a .docx from the GB/T 9704-2012 layout; an empty list means it conforms fully."""
    try:
        doc = Document(io.BytesIO(data) if isinstance(data, bytes) else str(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ExportError(f"无法读取Word文档（仅支持.docx）：{exc}") from exc
    styles = StyleResolver(doc.styles.element)
    out = _Collector()
    _, text_h, pitch = _check_sections(doc, out)
    _check_paragraphs(doc, styles, text_h, pitch, out)
    section = doc.sections[0]
    if section.footer.is_linked_to_previous:
        out.add("layout.page_number.missing", "error", "页脚中没有页码（PAGE域）", "页脚（奇数页）")
    else:
        _check_footer(styles, section.footer, True, out)
    if not doc.settings.odd_and_even_pages_header_footer:
        out.add("layout.page_number.odd_even", "error", "应设置“奇偶页不同”：单页码居右、双页码居左", "第1节")
    elif section.even_page_footer.is_linked_to_previous:
        out.add("layout.page_number.missing", "error", "偶数页页脚中没有页码（PAGE域）", "页脚（偶数页）")
    else:
        _check_footer(styles, section.even_page_footer, False, out)
    return out.findings()


def conforms(findings: list[CheckFinding]) -> bool:
    """True when no finding is an error (warnings and notes are allowed)."""
    return not any(f.severity == "error" for f in findings)


def format_findings(findings: list[CheckFinding]) -> str:
    """A report in Chinese for the command line."""
    if not findings:
        return "版式检查通过：符合GB/T 9704-2012。"
    counts = {s: sum(f.severity == s for f in findings) for s in _SEVERITY}
    lines = [
        f"版式检查：发现{len(findings)}项问题（错误{counts['error']}项，警告{counts['warning']}项，提示{counts['info']}项）"
    ]
    for f in sorted(findings, key=lambda f: list(_SEVERITY).index(f.severity) if f.severity in _SEVERITY else 3):
        lines.append(f"[{_SEVERITY.get(f.severity, f.severity)}] {f.rule}（{f.position}）{f.message}")
    lines.append(
        "结论：" + ("符合GB/T 9704-2012（仅有警告或提示）。" if conforms(findings) else "不符合GB/T 9704-2012。")
    )
    return "\n".join(lines)
