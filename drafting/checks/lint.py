"""Genre checks for 公文 and speeches: rules from 《党政机关公文处理工作条例》 and GB/T 9704-2012.

No model involved: each rule is a regular-expression heuristic with an id (``lint.*``), a Chinese
message, a position ("第N行" counting the lines of the text given, or "标题" / "主送机关") and the
offending text quoted (``quote``, also shown in the message). Findings that make a document wrong
rather than unusual are errors: skipped or repeated heading numbers, a non-statutory genre word in a
公文 title, a request inside a 报告, several matters in one 请示, a missing or second 主送机关.
"""

from __future__ import annotations

import re

from drafting.docx import layout as L
from drafting.domain import GENRES, CheckFinding, Draft, Severity, count_chars

__all__ = ["lint_text", "lint_draft", "QINGSHI_MAX_CHARS", "BAOGAO_MAX_CHARS"]

QINGSHI_MAX_CHARS = 1500
BAOGAO_MAX_CHARS = 3000
# Genres whose title reads "（发文机关）关于……的<文种>". 纪要, 命令 and 公报 are titled differently.
_TITLED = frozenset({"请示", "报告", "通知", "意见", "函", "批复", "通报", "决定", "决议", "通告", "公告"})
_CN_DATE_CHARS = "〇零○Ｏ一二三四五六七八九十"
_RE_DATE_SEP = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*[.\-/／]\s*(\d{1,2})\s*[.\-/／]\s*(\d{1,2})(?!\d)")
_RE_ZERO_PAD = re.compile(r"(?<!\d)\d{4}年0\d月|(?<!\d)(?:1[0-2]|0?\d)月0\d日")
_RE_CN_YEAR = re.compile(
    rf"[〇零○Ｏ一二三四五六七八九]{{4}}年(?:[{_CN_DATE_CHARS}]{{1,2}}月)?(?:[{_CN_DATE_CHARS}]{{1,3}}日)?"
)
_RE_ISSUE_DATE = re.compile(r"^[（(]?\s*(?:\d{4}|[〇零○Ｏ一二三四五六七八九]{4})年.{1,3}月.{1,4}日\s*[）)]?$")
_RE_QINGSHI_CLOSING = re.compile(
    r"特此请示|[妥当]否[，,]?\s*请(?:予)?(?:批示|批复|审批|批准|示复)|如无不妥[，,]?\s*请(?:予)?(?:批准|批转|审批)"
    r"|请(?:予)?(?:批准|批复|审批|批示)|请(?:予)?审定"
)
_RE_BAOGAO_CLOSING = re.compile(r"特此报告|专此报告|以上报告[，,]?\s*请(?:审阅|审示|阅示|审议)|请(?:审阅|阅示|审示)")
_RE_REQUEST = re.compile(r"请(?:予)?(?:批准|批示|审批|批复|核准)|[妥当]否|以上请示|请示如下|恳请(?:上级)?(?:批准|审批)")
_RE_REQUEST_SENTENCE = re.compile(r"申请|恳请|请求|请予|拟请|特请|请.{0,12}(?:批准|审批|拨付|支持|解决|给予)")
_RE_ENUM = re.compile(
    r"[一二三四五六七八九十]是|其[一二三四五]|第[一二三四五六七八九十][，,、]|[（(][一二三四五六七八九\d][）)]"
)
_RE_PEER_PHRASE = re.compile(r"商请|请予(?:大力)?支持|请贵|贵(?:局|委|办|厅|部|院|司|处|单位|公司|中心|校|会)")
_ADMIN = re.compile(r"(自治区|街道|省|市(?!场)|州|盟|县|区|旗|乡|镇)")
# Administrative level: 1 province, 2 city, 3 county, 4 township.
_RANK = (
    dict.fromkeys(("省", "自治区", "直辖市"), 1)
    | dict.fromkeys(("市", "州", "盟", "地"), 2)
    | dict.fromkeys(("县", "区", "旗", "县级市"), 3)
    | dict.fromkeys(("乡", "镇", "街道"), 4)
)
_DEPARTMENT = re.compile(r"(?:局|委员会|委|办公室|办|厅|署|中心|所|站)$")


def _finding(rule: str, message: str, position: str, severity: str = "warning", quote: str = "") -> CheckFinding:
    return CheckFinding(rule=rule, message=message, severity=Severity(severity), position=position, quote=quote)


def _short(text: str, n: int = 30) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + "……"


def _is_official_title(genre: str, title: str) -> bool:
    """A 公文 by its genre, or by its title's form "关于……的"."""
    return genre in L.OFFICIAL_GENRES or bool(re.search(r"关于.+的", title))


def _line_pos(i: int) -> str:
    return f"第{i + 1}行"


def _genre_kind(genre: str) -> str:
    if genre in L.NON_GENRES:
        return "non_genre"
    if L.is_spoken(genre):
        return "spoken"
    if genre in L.OFFICIAL_GENRES:
        return "official"
    return "other" if genre in GENRES else "unknown"


def _check_genre_name(genre: str, title: str) -> list[CheckFinding]:
    out = []
    if genre in L.NON_GENRES:
        out.append(
            _finding(
                "lint.genre.not_official",
                f"“{genre}”不是法定公文文种（《党政机关公文处理工作条例》规定15种），建议改用{L.NON_GENRES[genre]}",
                "文种",
                quote=genre,
            )
        )
    for name in sorted(L.NON_GENRES, key=len, reverse=True):
        if title.strip().endswith(name):
            out.append(
                _finding(
                    "lint.genre.not_official",
                    f"标题“{title.strip()}”以“{name}”结尾，但“{name}”不是法定公文文种，"
                    f"建议改为“关于……的{L.NON_GENRES[name].split('或')[0]}”",
                    "标题",
                    "error" if _is_official_title(genre, title) else "warning",
                    quote=name,
                )
            )
            break
    if genre == "方案":
        out.append(
            _finding(
                "lint.genre.not_official",
                "“方案”不是法定公文文种，印发时应以通知行文（关于印发……方案的通知）",
                "文种",
                "info",
                quote=genre,
            )
        )
    return out


def _check_title(title: str, genre: str) -> list[CheckFinding]:
    t = title.strip()
    if not t or genre not in _TITLED:
        return []
    if t.endswith("请示报告"):
        return [
            _finding(
                "lint.title.mixed_genre",
                f"标题“{t}”中的“请示报告”不是文种：请示和报告不能混用，应分别行文",
                "标题",
                "error",
                quote="请示报告",
            )
        ]
    if not t.endswith(genre):
        return [_finding("lint.title.genre", f"标题应以文种“{genre}”结尾，实为“{t}”", "标题", quote=t)]
    if not re.match(rf"^.*关于.+的(?:复)?{genre}$", t):
        return [_finding("lint.title.form", f"公文标题一般为“（发文机关）关于……的{genre}”，实为“{t}”", "标题", quote=t)]
    return []


def _check_headings(lines: list[str]) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    counters = {1: 0, 2: 0, 3: 0, 4: 0}
    open_levels: set[int] = set()
    anchors = {1: -1, 2: -1, 3: -1, 4: -1}  # line of the latest heading per level
    reported: set[tuple[int, int]] = set()
    labels = {1: "{}、", 2: "（{}）", 3: "{}.", 4: "（{}）"}
    for i, line in enumerate(lines):
        found = L.heading_number(line)
        if not found:
            continue
        level, value = found
        expected = counters[level] + 1
        shown = _cn(expected) if level <= 2 else str(expected)
        if value > expected:
            out.append(
                _finding(
                    "lint.heading.skip",
                    f"标题序号跳号：此处应为“{labels[level].format(shown)}”，实为“{_short(line, 12)}”",
                    _line_pos(i),
                    "error",
                    quote=line.strip(),
                )
            )
        elif value < expected:
            out.append(
                _finding(
                    "lint.heading.order",
                    f"标题序号顺序颠倒或重复：此处应为“{labels[level].format(shown)}”，实为“{_short(line, 12)}”",
                    _line_pos(i),
                    "error",
                    quote=line.strip(),
                )
            )
        anchor = max((anchors[k] for k in open_levels if k < level), default=-1)
        if level > 1 and level - 1 not in open_levels and anchor >= 0 and (anchor, level) not in reported:
            reported.add((anchor, level))  # once per parent, not for every sibling
            parent = labels[level - 1].format("一" if level - 1 <= 2 else "1")
            out.append(
                _finding(
                    "lint.heading.level_skip",
                    f"结构层次跳级：“{_short(line, 12)}”上一层缺少“{parent}”层级（层次依次为一、（一）1.（1））",
                    _line_pos(i),
                    "error",
                    quote=line.strip(),
                )
            )
        counters[level] = value
        for deeper in range(level + 1, 5):
            counters[deeper] = 0
            open_levels.discard(deeper)
        open_levels.add(level)
        anchors[level] = i
    return out


def _cn(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def _closing_index(lines: list[str]) -> int | None:
    """Index of the last line of content, skipping a trailing 落款 (issuer) and 成文日期."""
    idx = [i for i, x in enumerate(lines) if x.strip()]
    skipped = 0
    while idx and skipped < 3:
        last = lines[idx[-1]].strip()
        closing_phrase = _RE_QINGSHI_CLOSING.search(last) or _RE_BAOGAO_CLOSING.search(last)
        short_name = len(last) <= 25 and not re.search(r"[，。；：！？,;:]", last)
        if _RE_ISSUE_DATE.match(last) or (short_name and not closing_phrase):
            idx.pop()
            skipped += 1
        else:
            break
    return idx[-1] if idx else None


def _check_dates(lines: list[str], genre_kind: str) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    closing = _closing_index(lines)
    tail = {i for i in range(len(lines)) if closing is None or i > closing}
    for i, line in enumerate(lines):
        for m in _RE_DATE_SEP.finditer(line):
            y, mo, d = (int(g) for g in m.groups())
            out.append(
                _finding(
                    "lint.date.format",
                    f"日期应写作“{y}年{mo}月{d}日”，实为“{m.group(0)}”",
                    _line_pos(i),
                    quote=m.group(0),
                )
            )
        for m in _RE_ZERO_PAD.finditer(line):
            out.append(
                _finding(
                    "lint.date.zero_pad",
                    f"日期不编虚位（如“2026年1月5日”），实为“{m.group(0)}”",
                    _line_pos(i),
                    quote=m.group(0),
                )
            )
        if genre_kind == "spoken":
            continue
        for m in _RE_CN_YEAR.finditer(line):
            if i in tail and _RE_ISSUE_DATE.match(line.strip()):
                out.append(
                    _finding(
                        "lint.date.issue_chinese",
                        f"成文日期应使用阿拉伯数字（GB/T 9704-2012），实为“{m.group(0)}”",
                        _line_pos(i),
                        "error",
                        quote=m.group(0),
                    )
                )
            else:
                out.append(
                    _finding(
                        "lint.date.chinese",
                        f"公文中的日期一般使用阿拉伯数字，实为“{m.group(0)}”",
                        _line_pos(i),
                        quote=m.group(0),
                    )
                )
    return out


def _detect_addressee(lines: list[str]) -> str:
    first = next((x.strip() for x in lines if x.strip()), "")
    if first.endswith(("：", ":")) and len(first) <= 60 and not re.search("[。；！？]", first):
        return first.rstrip("：:")
    return ""


def _rank(name: str) -> int | None:
    name = name.strip().removesuffix("级")
    if name in _RANK:
        return _RANK[name]
    units = _ADMIN.findall(name)
    return _RANK.get(units[-1]) if units else None


def _is_department(name: str) -> bool:
    n = name.strip()
    return bool(_DEPARTMENT.search(n)) and not re.search(r"(?:省|自治区|市|州|县|区|旗)委$", n)


def _check_qingshi(text: str, lines: list[str], addressee: str, issuer_rank: str | None) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    n = count_chars(text)
    if n > QINGSHI_MAX_CHARS:
        out.append(_finding("lint.qingshi.length", f"请示正文{n}字，超过{QINGSHI_MAX_CHARS}字，宜精简", "全文"))
    first = next((x.strip() for x in lines if x.strip()), "")
    names = [x.strip() for x in re.split(r"[、，,；;]", addressee or _detect_addressee(lines)) if x.strip()]
    if not names:
        out.append(
            _finding(
                "lint.qingshi.addressee",
                f"请示应主送一个上级机关，未找到主送机关（正文第一行为“{_short(first)}”）",
                "主送机关",
                "error",
                quote=first,
            )
        )
    elif len(names) > 1:
        out.append(
            _finding(
                "lint.qingshi.addressee",
                f"请示只能主送一个上级机关，实为{len(names)}个：{'、'.join(names)}",
                "主送机关",
                "error",
                quote="、".join(names),
            )
        )
    closing = _closing_index(lines)
    if closing is None or not _RE_QINGSHI_CLOSING.search(lines[closing]):
        out.append(
            _finding(
                "lint.qingshi.closing",
                "请示应以“特此请示”“妥否，请批示”“以上请示如无不妥，请批准”等结语结尾，"
                f"实为“{_short(lines[closing]) if closing is not None else '（无正文）'}”",
                _line_pos(closing) if closing is not None else "全文",
                quote=lines[closing].strip() if closing is not None else "",
            )
        )
    for i, line in enumerate(lines):
        for sentence in re.split(r"[。！？]", line):
            if not _RE_REQUEST_SENTENCE.search(sentence):
                continue
            enums = len(_RE_ENUM.findall(sentence))
            asks = len(re.findall(r"申请|恳请", sentence))
            if enums >= 2 or asks >= 2:
                out.append(
                    _finding(
                        "lint.qingshi.one_matter",
                        f"请示应一文一事，此处提出了多项请求：“{_short(sentence, 40)}”，应分别请示",
                        _line_pos(i),
                        "error",
                        quote=sentence.strip(),
                    )
                )
                break
    for i, line in enumerate(lines):
        m = _RE_PEER_PHRASE.search(line)
        if m:
            out.append(
                _finding(
                    "lint.qingshi.should_be_han",
                    f"“{m.group(0)}”是向不相隶属机关商洽、请求的用语，这类行文应使用“函”而不是“请示”",
                    _line_pos(i),
                    quote=m.group(0),
                )
            )
            break
    if issuer_rank and len(names) == 1:
        mine, theirs = _rank(issuer_rank), _rank(names[0])
        if mine and theirs and _is_department(names[0]) and theirs >= mine:
            out.append(
                _finding(
                    "lint.qingshi.should_be_han",
                    f"主送机关“{names[0]}”与发文机关同级或更低、不相隶属，向其请求批准事项应使用“函”",
                    "主送机关",
                    quote=names[0],
                )
            )
    return out


def _check_baogao(text: str, lines: list[str]) -> list[CheckFinding]:
    out: list[CheckFinding] = []
    n = count_chars(text)
    if n > BAOGAO_MAX_CHARS:
        out.append(_finding("lint.baogao.length", f"报告正文{n}字，超过{BAOGAO_MAX_CHARS}字，宜精简", "全文"))
    for i, line in enumerate(lines):
        m = _RE_REQUEST.search(line)
        if m:
            sentence = next((x for x in re.split(r"(?<=[。！？])", line) if m.group(0) in x), line)
            out.append(
                _finding(
                    "lint.baogao.request",
                    f"报告中不得夹带请示事项，实有“{_short(sentence, 40)}”；需要批准的事项应另行请示",
                    _line_pos(i),
                    "error",
                    quote=sentence.strip(),
                )
            )
    closing = _closing_index(lines)
    if closing is None or not _RE_BAOGAO_CLOSING.search(lines[closing]):
        out.append(
            _finding(
                "lint.baogao.closing",
                "报告一般以“特此报告”“专此报告”或“以上报告，请审阅”结尾，"
                f"实为“{_short(lines[closing]) if closing is not None else '（无正文）'}”",
                _line_pos(closing) if closing is not None else "全文",
                quote=lines[closing].strip() if closing is not None else "",
            )
        )
    return out


def lint_text(
    text: str, genre: str, *, title: str = "", addressee: str = "", issuer_rank: str | None = None
) -> list[CheckFinding]:
    """Genre rules for one text. ``issuer_rank`` is the issuing body's level (省/市/县/乡, "县级" ...)."""
    genre = genre.strip()
    lines = text.splitlines()
    kind = _genre_kind(genre)
    out: list[CheckFinding] = []
    if kind == "unknown":
        out.append(_finding("lint.genre.unknown", f"未知文种“{genre}”，已按通用规则检查", "文种", "info", quote=genre))
    out += _check_genre_name(genre, title)
    out += _check_title(title, genre)
    out += _check_headings(lines)
    out += _check_dates(lines, kind)
    if genre == "请示":
        out += _check_qingshi(text, lines, addressee, issuer_rank)
    elif genre == "报告":
        out += _check_baogao(text, lines)
    return out


def lint_draft(draft: Draft) -> list[CheckFinding]:
    """:func:`lint_text` on a draft's body (line numbers index ``draft.paragraphs``), plus its 成文日期."""
    b = draft.brief
    spoken = L.is_spoken(b.genre.strip())
    out = lint_text(draft.body_text, b.genre, title=draft.title or b.title, addressee="" if spoken else b.audience)
    if not spoken and _RE_CN_YEAR.search(b.date):
        out.append(
            _finding(
                "lint.date.issue_chinese",
                f"成文日期应使用阿拉伯数字（GB/T 9704-2012），实为“{b.date}”",
                "成文日期",
                "error",
                quote=b.date,
            )
        )
    return out
