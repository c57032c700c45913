"""Chinese numerals, shared by headings, dates and outlines."""

from __future__ import annotations

__all__ = ["CN_DIGITS", "HEADING_NUMERALS", "cn_num", "cn_numeral_value"]

# Digit values, including the forms seen in dates (〇, ○, O for zero).
CN_DIGITS: dict[str, int] = {
    "〇": 0,
    "零": 0,
    "○": 0,
    "O": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL = "一二三四五六七八九十"
# The characters of a heading's Chinese number ("十二、", "（一百零一）"), for a regex character class.
HEADING_NUMERALS = "一二三四五六七八九十百零〇两"


def cn_num(n: int) -> str:
    """1 -> 一, 12 -> 十二, 23 -> 二十三 (enough for headings)."""
    if n <= 10:
        return _SMALL[n - 1]
    if n < 20:
        return "十" + _SMALL[n - 11]
    tens, ones = divmod(n, 10)
    return _SMALL[tens - 1] + "十" + (_SMALL[ones - 1] if ones else "")


def cn_numeral_value(s: str) -> int | None:
    """一 -> 1, 十二 -> 12, 二十 -> 20, 一百零一 -> 101; None if not a Chinese numeral."""
    if not s or any(c not in CN_DIGITS and c not in "十百" for c in s):
        return None
    total, current = 0, 0
    for c in s:
        if c == "百":
            total += (current or 1) * 100
            current = 0
        elif c == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = CN_DIGITS[c]
    return total + current
