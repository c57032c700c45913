"""GB/T 9704-2012 layout constants and the text rules shared by the exporter, the checker and the linter.

Everything here is pure: no python-docx, no I/O. Sizes are in points or twips (1/20 pt) because
that is what WordprocessingML stores; millimetres appear only where the standard states them.
"""

from __future__ import annotations

import logging
import math
import re
import warnings
from datetime import date

from drafting.cnnum import HEADING_NUMERALS, cn_numeral_value

__all__ = [
    "TWIPS_PER_MM",
    "mm_to_twips",
    "twips_to_mm",
    "PAGE_WIDTH_MM",
    "PAGE_HEIGHT_MM",
    "MARGIN_TOP_MM",
    "MARGIN_BOTTOM_MM",
    "MARGIN_LEFT_MM",
    "MARGIN_RIGHT_MM",
    "MARGIN_TOLERANCE_MM",
    "FOOTER_DISTANCE_MM",
    "HEADER_DISTANCE_MM",
    "TITLE_FONT",
    "BODY_FONT",
    "H1_FONT",
    "H2_FONT",
    "KAI_FONT",
    "LATIN_FONT",
    "PAGE_NUMBER_FONT",
    "FONT_FALLBACKS",
    "FONT_FAMILIES",
    "font_family",
    "TITLE_PT",
    "BODY_PT",
    "PAGE_NUMBER_PT",
    "APPENDIX_PT",
    "LINE_PITCH_TWIPS",
    "CHAR_SPACE",
    "LINES_PER_PAGE",
    "CHARS_PER_LINE",
    "TITLE_MAX_CHARS",
    "TITLE_MAX_LINES",
    "OFFICIAL_GENRES",
    "NON_GENRES",
    "is_spoken",
    "heading_level",
    "heading_number",
    "text_width",
    "balance_title",
    "format_cn_date",
    "CITATION_MARK",
    "PLACEHOLDER_MARK",
    "split_sentences",
    "split_lead",
]

logger = logging.getLogger(__name__)

TWIPS_PER_MM = 1440 / 25.4


def mm_to_twips(mm: float) -> int:
    return round(mm * TWIPS_PER_MM)


def twips_to_mm(twips: float) -> float:
    return twips / TWIPS_PER_MM


# Page: A4, text block 156 mm x 225 mm (GB/T 9704-2012, 5.2.1 / 5.2.2).
PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
MARGIN_TOP_MM = 37.0
MARGIN_BOTTOM_MM = 35.0
MARGIN_LEFT_MM = 28.0
MARGIN_RIGHT_MM = 26.0
MARGIN_TOLERANCE_MM = 0.5
# The page number sits about 7 mm below the text block (7.5); a 14 pt line is about 5-6 mm high.
FOOTER_DISTANCE_MM = 22.0
HEADER_DISTANCE_MM = 15.0

# Fonts. East Asian names go to w:eastAsia; Latin letters and digits use LATIN_FONT (w:ascii/w:hAnsi).
# Word substitutes by name: if 方正小标宋简体 is not installed, Word shows 华文中宋 or 宋体 instead,
# which is why the font table lists those as alternatives.
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
H1_FONT = "黑体"
H2_FONT = "楷体_GB2312"
KAI_FONT = "楷体_GB2312"
LATIN_FONT = "Times New Roman"
PAGE_NUMBER_FONT = "宋体"
FONT_FALLBACKS: dict[str, tuple[str, ...]] = {
    TITLE_FONT: ("华文中宋", "宋体"),
    BODY_FONT: ("仿宋",),
    KAI_FONT: ("楷体",),
    H1_FONT: ("SimHei",),
    PAGE_NUMBER_FONT: ("SimSun",),
}
# Names accepted as the same family when checking a document someone else made.
FONT_FAMILIES: dict[str, frozenset[str]] = {
    "小标宋": frozenset({"方正小标宋简体", "方正小标宋_GBK", "方正小标宋简", "小标宋", "方正小标宋"}),
    "仿宋": frozenset({"仿宋_GB2312", "仿宋", "FangSong", "FangSong_GB2312", "方正仿宋_GBK", "方正仿宋简体"}),
    "黑体": frozenset({"黑体", "SimHei", "方正黑体_GBK", "方正黑体简体"}),
    "楷体": frozenset({"楷体_GB2312", "楷体", "KaiTi", "KaiTi_GB2312", "方正楷体_GBK", "方正楷体简体"}),
    "宋体": frozenset({"宋体", "SimSun", "方正书宋_GBK", "方正书宋简体"}),
}


def font_family(name: str | None) -> str | None:
    """The family (仿宋, 黑体, ...) a font name belongs to, or None."""
    if not name:
        return None
    for family, names in FONT_FAMILIES.items():
        if name in names:
            return family
    return None


# Sizes: 2号 = 22 pt, 3号 = 16 pt, 4号 = 14 pt.
TITLE_PT = 22
BODY_PT = 16
PAGE_NUMBER_PT = 14
APPENDIX_PT = 14

# 22 lines of 28 characters (5.2.3). 225 mm / 22 = 28.95 pt = 579 twips per line; 156 mm / 28 =
# 15.79 pt per character, i.e. 16 pt - 0.207 pt = charSpace -849 (in 1/4096 pt).
LINE_PITCH_TWIPS = 579
CHAR_SPACE = -849
LINES_PER_PAGE = 22
CHARS_PER_LINE = 28
# 156 mm at 22 pt holds 20 characters.
TITLE_MAX_CHARS = 20
TITLE_MAX_LINES = 3

# 《党政机关公文处理工作条例》 第八条: the 15 genres of official documents.
OFFICIAL_GENRES: tuple[str, ...] = (
    "决议",
    "决定",
    "命令",
    "令",
    "公报",
    "公告",
    "通告",
    "意见",
    "通知",
    "通报",
    "报告",
    "请示",
    "批复",
    "议案",
    "函",
    "纪要",
)
# Names writers use that are not genres of official documents, with the genre to use instead.
NON_GENRES: dict[str, str] = {
    "工作总结": "报告",
    "总结": "报告",
    "工作计划": "意见或通知",
    "计划": "意见或通知",
    "工作安排": "通知",
    "安排": "通知",
    "工作打算": "意见或报告",
    "打算": "意见或报告",
}
_SPOKEN = frozenset(
    {"讲话稿", "经验交流发言", "汇报材料", "工作报告", "讲话", "发言", "致辞", "主持词", "发言稿", "演讲稿"}
)


def is_spoken(genre: str) -> bool:
    """Speeches and other texts meant to be read out (no 主送机关, no 落款)."""
    g = genre.strip()
    return g in _SPOKEN or g.endswith(("讲话", "发言", "致辞", "主持词", "讲话稿", "发言稿"))


_HEADING_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^\s*([{HEADING_NUMERALS}]+)、")),
    (2, re.compile(rf"^\s*[（(]([{HEADING_NUMERALS}]+)[）)]")),
    (3, re.compile(r"^\s*(\d{1,2})[.．](?!\d)")),
    (4, re.compile(r"^\s*[（(](\d{1,2})[）)]")),
)
CITATION_MARK = re.compile(r"\[\d{1,3}\]")
# What the writer still has to supply: 〔待补：分管副县长姓名〕 (the full-width tortoise-shell brackets).
PLACEHOLDER_MARK = re.compile(r"〔待补[：:]?([^〕]*)〕")
_SENTENCE = re.compile(r"[^。！？；]+(?:[。！？；]+[”’」』）)]*(?:\[\d{1,3}\])*)?|[。！？；]+")


def split_lead(paragraph: str) -> tuple[str, str]:
    """A heading paragraph's heading part and the prose that follows on the same line.

    "（一）健全责任体系。各乡镇要……" -> ("（一）健全责任体系。", "各乡镇要……");
    a stand-alone heading comes back whole with an empty rest.
    """
    m = re.match(r"^(.+?[。！？])(.+)$", paragraph)
    if m and m.group(2).strip():
        return m.group(1), m.group(2)
    return paragraph, ""


def split_sentences(text: str) -> list[str]:
    """Sentences of a paragraph, each with its closing punctuation and trailing [n] marks;
    ``"".join(split_sentences(t)) == t``."""
    return _SENTENCE.findall(text)


def heading_number(text: str) -> tuple[int, int] | None:
    """(level, value) of a numbered heading: 一、=1, （一）=2, 1.=3, （1）=4; None for prose."""
    for level, pattern in _HEADING_PATTERNS:
        m = pattern.match(text)
        if m:
            raw = m.group(1)
            value = int(raw) if raw.isdigit() else cn_numeral_value(raw)
            if value:
                return level, value
    return None


def heading_level(text: str) -> int:
    """1-4 for a numbered heading, 0 otherwise."""
    found = heading_number(text)
    return found[0] if found else 0


def text_width(s: str) -> float:
    """Width in full-width characters: ASCII letters, digits and spaces count half."""
    return sum(0.5 if ord(c) < 0x2E80 and not _is_wide_punct(c) else 1.0 for c in s)


def _is_wide_punct(c: str) -> bool:
    return c in "—…‘’“”·"


_NO_LINE_START = set("，。、；：！？）》」』”’…—%")
_NO_LINE_END = set("（《「『“‘")
_GOOD_BREAK_AFTER = ("的", "和", "与", "及", "暨", "、", "，", "上")


def _tokens(title: str) -> list[str]:
    """Words of the title, so that lines break between words, not inside them."""
    try:
        with warnings.catch_warnings():  # jieba imports pkg_resources, which warns on import
            warnings.simplefilter("ignore")
            import jieba  # local import: loading the dictionary takes about a second

            jieba.setLogLevel(logging.WARNING)
            return [t for t in jieba.cut(title) if t]
    except Exception:  # pragma: no cover - jieba missing or broken: fall back to characters
        logger.debug("jieba unavailable; breaking the title by characters")
        return list(title)


def _break_positions(title: str, tokens: list[str]) -> list[int]:
    positions, pos = [], 0
    for tok in tokens[:-1]:
        pos += len(tok)
        positions.append(pos)
    good = []
    for p in positions:
        before, after = title[p - 1], title[p]
        if after in _NO_LINE_START or before in _NO_LINE_END:
            continue
        if before.isascii() and after.isascii() and before.isalnum() and after.isalnum():
            continue
        good.append(p)
    return good


def balance_title(title: str, max_chars: int = TITLE_MAX_CHARS, max_lines: int = TITLE_MAX_LINES) -> list[str]:
    """Split a long title into lines of near-equal width at word boundaries (梯形/菱形排布).

    A title that fits on one line is returned as is. A title that would need more than
    ``max_lines`` lines is also returned as one line (Word wraps it); the exporter notes that.
    """
    title = title.strip()
    width = text_width(title)
    if width <= max_chars:
        return [title]
    n = math.ceil(width / max_chars)
    if n > max_lines:
        return [title]
    for tokens in (_tokens(title), list(title)):
        best = _best_split(title, _break_positions(title, tokens), n, max_chars)
        if best:
            return best
    return [title]


def _best_split(title: str, positions: list[int], n: int, max_chars: int) -> list[str] | None:
    target = text_width(title) / n
    best: tuple[float, list[str]] | None = None

    def consider(cuts: list[int]) -> None:
        nonlocal best
        bounds = [0, *cuts, len(title)]
        lines = [title[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
        widths = [text_width(x) for x in lines]
        if max(widths) > max_chars or min(widths) < 3:
            return
        cost = sum((w - target) ** 2 for w in widths)
        cost -= sum(0.6 for line in lines[:-1] if line.endswith(_GOOD_BREAK_AFTER))
        if best is None or cost < best[0]:
            best = (cost, lines)

    if n == 2:
        for p in positions:
            consider([p])
    else:
        for i, p in enumerate(positions):
            for q in positions[i + 1 :]:
                consider([p, q])
    return best[1] if best else None


_DATE_PATTERNS = (
    re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$"),
    re.compile(r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})$"),
)


def format_cn_date(value: str | date | None = None) -> str | None:
    """成文日期 as GB/T 9704-2012 wants it: Arabic numerals, no zero padding (2026年1月5日).

    ``None`` or "" means today; an unparseable string gives None.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        value = date.today()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    s = value.strip()
    for pattern in _DATE_PATTERNS:
        m = pattern.match(s)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            if 1 <= mo <= 12 and 1 <= d <= 31:
                return f"{y}年{mo}月{d}日"
    return None
