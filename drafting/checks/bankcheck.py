"""Checks of a draft against the banks: classical quotations (溢才气) and policy formulations (通天气).

``check_quotes`` verifies every quotation a draft attributes to a classic (古人云…, 《X》中说…, 正如X所说…,
“…”，出自《…》) and every quoted line that looks like a bank line without being one: an exact quotation is
reported as verified with its entry, a misquotation with the correct line and source, a wrong attribution
with the right source, and an unknown line with a classical source as 出处无法核实. ``check_formulations``
flags quoted policy-looking formulations found in neither the policy bank, the brief nor the material.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from drafting.domain import CheckFinding, Severity
from drafting.writing.banks import Banks, ClassicLine, han_only, load_banks

__all__ = ["check_quotes", "check_formulations", "find_quotations", "Quotation", "FUZZY_THRESHOLD"]

FUZZY_THRESHOLD = 0.6
CLOSE_THRESHOLD = 0.8  # from here a near line is surely the same line misquoted (an error, not a question)
MIN_QUOTE = 4  # Chinese characters; shorter quoted words are terms, not quotations
MIN_UNATTRIBUTED = 6  # an unattributed quotation is compared with the bank only from this length

# Names that point to a book without naming it (two characters or more, so "书" never matches 汉书).
BOOK_ALIASES: dict[str, tuple[str, ...]] = {
    "论语": ("孔子", "子曰", "夫子"),
    "道德经": ("老子", "道德经"),
    "韩非子": ("韩非",),
    "管子": ("管仲",),
    "孙子": ("孙武", "孙子兵法"),
    "周易": ("易经",),
    "左传": ("左丘明", "春秋左氏传"),
    "史记": ("司马迁", "太史公"),
    "资治通鉴": ("司马光",),
    "吕氏春秋": ("吕不韦",),
    "汉书": ("班固",),
    "后汉书": ("范晔",),
    "淮南子": ("刘安",),
    "晏子春秋": ("晏子",),
    "商君书": ("商鞅",),
    "盐铁论": ("桓宽",),
    "论衡": ("王充",),
    "荀子": ("荀况",),
}
# Classical books a draft may name that the bank does not hold: a quotation claimed from one of them is checked.
OTHER_CLASSICS = (
    "增广贤文",
    "菜根谭",
    "孔子家语",
    "说苑",
    "新序",
    "新书",
    "潜夫论",
    "贞观政要",
    "列子",
    "文子",
    "鬼谷子",
    "国语",
    "战国策",
    "三国志",
    "旧唐书",
    "新唐书",
    "宋史",
    "明史",
    "清史稿",
    "汉书",
    "后汉书",
    "诗经",
    "尚书",
    "周礼",
    "仪礼",
    "孝经",
    "尔雅",
    "春秋",
    "公羊传",
    "穀梁传",
    "朱子语类",
    "近思录",
    "日知录",
    "明夷待访录",
    "古文观止",
    "昭明文选",
    "楚辞",
    "离骚",
    "抱朴子",
    "颜氏家训",
    "传习录",
    "四书章句集注",
    "大学",
    "中庸",
)
# Titles of modern documents and books: a quotation from one of them is not a classical quotation.
_MODERN_TITLE = re.compile(
    r"(法|条例|意见|通知|决定|规划|纲要|建议|报告|方案|办法|规定|决议|讲话|公报|章程|细则|准则|指南|计划|"
    r"草案|批复|函|纪要|新语|文选|选集|文集|摘编|治国理政|年鉴|日报|白皮书)(（[^）]*）)?$"
)
GENERIC_CLAIMS = ("古人", "古语", "先贤", "古训", "前人", "先人", "古话")
MODERN_CLAIMS = (
    "总书记",
    "习近平",
    "同志",
    "主席",
    "总理",
    "领导",
    "毛泽东",
    "邓小平",
    "周恩来",
    "马克思",
    "恩格斯",
    "列宁",
    "鲁迅",
)

_QUOTE = re.compile(r"[“「\"]([^“”「」\"\n]{2,160})[”」\"]")
_GENERIC_BEFORE = re.compile(
    r"(古人云|古人说|古人讲|古人讲得好|古人有言|古语云|古语说|古语讲|古语有云|古语道|先贤说|古训说)[^“「\"。]{0,6}$"
)
_BOOK_BEFORE = re.compile(
    r"([^，。；！？“”「」\n]{0,8}《[^》\n]{1,40}》)(?:中|里|上)?(?:说|讲|云|曰|写道|指出|有言|有云|记载)道?[：:，,]?\s*$"
)
_ASIF_BEFORE = re.compile(r"正如([^，。；“”「」\n]{1,24}?)所(?:说|言|讲|云|指出)的?(?:那样)?[：:，,]?\s*$")
_NAME_BEFORE = re.compile(r"([\u4e00-\u9fff]{2,4})(?:曾经|曾)?(?:说|云|曰|讲)过?[：:，,]\s*$")
_AFTER = re.compile(
    r"^\s*(?:[，,]?\s*(?:——|—)\s*|[（(]\s*|[，,]?\s*(?:这句话|此语|这句)?\s*(?:出自|语出|见于|典出|引自)\s*)"
    r"([^，。；“”「」《\n]{0,8}《[^》\n]{1,40}》)"
)
_UNQUOTED = re.compile(
    r"(古人云|古人说|古人讲|古人有言|古语云|古语说|古语有云|《[^》\n]{1,40}》(?:中|里)?(?:说|讲|云|曰|写道|有言))"
    r"[：:，,]\s*([^“「\"。！？；\n]{4,80})"
)
_POLICY_LOOK = re.compile(
    r"发展|建设|改革|治理|安全|工程|行动|体系|机制|经济|战略|理念|精神|意识|自信|至上|一体|统筹|推进|坚持|深化|"
    r"全面|高质量|现代化|振兴|共同|保障|服务|监管|攻坚|底线|红线|经验|计划|开放|创新|生产力|政绩|作风|民生|"
    r"^[一二三四五六七八九十两双](?:个|项|大|张|条|篇|件|下|不|化)|^[一二三四五六七八九十两双].{0,3}[一二三四五六七八九十两双]|\+|×"
)


@dataclass(frozen=True)
class Quotation:
    text: str  # as written in the draft
    claim: str  # the claimed source: "《荀子·劝学》", "孔子", "古人"; "" when none
    start: int
    # The claim names a classic (古人云, a classical author or book), not a modern speaker or document.
    classical: bool = False


def _is_classical(claim: str, banks: Banks, names: set[str]) -> bool:
    if not claim or any(m in claim for m in MODERN_CLAIMS):
        return False
    if any(g in claim for g in GENERIC_CLAIMS):
        return True
    books = {e.book for e in banks.classics} | set(OTHER_CLASSICS) | set(BOOK_ALIASES)
    titles = re.findall(r"《([^》]+)》", claim)
    if titles:
        return any(t.split("·")[0] in books or not _MODERN_TITLE.search(t) for t in titles)
    return any(n in claim for n in names)


def _known_names(banks: Banks) -> set[str]:
    names = {e.author for e in banks.classics if e.author}
    for aliases in BOOK_ALIASES.values():
        names.update(aliases)
    return names | {"孟子", "荀子", "庄子", "墨子", "孔子", "老子"}


def _claim_before(before: str, names: set[str]) -> str:
    for pattern in (_BOOK_BEFORE, _ASIF_BEFORE):
        m = pattern.search(before)
        if m:
            return m.group(1).strip()
    m = _GENERIC_BEFORE.search(before)
    if m:
        return "古人"
    m = _NAME_BEFORE.search(before)
    if m:
        name = next((n for n in names if m.group(1).endswith(n)), "")
        return name
    return ""


def find_quotations(text: str, banks: Banks | None = None) -> list[Quotation]:
    """Quoted spans with the source the draft claims for them (before or right after the quotation)."""
    banks = banks or load_banks()
    names = _known_names(banks)
    found: list[Quotation] = []
    for m in _QUOTE.finditer(text):
        before = text[max(0, m.start() - 30) : m.start()]
        claim = _claim_before(before, names)
        if not claim:
            after = _AFTER.match(text[m.end() : m.end() + 50])
            claim = after.group(1).strip() if after else ""
        found.append(Quotation(m.group(1).strip(), claim, m.start(), _is_classical(claim, banks, names)))
    for m in _UNQUOTED.finditer(text):
        marker = m.group(1)
        claim = "古人" if marker.startswith("古") else marker[: marker.index("》") + 1]
        found.append(Quotation(m.group(2).strip(), claim, m.start(2), _is_classical(claim, banks, names)))
    return sorted(found, key=lambda q: q.start)


def _claim_matches(claim: str, entry: ClassicLine) -> bool:
    if any(g in claim for g in GENERIC_CLAIMS):
        return True
    title = entry.source.strip("《》")
    keys = [entry.book, title, *BOOK_ALIASES.get(entry.book, ())]
    if len(entry.chapter) >= 2:
        keys.append(entry.chapter)
    if entry.author:
        keys.append(entry.author)
    return any(k and k in claim for k in keys)


def _similarity(q: str, e: str) -> float:
    if len(q) >= len(e):
        return SequenceMatcher(None, q, e, autojunk=False).ratio()
    n = len(q)
    return max(SequenceMatcher(None, q, e[i : i + n], autojunk=False).ratio() for i in range(len(e) - n + 1))


def _exact(qh: str, banks: Banks) -> list[ClassicLine]:
    out = []
    for e in banks.classics:
        for w in e.wordings():
            wh = han_only(w)
            if qh in wh or (len(wh) >= MIN_QUOTE and wh in qh):
                out.append(e)
                break
    return out


def _closest(qh: str, banks: Banks) -> tuple[ClassicLine | None, float, str]:
    best: tuple[ClassicLine | None, float, str] = (None, 0.0, "")
    for e in banks.classics:
        for w in e.wordings():
            score = _similarity(qh, han_only(w))
            if score > best[1]:
                best = (e, score, w)
    return best


def check_quotes(text: str, banks: Banks | None = None) -> list[CheckFinding]:
    """Verify quotations against the classics bank (see the module docstring for what is reported)."""
    banks = banks or load_banks()
    findings: list[CheckFinding] = []
    for q in find_quotations(text, banks):
        verdict = _quote_verdict(q, banks)
        if verdict is not None:
            rule, message, severity = verdict
            findings.append(CheckFinding(rule=rule, message=message, severity=severity, position=q.text))
    return findings


def _quote_verdict(q: Quotation, banks: Banks) -> tuple[str, str, Severity] | None:
    """(rule, message, severity) for one quotation, or None when there is nothing to report."""
    qh = han_only(q.text)
    shown = q.text.rstrip("。！？；，、")
    if len(qh) < MIN_QUOTE:
        return None
    exact = _exact(qh, banks)
    if exact:
        entry = next((e for e in exact if q.classical and _claim_matches(q.claim, e)), exact[0])
        if q.classical and not _claim_matches(q.claim, entry):
            return "quote.source", f"出处有误：“{shown}”出自{entry.citation}，稿中写作“{q.claim}”", Severity.ERROR
        return "quote.ok", f"引文核对无误：“{shown}”出自{entry.citation}", Severity.INFO
    if not q.classical and len(qh) < MIN_UNATTRIBUTED:
        return None
    near, score, wording = _closest(qh, banks)
    if near is not None and score >= FUZZY_THRESHOLD:
        if score >= CLOSE_THRESHOLD:
            return (
                "quote.misquote",
                f"引文与原文不符：稿中作“{shown}”，原文为“{wording}”（{near.citation}）",
                Severity.ERROR,
            )
        # Same pattern, different words: maybe another line altogether.
        message = (
            f"引文与名句库中的“{wording}”（{near.citation}）相近但不一致：稿中作“{shown}”。"
            "若引的是这一句，请照原文改正；若是另一句，请核实原文和出处"
        )
        return "quote.misquote", message, Severity.WARNING
    if q.classical:
        message = f"“{shown}”标称出自{q.claim}，名句库中没有这一句，出处无法核实：请对照原典核实，或删去"
        return "quote.unverified", message, Severity.WARNING
    return None


def check_formulations(
    text: str, brief_text: str = "", material_text: str = "", banks: Banks | None = None
) -> list[CheckFinding]:
    """Quoted policy-looking formulations (4–20 characters) found in neither the policy bank, the brief
    nor the material: the writer must check that the higher level really says so."""
    banks = banks or load_banks()
    known = [f.text for f in banks.formulations]
    known_han = [han_only(k) for k in known]
    brief_han, material_han = han_only(brief_text), han_only(material_text)
    findings: list[CheckFinding] = []
    seen: set[str] = set()
    for m in _QUOTE.finditer(text):
        q = m.group(1).strip()
        qh = han_only(q)
        if not MIN_QUOTE <= len(qh) <= 20 or q in seen or re.search(r"[。！？]", q):
            continue
        seen.add(q)
        if not _POLICY_LOOK.search(q) or _exact(qh, banks):
            continue
        in_bank = any(
            q in k or k in q or (qh and (qh in kh or kh in qh)) for k, kh in zip(known, known_han, strict=True)
        )
        if in_bank or q in brief_text or q in material_text or qh in brief_han or qh in material_han:
            continue
        findings.append(
            CheckFinding(
                rule="policy.unknown",
                message=f"提法“{q}”在上级提法库、任务书和素材中都找不到：请核实是否为上级原文提法，或改为一般表述",
                severity="warning",
                position=q,
            )
        )
    return findings
