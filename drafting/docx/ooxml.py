"""WordprocessingML property helpers: writing run/paragraph properties (for the exporter) and
resolving effective properties the way Word does (for the layout checker).

python-docx covers little of what GB/T 9704 needs (w:eastAsia fonts, character-unit indents, fields,
the document grid), so these work on the XML elements directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from docx.document import Document as DocxDocument
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import qn
from docx.oxml.text.font import CT_RPr
from docx.text.paragraph import Paragraph
from docx.text.run import Run
from lxml import etree

from drafting.docx import layout as L

__all__ = [
    "W",
    "w",
    "text_run",
    "set_fonts",
    "set_size",
    "format_paragraph",
    "page_number_paragraph",
    "register_font_fallbacks",
    "StyleResolver",
    "field_text",
]

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_TRUE = {None, "1", "true", "on"}
_JC = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
    "both": WD_ALIGN_PARAGRAPH.JUSTIFY,
}


def w(name: str) -> str:
    """Clark name of a w: element or attribute."""
    return f"{W}{name}"


def text_run(p: Paragraph, text: str, font: str, pt: float, latin: str = L.LATIN_FONT) -> Run:
    """A run of ``text`` in the named Chinese font and size, not bold."""
    run = p.add_run(text)
    set_fonts(run._r.get_or_add_rPr(), font, latin)
    set_size(run._r.get_or_add_rPr(), pt)
    run.font.bold = False
    return run


# --- writing ----------------------------------------------------------------------------------


def set_fonts(rpr: CT_RPr, east_asia: str, latin: str = L.LATIN_FONT) -> None:
    """Named fonts for Chinese (w:eastAsia) and for Latin letters and digits; theme fonts removed."""
    fonts = rpr.get_or_add_rFonts()
    for attr in ("asciiTheme", "hAnsiTheme", "eastAsiaTheme", "cstheme"):
        fonts.attrib.pop(qn(f"w:{attr}"), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:cs"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)


def set_size(rpr: CT_RPr, pt: float) -> None:
    """Font size in points, for Chinese/Latin (w:sz) and complex scripts (w:szCs) alike."""
    sz = rpr.get_or_add_sz()
    sz.set(qn("w:val"), str(round(pt * 2)))
    szcs = rpr.find(qn("w:szCs"))
    if szcs is None:
        szcs = OxmlElement("w:szCs")
        sz.addnext(szcs)
    szcs.set(qn("w:val"), str(round(pt * 2)))


def format_paragraph(
    p: Paragraph,
    *,
    align: str,
    first_chars: float = 0,
    left_chars: float = 0,
    right_chars: float = 0,
    pt: float = L.BODY_PT,
    line: int | None = L.LINE_PITCH_TWIPS,
) -> None:
    """Alignment, indents in characters (w:*Chars plus the twips Word falls back to) and line spacing.

    ``line`` is an exact line height in twips; None means single spacing (used in the footer).
    """
    ppr = p._p.get_or_add_pPr()
    spacing = ppr.get_or_add_spacing()
    spacing.set(qn("w:before"), "0")
    spacing.set(qn("w:after"), "0")
    if line is None:
        spacing.set(qn("w:line"), "240")
        spacing.set(qn("w:lineRule"), "auto")
    else:
        spacing.set(qn("w:line"), str(line))
        spacing.set(qn("w:lineRule"), "exact")
    ind = ppr.get_or_add_ind()
    unit = pt * 20  # one character in twips at this size
    for name, chars in (("firstLine", first_chars), ("left", left_chars), ("right", right_chars)):
        ind.set(qn(f"w:{name}Chars"), str(round(chars * 100)))
        ind.set(qn(f"w:{name}"), str(round(chars * unit)))
    p.alignment = _JC[align]


def page_number_paragraph(p: Paragraph, *, odd: bool) -> None:
    """Page number "— 1 —" in 4号宋体: odd pages right-aligned 1 character in, even pages left-aligned."""
    format_paragraph(
        p,
        align="right" if odd else "left",
        pt=L.PAGE_NUMBER_PT,
        line=None,
        right_chars=1 if odd else 0,
        left_chars=0 if odd else 1,
    )
    font = L.PAGE_NUMBER_FONT
    text_run(p, "— ", font, L.PAGE_NUMBER_PT, latin=font)
    for kind in ("begin", "instr", "separate", "result", "end"):
        run = p.add_run()
        set_fonts(run._r.get_or_add_rPr(), font, font)
        set_size(run._r.get_or_add_rPr(), L.PAGE_NUMBER_PT)
        if kind == "instr":
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = " PAGE "
        elif kind == "result":
            el = OxmlElement("w:t")
            el.text = "1"
        else:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        run._r.append(el)
    text_run(p, " —", font, L.PAGE_NUMBER_PT, latin=font)


def register_font_fallbacks(doc: DocxDocument) -> None:
    """List the GB fonts in the font table with the installed-everywhere fonts Word may use instead."""
    part = next((p for p in doc.part.package.iter_parts() if str(p.partname) == "/word/fontTable.xml"), None)
    if part is None:  # pragma: no cover - the default template has one
        return
    root = parse_xml(part.blob)
    present = {f.get(qn("w:name")) for f in root.findall(qn("w:font"))}
    for name, alternatives in L.FONT_FALLBACKS.items():
        if name in present:
            continue
        font = OxmlElement("w:font")
        font.set(qn("w:name"), name)
        alt = OxmlElement("w:altName")
        alt.set(qn("w:val"), alternatives[0])
        charset = OxmlElement("w:charset")
        charset.set(qn("w:val"), "86")  # GB2312
        font.extend([alt, charset])
        root.append(font)
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


# --- reading ---------------------------------------------------------------------------------


class StyleResolver:
    """Word's property inheritance, reduced to what the layout rules look at."""

    def __init__(self, root: Any) -> None:
        self.by_id: dict[str, Any] = {}
        self.default_para: str | None = None
        self.rdef = self.pdef = None
        if root is None:
            return
        defaults = root.find(w("docDefaults"))
        if defaults is not None:
            self.rdef = defaults.find(f"{w('rPrDefault')}/{w('rPr')}")
            self.pdef = defaults.find(f"{w('pPrDefault')}/{w('pPr')}")
        for st in root.findall(w("style")):
            sid = st.get(w("styleId"))
            self.by_id[sid] = st
            if st.get(w("type")) == "paragraph" and st.get(w("default")) in ("1", "true"):
                self.default_para = sid

    def _chain(self, sid: str | None, child: str) -> Iterator[Any]:
        seen: set[str] = set()
        while sid and sid in self.by_id and sid not in seen:
            seen.add(sid)
            st = self.by_id[sid]
            el = st.find(w(child))
            if el is not None:
                yield el
            based = st.find(w("basedOn"))
            sid = based.get(w("val")) if based is not None else None

    def _p_style(self, p: Any) -> str | None:
        ps = p.find(f"{w('pPr')}/{w('pStyle')}")
        return ps.get(w("val")) if ps is not None else self.default_para

    def rpr_sources(self, p: Any, r: Any) -> list[Any]:
        out = [r.find(w("rPr"))]
        rs = r.find(f"{w('rPr')}/{w('rStyle')}")
        if rs is not None:
            out += list(self._chain(rs.get(w("val")), "rPr"))
        out += list(self._chain(self._p_style(p), "rPr"))
        out.append(self.rdef)
        return [x for x in out if x is not None]

    def ppr_sources(self, p: Any) -> list[Any]:
        out = [p.find(w("pPr")), *self._chain(self._p_style(p), "pPr"), self.pdef]
        return [x for x in out if x is not None]

    @staticmethod
    def attr(sources: list[Any], tag: str, name: str) -> str | None:
        for src in sources:
            el = src.find(w(tag))
            if el is not None and el.get(w(name)) is not None:
                return str(el.get(w(name)))
        return None

    def font(self, p: Any, r: Any, slot: str) -> str | None:
        """The effective font name for ``slot`` (eastAsia/ascii); "主题字体…" for theme fonts, None if unset."""
        theme = {"eastAsia": "eastAsiaTheme", "ascii": "asciiTheme"}[slot]
        for src in self.rpr_sources(p, r):
            el = src.find(w("rFonts"))
            if el is None:
                continue
            if el.get(w(theme)):
                return f"主题字体{el.get(w(theme))}"
            if el.get(w(slot)):
                return str(el.get(w(slot)))
        return None

    def size_pt(self, p: Any, r: Any) -> float:
        val = self.attr(self.rpr_sources(p, r), "sz", "val")
        return int(val) / 2 if val else 10.0  # ECMA-376: 10 pt when nothing says otherwise

    def bold(self, p: Any, r: Any) -> bool:
        for src in self.rpr_sources(p, r):
            el = src.find(w("b"))
            if el is not None:
                return el.get(w("val")) in _TRUE
        return False


def field_text(p: Any) -> tuple[str, bool]:
    """Paragraph text with a PAGE field's result replaced by "{PAGE}"; and whether such a field exists."""
    parts: list[str] = []
    state = {"mode": "", "instr": "", "found": False}

    def walk(el: Any) -> None:
        for child in el:
            tag = child.tag
            if tag == w("fldSimple"):
                if "PAGE" in (child.get(w("instr")) or "").split():
                    parts.append("{PAGE}")
                    state["found"] = True
                else:
                    walk(child)
            elif tag == w("fldChar"):
                kind = child.get(w("fldCharType"))
                if kind == "begin":
                    state["mode"], state["instr"] = "instr", ""
                elif kind == "separate":
                    state["mode"] = "result"
                    if "PAGE" in str(state["instr"]).split():
                        parts.append("{PAGE}")
                        state["found"] = True
                else:
                    state["mode"] = ""
            elif tag == w("instrText"):
                state["instr"] = str(state["instr"]) + (child.text or "")
            elif tag == w("t"):
                in_page_result = state["mode"] == "result" and "PAGE" in str(state["instr"]).split()
                if state["mode"] != "instr" and not in_page_result:
                    parts.append(child.text or "")
            else:
                walk(child)

    walk(p)
    return "".join(parts), bool(state["found"])
