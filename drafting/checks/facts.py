"""Facts in a text: figures, dates, places and organisations, and where each may come from.

A 范文 teaches form; its figures, names and dates belong to another unit. This module finds the
fact-like spans of a draft so that the gate can keep those the writer supplied (brief, material,
confirmed facts) and turn the rest into visible 〔待补：…〕 placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "FactKind",
    "Fact",
    "PLACEHOLDER",
    "find_facts",
    "fact_key",
    "placeholder_for",
    "placeholders_in",
    "normalise",
    "fact_kind",
    "uses",
    "replace_uses",
    "supplied_by",
]

PLACEHOLDER = re.compile(r"〔待补[:：]([^〕]{0,60})〕")


class FactKind(str, Enum):
    NUMBER = "number"  # a figure with or without a unit: 11起, 26.7%, 4300余处
    DATE = "date"  # 2025年, 3月15日, 2025年3月
    PLACE = "place"  # 青山县, 东岭镇, 江川市
    ORG = "org"  # 县应急管理局, 江川化工有限公司
    PERSON = "person"  # 王建国同志, 李明县长 (only with find_facts(people=True): the ledger lists them)


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    text: str  # the span as written in the text
    start: int
    end: int
    unit: str = ""


_DIGITS = r"[0-9０-９]+(?:[.．][0-9０-９]+)?"
# Units that turn a bare number into a countable fact; order matters (longest first).
_UNITS = (
    "万人次|人次|场次|余处|余人|余起|余家|余个|余项|余次|余场|余户|余名|余件|余万|万余|"
    "万元|亿元|千元|元|万吨|吨|公里|千米|米|平方米|亩|公顷|万户|户|万人|人|名|起|处|家|个|项|次|场|件|所|座|"
    "条|台|辆|套|批|期|天|小时|分钟|倍|岁|位|支|类|种|宗|栋|间|张|篇|本|份|台次|架次|个百分点|百分点|%|％|‰"
)
_NUMBER = re.compile(rf"({_DIGITS})\s*(余|多)?\s*({_UNITS})?")
_DATE = re.compile(
    r"(?:[12][0-9]{3}|[１２][０-９]{3})\s*年(?:\s*[0-9０-９]{1,2}\s*月(?:\s*[0-9０-９]{1,2}\s*日)?)?"
    r"|[0-9０-９]{1,2}\s*月\s*[0-9０-９]{1,2}\s*日"
)
# A place or unit name: 2-6 characters ending in an administrative suffix. Generic words that end
# in a suffix ("全县", "各乡镇", "本市", "我区") are not names.
_PLACE = re.compile(r"[\u4e00-\u9fff]{1,5}?(?:省|市|县|区|镇|乡|村|街道|社区)")
_PLACE_NOT = re.compile(
    r"^(?:全|各|本|我|该|市|县|区|镇|乡|村|城|地|社|小|老|新|郊|山|农|城乡|县域|市域|区域|全市|全县|全区|全镇|"
    r"辖|园|景|片|街|社区|城市|城区|农村|乡村|山区|老城|新城|开发|示范|试点|重点|贫困|偏远|边远|欠发达|发达|周边|相关|有关|"
    r"所在|所属|属地|基层|下辖|城中|近郊|远郊|都市|超大|特大|大城|中小|中心城|行政|自治|直辖|省会|首府|口岸|"
    # quantifiers and determiners: 部分乡镇, 一些村, 这个县, 两个乡镇 are no names
    r"部分|大部分|绝大部分|一些|有些|有的|某些|多数|大多数|少数|个别|其他|其余|其它|另外|每个|各个|这个|那个|这些|那些|"
    r"[几两多一二三四五六七八九十百千0-9０-９]+个|相邻|毗邻|兄弟|友邻|先进|落后|上级|下级|同级|外地|外省|外市|外县)"
)
# "今天召开全县" ends in 县 but names no place: a generic word (全县, 各乡镇, 我市) at its end.
_GENERIC_TAIL = re.compile(r"[全各本我该](?:省|市|县|区|镇|乡|村|乡镇|街道|社区)$")
# A person named with a title: a common surname, one or two more characters, then the title.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_TITLES = (
    r"(?:同志|副?书记|副?县长|副?市长|副?区长|副?镇长|副?乡长|副?局长|副?主任|副?部长|副?厅长|副?处长|副?科长|"
    r"董事长|总经理|副?校长|副?院长|主席|委员|代表)"
)
# Only at the start of a phrase, or after a word that introduces a person ("由王明同志牵头").
_NAME = rf"(?:(?<![\u4e00-\u9fff])|(?<=[由请向和与对是在的把让同及为给]))[{_SURNAMES}][\u4e00-\u9fff]{{1,2}}?"
_PERSON = re.compile(rf"{_NAME}(?={_TITLES})")  # the name alone
_PERSON_TITLED = re.compile(rf"{_NAME}{_TITLES}")  # the name with its title
_ORG = re.compile(
    r"[\u4e00-\u9fff]{2,10}?(?:管理局|局|委员会|办公室|公司|集团|医院|学校|中学|小学|大学|银行|研究院|中心)"
)


def normalise(s: str) -> str:
    """Full-width digits to ASCII, no spaces: so 2025 and ２０２５ compare equal."""
    return s.translate(str.maketrans("０１２３４５６７８９．％", "0123456789.%")).replace(" ", "")


def fact_key(fact: Fact) -> str:
    """What must occur in a source for the fact to count as supplied: the figure itself for numbers
    (a source saying "11起事故" supports "事故11起"), the whole span otherwise."""
    figure = re.match(_DIGITS, fact.text) if fact.kind is FactKind.NUMBER else None
    return normalise(figure.group(0) if figure else fact.text)


def find_facts(text: str, *, people: bool = False) -> list[Fact]:
    """Fact-like spans in reading order, placeholders excluded, without overlaps (dates win over numbers).
    With ``people``, persons named with a title ("王建国同志") too; the gate leaves them out."""
    masked = PLACEHOLDER.sub(lambda m: "〔" + "＿" * (len(m.group(0)) - 2) + "〕", text)
    # Citation marks [3] and heading numbers are not facts.
    masked = re.sub(r"\[\d{1,3}\]", lambda m: "＿" * len(m.group(0)), masked)
    found: list[Fact] = []
    taken = [False] * len(masked)

    def claim(kind: FactKind, start: int, end: int, unit: str = "") -> None:
        if any(taken[start:end]):
            return
        for i in range(start, end):
            taken[i] = True
        found.append(Fact(kind, text[start:end], start, end, unit))

    if people:
        for m in _PERSON.finditer(masked):
            if "某" not in m.group(0):  # "王某某" is a template's stand-in, not a person
                claim(FactKind.PERSON, m.start(), m.end())
        # The person and the title after it are no place name ("李明县长" is not a 县).
        masked = _PERSON_TITLED.sub(lambda m: "＿" * len(m.group(0)), masked)
    for m in _DATE.finditer(masked):
        claim(FactKind.DATE, m.start(), m.end())
    for m in _NUMBER.finditer(masked):
        if not m.group(1):
            continue
        # "1." at the start of a line is list numbering, not a fact.
        line_start = masked.rfind("\n", 0, m.start()) + 1
        if masked[line_start : m.start()].strip() == "" and masked[m.end() : m.end() + 1] in (".", "．", "、"):
            continue
        if (
            masked[max(0, m.start() - 1) : m.start()] == "第"
            or masked[max(0, m.start() - 1) : m.start()].isascii()
            and masked[max(0, m.start() - 1) : m.start()].isalpha()
        ):
            continue  # an ordinal ("第3条") names a position, not a quantity
        if not m.group(3) and len(normalise(m.group(1))) < 2:
            continue  # a lone digit without a unit ("第3", "1") is not worth flagging
        claim(FactKind.NUMBER, m.start(), m.end(), m.group(3) or "")
    for m in _PLACE.finditer(masked):
        span = m.group(0)
        # Trim a leading verb/preposition the lazy match took in ("在青山县" -> "青山县").
        lead = re.match(
            r"^(?:在|对|向|把|从|与|和|及|同|到|赴|为|经|由|让|使|给|于|是|将|请|全力|推动|支持|帮助)", span
        )
        start = m.start() + (lead.end() if lead else 0)
        name = text[start : m.end()]
        if len(name) < 3 or _PLACE_NOT.match(name) or _GENERIC_TAIL.search(name):
            continue
        claim(FactKind.PLACE, start, m.end())
    for m in _ORG.finditer(masked):
        name = m.group(0)
        if len(name) < 4 or _PLACE_NOT.match(name) or name.startswith(("各", "有关", "相关", "全", "本", "我")):
            continue
        claim(FactKind.ORG, m.start(), m.end())
    return sorted(found, key=lambda f: f.start)


_UNIT_LABELS = {
    "%": "比例",
    "％": "比例",
    "‰": "比例",
    "百分点": "百分点数",
    "个百分点": "百分点数",
    "万元": "金额",
    "亿元": "金额",
    "元": "金额",
    "千元": "金额",
    "人": "人数",
    "万人": "人数",
    "名": "人数",
    "人次": "人次",
    "万人次": "人次",
    "户": "户数",
    "起": "起数",
    "处": "处数",
    "家": "家数",
    "个": "个数",
    "项": "项数",
    "次": "次数",
    "场次": "场次",
    "场": "场次",
    "件": "件数",
}


def _tail_words(text: str, limit: int) -> str:
    """The last whole words of ``text`` (jieba), at most ``limit`` characters: "追回医保基金", never
    "围内追回医保基金" from "在全市范围内追回医保基金"."""
    if len(text) <= limit:
        return text
    import jieba

    out = ""
    for word in reversed(jieba.lcut(text)):
        if len(out) + len(word) > limit:
            break
        out = word + out
    out = re.sub(r"^[内中上下里外的在对把将从向于和与及了]+", "", out)  # no stray particle at the front
    if "的" in out and len(out.rsplit("的", 1)[1]) >= 2:
        out = out.rsplit("的", 1)[1]  # the head noun: "协议的定点机构" -> "定点机构"
    return out or text[-limit:]


_ENDS_IN_VERB = re.compile(r"(?:完成|实现|达到|发放|投入|落实|承担|安排|筹集|争取)了?$|已经$|已$")


def placeholder_for(fact: Fact, context: str, after: str = "") -> str:
    """A visible placeholder naming what is missing, e.g. 〔待补：事故起数〕.

    ``context`` is the clause before the fact; its last few characters name the thing counted. When that
    clause ends in a verb ("已经完成了") and ``after`` (the text after the fact) goes on "的消费帮扶采购任务",
    the thing is named after the fact.
    """
    clause = re.split(r"[，。；：、！？,;:（）()“”\n]", context)[-1]
    if after and _ENDS_IN_VERB.search(clause) and (named := re.match(r"的([\u4e00-\u9fff]{2,10})", after)):
        clause = named.group(1)
    clause = re.sub(
        r"^(?:其中|全年|今年|去年|共|累计|已|同比|分别|比|较|达到?|超过|约|近|共计|合计|全县|全市|全区|全镇)+",
        "",
        clause,
    )
    clause = re.sub(
        r"(?:了|达到?|为|是|有|约|近|超过|共|累计|发生|完成|新增|减少|下降|增长|提高|排查|整改)+$", "", clause
    )
    subject = _tail_words(clause, 8)
    if fact.kind is FactKind.DATE and re.search(r"(?:在|于|到|至|截至)$", context.rstrip()):
        what = "完成时限"  # "必须在2026年6月底前完成": the deadline, not the words before it
    elif fact.kind is FactKind.DATE:
        what = f"{subject}日期" if subject else "日期"
    elif fact.kind is FactKind.PLACE:
        what = "地名"
    elif fact.kind is FactKind.ORG:
        what = "单位名称"
    elif fact.kind is FactKind.PERSON:
        what = "姓名"
    else:
        unit = fact.unit.lstrip("余")
        label = _UNIT_LABELS.get(unit, f"数字（{unit}）" if unit else "数字")
        if subject.endswith(("数", "量", "率", "额", "比例")):
            what = subject
        else:
            what = f"{subject}{label}" if subject and not subject.endswith(label) else (subject or label)
    return f"〔待补：{what}〕"


def placeholders_in(texts: Iterable[str]) -> list[str]:
    """Every 〔待补：…〕 label in the given texts, in order, without repeats."""
    seen: dict[str, None] = {}
    for t in texts:
        for m in PLACEHOLDER.finditer(t):
            seen.setdefault(m.group(1).strip(), None)
    return list(seen)


# --- the facts ledger: where a fact is used, and replacing it everywhere ------------------------------------


def fact_kind(value: str) -> FactKind | None:
    """The kind of a value that is one fact as a whole ("12起", "2025年3月", "青山县"), else None."""
    found = find_facts(value.strip(), people=True)
    if len(found) == 1 and found[0].text == value.strip():
        return found[0].kind
    return None


def uses(value: str, text: str) -> list[tuple[int, int]]:
    """Every span of ``text`` where the fact ``value`` is used. Figures and dates count where the text
    has that very fact ("11起" is not in "211起", nor "2025年" in "2025年3月"); a placeholder, a name or
    any other value wherever it occurs, except inside a placeholder's label."""
    value = value.strip()
    if not value:
        return []
    if fact_kind(value) in (FactKind.NUMBER, FactKind.DATE):
        want = normalise(value)
        return [(f.start, f.end) for f in find_facts(text) if normalise(f.text) == want]
    inside = [(m.start(), m.end()) for m in PLACEHOLDER.finditer(text)] if not PLACEHOLDER.fullmatch(value) else []
    spans: list[tuple[int, int]] = []
    at = text.find(value)
    while at >= 0:
        end = at + len(value)
        if not any(a <= at and end <= b for a, b in inside):
            spans.append((at, end))
        at = text.find(value, end)
    return spans


def replace_uses(text: str, value: str, new: str) -> tuple[str, int]:
    """``text`` with every use of ``value`` replaced by ``new``; nothing else changes. Returns the count."""
    spans = uses(value, text)
    for start, end in reversed(spans):
        text = text[:start] + new + text[end:]
    return text, len(spans)


def supplied_by(fact: Fact, source: str) -> bool:
    """Whether ``source`` supplies ``fact``, as the gate judges it: a figure as a whole number ("6" is
    not in "2026"), anything else as its text."""
    key = fact_key(fact)
    if not key:
        return False
    text = normalise(source)
    if fact.kind is FactKind.NUMBER:
        return re.search(rf"(?<![0-9.]){re.escape(key)}(?![0-9])", text) is not None
    return key in text
