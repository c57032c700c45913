"""The deterministic gate every draft passes before it is shown or saved.

What a program can check, it checks and repairs: cut-off sentences and fragments, repeated
sentences and headings, leaked prompt/outline/brief text, wrong register for the genre, heading
numbering, over-long parts, figures and names transplanted from 范文 (or invented), and sentences
copied from 范文. ``find_defects`` only counts (the evals use it on any system's text);
``repair_draft`` fixes a Draft and reports what it changed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from enum import Enum
from typing import TYPE_CHECKING

from drafting.checks.facts import PLACEHOLDER, Fact, FactKind, fact_key, find_facts, normalise, placeholder_for
from drafting.cnnum import HEADING_NUMERALS, cn_num, cn_numeral_value
from drafting.domain import Brief, CheckFinding, Draft, DraftSection, Passage, count_chars, now_iso
from drafting.writing.genres import genre_names, genre_profile
from drafting.writing.text import split_sentences

if TYPE_CHECKING:
    from drafting.writing.banks import Banks, ClassicLine, Formulation

__all__ = [
    "DefectKind",
    "Defect",
    "GateResult",
    "find_defects",
    "count_defects",
    "repair_draft",
    "clean_lines",
    "COPY_RUN",
    "THANK_YOU",
    "NEAR_REPEAT",
    "similar",
    "said_before",
]


class DefectKind(str, Enum):
    TRANSPLANTED_FACT = "transplanted_fact"  # a figure/name that a 范文 has and the writer never gave
    UNSOURCED_FACT = "unsourced_fact"  # a figure/name nobody gave (invented)
    COPIED_RUN = "copied_run"  # 30+ characters copied from one 范文
    FRAGMENT = "fragment"  # cut-off or headless sentence
    REPEAT = "repeat"  # a sentence or heading said twice
    LEAKED = "leaked"  # prompt, outline or brief text in the draft
    REGISTER = "register"  # wrong voice for the genre and speaker
    NUMBERING = "numbering"  # heading numbers out of order


LABELS = {
    DefectKind.TRANSPLANTED_FACT: "借用范文的数据或名称",
    DefectKind.UNSOURCED_FACT: "来源不明的数据或名称",
    DefectKind.COPIED_RUN: "照抄范文原句",
    DefectKind.FRAGMENT: "残句",
    DefectKind.REPEAT: "重复",
    DefectKind.LEAKED: "串入提示词或任务书",
    DefectKind.REGISTER: "语体不当",
    DefectKind.NUMBERING: "标题序号错误",
}


@dataclass(frozen=True)
class Defect:
    kind: DefectKind
    text: str
    detail: str = ""

    def finding(self, repaired: bool) -> CheckFinding:
        action = "已自动处理" if repaired else "请人工处理"
        return CheckFinding(
            rule=f"gate.{self.kind.value}",
            message=f"{LABELS[self.kind]}：“{self.text[:60]}”{('（' + self.detail + '）') if self.detail else ''}，{action}",
            severity="info" if repaired else "warning",
        )


@dataclass
class GateResult:
    draft: Draft
    fixed: list[Defect] = field(default_factory=list)
    remaining: list[Defect] = field(default_factory=list)


COPY_RUN = 30  # characters copied verbatim from one 范文 that make a copied sentence
NEAR_REPEAT = 0.8  # Jaccard share of bigrams two sentences share to count as the same sentence said twice
_END = "。！？；：”’」』）)…"
_TOP = re.compile(r"^([一二三四五六七八九十]+)、")
_SUB = re.compile(r"^[（(]([一二三四五六七八九十]+)[)）]")
_ARABIC = re.compile(r"^(\d{1,2})[.．、]")
_CITE = re.compile(r"\[\d{1,3}\]")
# Not "在卫生方面。": a 2008 government report opens its paragraphs that way; on the 313 official documents
# this matches one sentence, a punctuation slip in the source ("在反对以色列侵略扩张的斗争中。我们同……").
_BARE_ADVERBIAL = re.compile(
    r"^(?:在|从|对于?|随着|为了|通过|围绕|针对)[^，,。；！？“”]{1,18}(?:中|上|下|里|时|以来|之际|过程中|期间|基础上)[。！；]$"
)
_HEADLESS = re.compile(r"^[的了和与及等，、,。；：”’」』）)地得着并而但或]")
_MARKER = re.compile(r"【[^】]{0,30}】")
# The labels of the brief and prompt fields a model may echo as a line of its own ("篇幅：1500字").
_BRIEF_LABELS = [
    "文种",
    "标题",
    "场合",
    "讲话人",
    "发文单位",
    "讲话人/发文单位",
    "听众",
    "主送",
    "听众/主送",
    "篇幅",
    "领导交代",
    "上级精神",
    "本地情况",
    "本地情况和数据",
    "必须讲到的要点",
    "任务要点",
    "目的",
    "要点",
    "参考材料",
    "来源",
    "字数",
    "提纲",
    "全文提纲",
    "任务",
    "前文末尾",
    "本部分参考材料",
    "写作要求",
    "输出",
]
_LEAK_LINE = re.compile(r"^(?:" + "|".join(_BRIEF_LABELS) + r")\s*[:：]")
# Pieces of the prompt, or the model's chatter around its answer, that leak into the text.
_LEAK_PIECES = (
    r"（这是正文第一部分）",
    r"（未说明）",
    r"[（(]约\s*\d+\s*字[)）]",
    r"约\s*\d+\s*字左右?[。，]?",
    r"只输出正文[^。]*。?",
    r"不要重复标题[^。]*。?",
    r"^以下是[^\n]{0,40}[：:]",
    r"^好的[，,！!。]",
    r"^当然[，,！!]",
    r"```[a-z]*",
    r"^\s*#+\s*",
    r"\*\*",
    r"^\s*[-*•]\s+",  # a markdown bullet
)
_LEAK_SPAN = re.compile("|".join(_LEAK_PIECES))
_SOURCE_BLOCK = re.compile(r"^\s*\[\d{1,3}\]\s*(?:来源|出处)")
# A whole line in brackets that talks to the writer ("（讲话稿内容可参考提纲，具体细节可根据实际情况调整）").
_NOTE_LINE = re.compile(
    r"^[（(](?:注|说明|备注|提示)?[：:]?[^）)]{0,60}(?:参考|调整|说明|提纲|示例|仅供|字数|修改)[^）)]{0,40}[)）]$"
    r"|^[（(]?(?:署名|落款|签名)[：:][^\n]{0,30}$"  # a signature line under a speech
    r"|^[^。！？\n]{0,20}(?:\d{4}|XXXX|××××)年(?:XX|××|\d{1,2})月(?:XX|××)日[）)]?$"  # a date left as XX
)
_OTHER_BRACKET_GAP = re.compile(r"[\[【［（(]\s*待补\s*[:：]\s*([^\]】］）)〔〕]{1,40}?)\s*[\]】］）)]")
# A letter's close ("此致" / "敬礼！"): no speech, report or 公文 ends like a letter.
_LETTER_CLOSE = re.compile(r"^(?:此致|敬礼)[！!。]?\s*(?:敬礼[！!。]?)?$")
# A claim to be the only or the first ("福建省唯一的省级历史文化名城"): a fact only the writer can give.
_SUPERLATIVE = re.compile(
    r"唯一(?!宗旨)|首个|首家|第一个(?!百年)|第一家|(?:全国|全省|全市|全区|全县)(?:第一|首位|之最|最早|最大|领先)|率先在全[国省市]"
)
# A source in brackets on a line of its own ("（《左传·襄公二十五年》）"): its quotation was cut or never written.
_LONE_SOURCE = re.compile(r"^[（(]\s*《[^》]{1,30}》[^）)]{0,12}[)）][。]?$")
# Talk about the text instead of the text itself ("下面我将详细阐述这一部分的内容", "我们可以引用……的古语").
_META = re.compile(
    r"下面我(?:将|来|就)|(?:这|本)一?部分(?:的内容|主要|将|要讲)|详细阐述|我们可以引用|可以引用|的古语|上级提法|可引用的名句|"
    r"范文片段|全文提纲|〔待补：缺什么〕|有互动感|号召力，能调动|掷地有声。|以下是|如下所示|"
    r"可根据实际情况(?:调整|修改|增删|补充)|仅供参考|以上就是我(?:今天|的)|(?:讲话稿|发言稿|本稿|稿件)内容|"
    r"发出动员号召|点明会议主题|开门见山地?点明|我(?:将|来|想)(?:总结|介绍|分享|汇报|谈谈)一下|在这里与大家分享|(?:上的|的)(?:经验交流发言|讲话稿|发言稿|致辞稿|主持词)(?:[，。]|$)|"
    r"文字秘书|起草讲话稿和公文|以上是根据|根据您的|您的(?:提纲|要求)|编写的[^。！？]{0,12}全文|全文如下|[（(]略[)）]"
)
# A Latin word in Chinese prose is model noise ("了解他们的需求和 concerns"); acronyms are fine.
_LATIN = re.compile(r"(?<![A-Za-z])[a-z]{3,}(?![A-Za-z])")
# Sentences that paraphrase the instructions handed to the model share this share of their bigrams with one.
INSTRUCTION_ECHO = 0.6
_SALUTATION = re.compile(r"^(?:尊敬的|各位|同志们|亲爱的|朋友们|女士们)[^。！？；]{0,40}$")
# What follows the year of a cited document: an issuing body (or none) and the document's title.
CITED_DOCUMENT = re.compile(
    r"^(?:[\u4e00-\u9fff]{0,10}?(?:国务院|中央|党中央|中办|国办|省委|省政府|市委|市政府|县委|县政府|区委|区政府|部|委|厅|局))?《"
)
_PASTED_OFFER = re.compile(r"^“(.{2,80}?)”\s*[（(]([^）)]{2,40})[)）][。]?")
_THANKS_TWICE = re.compile(r"(谢谢(?:大家|各位)?[！!。])(?:\s*谢谢(?:大家|各位)?[！!。]?)+")
_ON_BEHALF_OF_TITLE = re.compile(
    r"代表([\u4e00-\u9fff]{2,24}?(?:人民政府|政府|委员会|党委|党组|办事处|联合社|合作社|管委会|局|委|厅|办|中心|公司|学校|医院))"
    r"(?:县长|市长|区长|镇长|乡长|省长|主任|局长|厅长|书记|主席|部长|总经理|董事长|校长|院长|理事长)"
)
_SELF_INTRO = re.compile(r"^我是[^，。！？]{1,14}(?:长|书记|主任|主席|局长|部长)[，,。]?")
# A label line with nothing under it ("具体措施：", "未来努力方向："): a hint the model copied as a heading.
_LABEL = re.compile(r"^[\u4e00-\u9fff、]{1,10}[：:]$")
# A quotation put in a leader's or a classic author's mouth: who is named before it or after it in brackets.
_SPEAKERS = r"习近平|总书记|毛泽东|毛主席|邓小平|周恩来|江泽民|胡锦涛|马克思|恩格斯|列宁|孔子|孟子|老子|庄子|荀子"
_SAID_BEFORE = re.compile(rf"(?:{_SPEAKERS})(?:同志)?[^“”。！？；]{{0,12}}$")
_SAID_AFTER = re.compile(rf"^[^“”。！？；（(]{{0,4}}[（(](?:{_SPEAKERS})[)）]")
# Words that show a sentence is about the writing job, not the occasion ("……作为报告会的演讲稿").
_JOB_WORDS = re.compile(r"演讲稿|讲话稿|发言稿|主持词|致辞稿|事迹材料|报告会的|字左右|第一人称|写一篇|撰写|起草")
REQUEST_ECHO = 0.6  # share of a sentence's bigrams found in the writer's request that makes it an echo
# Standard figures office prose uses without a source.
_STOCK_NUMBERS = frozenset({"24", "12345", "110", "119", "120", "365", "7", "100"})


_SPELLED = re.compile(
    rf"[{HEADING_NUMERALS}]*[十百][{HEADING_NUMERALS}]*|[{HEADING_NUMERALS}]+(?=[年个名人项家次万亿岁户所座条件位天周月倍])"
)


def spelled_numbers(text: str) -> list[str]:
    """The figures a text writes in Chinese numerals ("三十年" -> "30"), as digits."""
    values = (cn_numeral_value(m.group(0).replace("零", "〇")) for m in _SPELLED.finditer(text))
    return [str(v) for v in values if v]


def _quoted_again(sentence: str, seen: Sequence[str]) -> str | None:
    """The quotation in ``sentence`` when an earlier sentence already holds it: a saying or a line (it has a
    clause break inside, or runs to twelve characters), never a name in quotation marks (“最美退役军人”,
    “校企双聘”), which a piece says again and again."""
    for m in re.finditer(r"“([^“”]{6,})”", sentence):
        words = _bare(m.group(1))
        if not (re.search(r"[，,；;。！？]", m.group(1)) or len(words) >= 12):
            continue
        if len(words) >= 6 and any(words in _bare(t) for t in seen):
            return m.group(1)
    return None


def said_before(sentence: str, seen: Iterable[str], at: float = NEAR_REPEAT) -> bool:
    """True when ``sentence`` is one of ``seen`` said again: bigram Jaccard ``at`` or more with a sentence
    of comparable length (the gate's repeat check and the stream guard's)."""
    return any(similar(sentence, t) >= at for t in seen if abs(len(t) - len(sentence)) < len(sentence))


def _heading_core(heading: str) -> str:
    """A heading without its number and end punctuation: the words a sentence may parrot."""
    return _SUB.sub("", _TOP.sub("", heading.strip())).rstrip("。；;：:！ ")


def _unheading(s: str, cores: Sequence[str]) -> str | None:
    """``s`` without a heading it parrots ("接下来，我们要聚焦重点、精准发力，…落地见效。"): the sentence
    left over, "" when nothing of its own is left, None when it parrots no heading."""
    for core in cores:
        if count_chars(core) < 10 or core not in s:
            continue
        idx = s.index(core)
        before, after = s[:idx], s[idx + len(core) :]
        cut = max(before.rfind("，"), before.rfind(","))
        keep = before[: cut + 1] if cut >= 0 else ""
        after = after.lstrip("，,；;：:")
        if count_chars(after) == 0:
            after = ""
            keep = keep.rstrip("，,") + ("。" if keep else "")
        left = keep + after
        return left if count_chars(left) >= 8 else ""
    return None


def _balance_quotes(line: str) -> str:
    """Drop a lone Chinese quotation mark (the small model opens “ and forgets ”)."""
    if line.count("“") == line.count("”"):
        return line
    out, depth = [], 0
    for ch in line:
        if ch == "“":
            depth += 1
        elif ch == "”":
            if depth == 0:
                continue
            depth -= 1
        out.append(ch)
    text = "".join(out)
    while depth:  # unclosed: drop the last opening marks
        i = text.rfind("“")
        text = text[:i] + text[i + 1 :]
        depth -= 1
    return text


def _bare(text: str) -> str:
    return re.sub(r"[\s，。！？；：、“”‘’「」『』（）()《》\[\]0-9]", "", _CITE.sub("", text))


def _bigrams(text: str) -> set[str]:
    t = _bare(text)
    return {t[i : i + 2] for i in range(len(t) - 1)}


def similar(a: str, b: str) -> float:
    """Jaccard share of the character bigrams of two sentences (punctuation and spaces ignored)."""
    ga, gb = _bigrams(a), _bigrams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


def _is_heading(line: str) -> bool:
    return bool(_TOP.match(line) or (_SUB.match(line) and count_chars(line) <= 40))


@dataclass
class _Context:
    brief: Brief
    sources: str  # everything the writer supplied, normalised
    corpus: list[Passage]
    purposes: list[str]
    current_year: int
    title: str = ""
    # The 范文 passages normalised (for facts) and bare (for copied runs), computed once per draft.
    corpus_norm: tuple[str, ...] = ()
    corpus_bare: tuple[str, ...] = ()
    supplied_bare: str = ""  # the writer's own text, bare (for quotations)
    supplied_raw: str = ""  # the writer's own text without whitespace (for prompt runs)
    request_bigrams: frozenset[str] = frozenset()
    quoted: set[str] = field(default_factory=set)  # bank classics already put back as a full quotation
    offer_lines: int = 0  # pasted formulation lines turned into prose so far
    # The banks, with every entry bare, read once per draft (quotations and pasted bank lines are checked per line).
    banks: Banks | None = None
    bank_bare: frozenset[str] = frozenset()
    formulation_by_bare: dict[str, Formulation] = field(default_factory=dict)
    classics_bare: tuple[tuple[str, ClassicLine], ...] = ()

    @classmethod
    def build(
        cls,
        brief: Brief,
        passages: Sequence[Passage],
        confirmed: Iterable[str] = (),
        outline_purposes: Iterable[str] = (),
    ) -> _Context:
        supplied = [
            brief.title,
            brief.occasion,
            brief.speaker,
            brief.audience,
            brief.request,
            brief.policy,
            brief.facts,
            brief.date,
            *brief.key_points,
            *brief.material,
            *brief.confirmed,  # facts the writer confirmed in the ledger (drafting.checks.ledger)
            *confirmed,
            *(p.text for p in passages if p.origin == "material"),
        ]
        # The writer's "三十年" supplies the model's "30年" too.
        sources = normalise("\n".join([*supplied, *spelled_numbers("\n".join(supplied))]))
        corpus = [p for p in passages if p.origin != "material"]
        from drafting.writing.banks import load_banks

        banks = load_banks()
        classics_bare = tuple((_bare(c.text), c) for c in banks.classics)
        formulation_by_bare: dict[str, Formulation] = {}
        for f in banks.formulations:
            formulation_by_bare.setdefault(_bare(f.text), f)
        return cls(
            brief,
            sources,
            corpus,
            [p for p in outline_purposes if count_chars(p) >= 4],
            int(now_iso()[:4]),
            brief.title,
            tuple(normalise(p.text) for p in corpus),
            tuple(_bare(p.text) for p in corpus),
            _bare("\n".join(supplied)),
            re.sub(r"\s+", "", "\n".join(supplied)),
            frozenset(_bigrams(brief.request)),
            banks=banks,
            bank_bare=frozenset(b for b, _ in classics_bare) | frozenset(formulation_by_bare),
            formulation_by_bare=formulation_by_bare,
            classics_bare=classics_bare,
        )


# --- detectors, each returning (defect, replacement) pairs for one line ------------------------------------


def _has_number(key: str, text: str) -> bool:
    """``key`` occurs in ``text`` as a whole number ("6" is not in "2026", "26.7" is not in "126.75")."""
    return re.search(rf"(?<![0-9.]){re.escape(key)}(?![0-9])", text) is not None


def _fact_defects(line: str, ctx: _Context) -> list[tuple[Fact, DefectKind]]:
    out: list[tuple[Fact, DefectKind]] = []
    corpus_text = ctx.corpus_norm
    for f in find_facts(line):
        key = fact_key(f)
        if not key:
            continue
        if f.kind in (FactKind.PLACE, FactKind.ORG):
            # The name is the longest tail of the span that a 范文 uses ("全力推动东岭镇" -> "东岭镇").
            tails = [normalise(line[f.end - k : f.end]) for k in range(min(10, f.end - f.start), 2, -1)]
            known = next((t for t in tails if any(t in c for c in corpus_text)), "")
            if not known or known in ctx.sources:
                continue  # only names a 范文 supplied are known to be someone else's
            out.append((Fact(f.kind, known, f.end - len(known), f.end), DefectKind.TRANSPLANTED_FACT))
            continue
        if f.kind is FactKind.NUMBER:
            if _has_number(key, ctx.sources):
                continue
            if key in _STOCK_NUMBERS and f.unit in ("", "小时", "天", "%", "％"):
                continue
        elif key in ctx.sources:
            continue
        if f.kind is FactKind.DATE and re.fullmatch(r"\d{4}年", key) and abs(int(key[:4]) - ctx.current_year) <= 1:
            continue  # "2026年" for this year or last is how a speaker dates his own work
        if f.kind is FactKind.DATE and CITED_DOCUMENT.match(line[f.end :]):
            continue  # "2024年国务院《政府工作报告》": the date of a cited document, not a local fact
        in_corpus = any(_has_number(key, t) if f.kind is FactKind.NUMBER else key in t for t in corpus_text)
        out.append((f, DefectKind.TRANSPLANTED_FACT if in_corpus else DefectKind.UNSOURCED_FACT))
    return out


def _replace_facts(line: str, facts: list[tuple[Fact, DefectKind]]) -> str:
    for f, _ in sorted(facts, key=lambda x: -x[0].start):
        before = (
            re.sub(r"[0-9０-９.．%％]+[^，。；、]*$", "", line[: f.start])
            if f.kind is FactKind.NUMBER
            else line[: f.start]
        )
        ph = placeholder_for(f, before, line[f.end :])
        # Words that only made sense with the number ("约", "共", "达") go with it.
        head = re.sub(r"(?:约|近|共|达|超过|逾)$", "", line[: f.start])
        tail = line[f.end :]
        if f.kind is FactKind.DATE:
            tail = re.sub(r"^(?:底|初|末|中旬|上旬|下旬)", "", tail)  # "6月底": the placeholder is the whole time
        line = head + ph + tail
    # Two placeholders in a row with only 和/、 between them say the same thing twice.
    line = re.sub(r"(〔待补：[^〕]*〕)(?:[和、及与]|同比分别下降|分别)?\1", r"\1", line)
    return line


def _copied_run(sentence: str, ctx: _Context) -> tuple[str, str] | None:
    """The longest run of a sentence copied from one 范文 passage, if it is COPY_RUN or longer and not
    standard wording (found in passages of two different documents)."""
    bare = _bare(sentence)
    if len(bare) < COPY_RUN:
        return None
    best, title = "", ""
    for p, pb in zip(ctx.corpus, ctx.corpus_bare, strict=True):
        m = SequenceMatcher(None, bare, pb, autojunk=False).find_longest_match(0, len(bare), 0, len(pb))
        if m.size >= COPY_RUN and m.size > len(best):
            best, title = bare[m.a : m.a + m.size], p.title
    docs = {p.doc_id for p, pb in zip(ctx.corpus, ctx.corpus_bare, strict=True) if best in pb}
    if best and len(docs) < 2 and best not in _bare(ctx.sources):
        return best, title
    return None


def _register_problem(sentence: str, brief: Brief) -> str:
    profile = genre_profile(brief.genre)
    for pattern in profile.forbidden:
        if re.search(pattern, sentence):
            return f"{profile.name}中不宜出现"
    return ""


@functools.cache
def _instructions() -> tuple[str, ...]:
    """Sentences of the instructions the writer model is given (criteria, hints, genre voices)."""
    from drafting.writing.text import criteria_descriptions, part_hints

    texts: list[str] = [*criteria_descriptions().values(), *part_hints().values()]
    for name in genre_names():
        p = genre_profile(name)
        texts += [p.voice, p.opening_hint, p.closing_hint]
    return tuple(x for t in texts for x in re.split(r"[。；：]", t) if count_chars(x) >= 8)


@functools.cache
def _hint_clauses() -> tuple[str, ...]:
    """Clauses of the part hints; a draft sentence containing one verbatim pasted the instruction."""
    from drafting.writing.text import part_hints

    return tuple(c for h in part_hints().values() for c in re.split(r"[，、]", h) if count_chars(c) >= 4)


# A run of this many characters shared with the writer model's prompt templates is the prompt pasted into the
# text ("以上就是……的具体措施、要求或事例"). Measured on the 313 documents of ../shared/data/official-corpus:
# no 7-character run of the templates occurs in any of them (one 6-character run does).
PROMPT_RUN = 7
_PROMPT_FILES = ("draft.", "revise.", "outline.")
# Terms the instructions share with real documents (an 意见's "指导思想、目标、主要任务和保障措施"): a window
# holding one is not taken as pasted prompt: the text is cut at them (the corpus hits of the measurement above).
_STANDARD_TERMS = r"指导思想|主要任务|保障措施|切身利益"


@functools.cache
def _prompt_runs() -> frozenset[str]:
    """Every PROMPT_RUN-character window of the writer model's prompt templates (their fixed wording, not
    the brief, outline or references filled into them) that holds at least five Chinese characters."""
    from drafting.llm.prompts import PROMPTS_DIR
    from drafting.writing.genres import genre_instructions
    from drafting.writing.text import criteria_descriptions, follow_up_focuses, part_hints

    texts = [
        line
        for path in PROMPTS_DIR.glob("*.txt")
        if path.name.startswith(_PROMPT_FILES)
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.startswith("###")
    ]
    texts += [*part_hints().values(), *criteria_descriptions().values(), *genre_instructions()]
    texts += [focus for focuses in follow_up_focuses().values() for focus in focuses]
    texts += [label for label in _BRIEF_LABELS if len(label) >= PROMPT_RUN]  # "本地情况和数据"
    runs: set[str] = set()
    for text in texts:
        # A $slot is filled with the writer's brief; an example in quotation marks is wording to imitate.
        for piece in re.split(rf"\$\{{?\w+\}}?|“[^”]*”|{_STANDARD_TERMS}", text):
            piece = re.sub(r"\s+", "", piece)
            runs.update(
                w
                for i in range(len(piece) - PROMPT_RUN + 1)
                if len(re.findall(r"[\u4e00-\u9fff]", w := piece[i : i + PROMPT_RUN])) >= 5
            )
    return frozenset(runs)


def _pastes_prompt(sentence: str, ctx: _Context) -> bool:
    """Whether the sentence holds a run of the instructions that the writer did not write."""
    bare = re.sub(r"\s+", "", sentence)
    runs = _prompt_runs()
    windows = (bare[i : i + PROMPT_RUN] for i in range(len(bare) - PROMPT_RUN + 1))
    return any(w in runs and w not in ctx.supplied_raw for w in windows)


def _unverified_quote(sentence: str, ctx: _Context) -> str:
    """A quotation the sentence puts in a leader's or a classic author's mouth that neither the banks, the
    writer's text nor a 范文 has: an invented quotation. Returns it ("" when every quotation checks out)."""
    if "“" not in sentence and "云" not in sentence and "曰" not in sentence:
        return ""
    from drafting.checks.bankcheck import find_quotations

    known = ctx.bank_bare
    for q in find_quotations(sentence, ctx.banks):
        before, after = sentence[: q.start], sentence[q.start + len(q.text) + 1 :]
        named = _SAID_BEFORE.search(before.rstrip("：:，, “")) or _SAID_AFTER.match(after.lstrip("”"))
        if not (q.classical or named):
            continue
        bare = _bare(q.text)
        if count_chars(bare) < 4 or bare in known or bare in ctx.supplied_bare:
            continue
        if any(bare in p for p in ctx.corpus_bare) or any(bare in k or k in bare for k in known if len(k) >= 6):
            continue
        return q.text
    return ""


# A leader of our time named just before a quotation ("习近平总书记强调：“…”").
_LEADER_BEFORE = re.compile(r"(?:习近平|总书记|毛泽东|毛主席|邓小平|周恩来|江泽民|胡锦涛)(?:同志)?[^“”。！？；]{0,12}$")


def _misattributed_classic(sentence: str, ctx: _Context) -> str | None:
    """The sentence with a classical line from the bank given back to its book, when the model put it in a
    leader's mouth ("习近平总书记强调：“人无远虑，必有近忧。”" -> "《论语·卫灵公》中讲：…"); None when it did not."""
    if "“" not in sentence:
        return None
    for m in re.finditer(r"“([^“”]{2,80})”", sentence):
        bare = _bare(m.group(1))
        if len(bare) < 4:
            continue
        line = next((c for b, c in ctx.classics_bare if b and (b == bare or (len(b) >= 6 and b in bare))), None)
        before = sentence[: m.start()]
        lead = _LEADER_BEFORE.search(before)
        if line is None or lead is None or lead.group(0)[:2] in line.author:
            continue
        return before[: lead.start()] + line.spoken + sentence[m.end() :].lstrip("。")
    return None


_SOURCE_TAIL = re.compile(r"[（(]([^）)]{2,40})[)）][。]?$")


_REPORT_SOURCE = re.compile(r"^(\d{4}年)(.*?)政府工作报告$")


def _known_quote(quote: str, ctx: _Context) -> bool:
    """True when a quotation is a bank entry: a classical line (or a long enough piece of one) or a formulation."""
    bare = _bare(quote)
    if bare in ctx.formulation_by_bare:
        return True
    return any(
        b and (b == bare or (len(bare) >= 6 and bare in b) or (len(b) >= 6 and b in bare)) for b, _ in ctx.classics_bare
    )


def _once_said(said: str, ctx: _Context) -> str:
    """``said`` the first time a pasted formulation line is turned into prose, "" after that."""
    if ctx.offer_lines:
        return ""
    ctx.offer_lines += 1
    return said


def _spoken_document(source: str) -> str:
    """A bank line's document as a speech names it: "2025年中华人民共和国国务院政府工作报告" ->
    "2025年国务院《政府工作报告》"."""
    m = _REPORT_SOURCE.match(source.strip())
    return f"{m.group(1)}{m.group(2).replace('中华人民共和国', '')}《政府工作报告》" if m else source


def _unquoted_bank_line(line: str, ctx: _Context) -> str | None:
    """A line that is only a bank entry without quotation marks, as prose (a classic with its citation, a
    formulation with its document); "" when the classic is already quoted in full; None when it is no such line."""
    if "“" in line or count_chars(line) > 80:
        return None
    tail = _SOURCE_TAIL.search(line)
    bare = _bare(line[: tail.start()] if tail else line)
    if count_chars(bare) < 4:
        return None
    if tail and (f := ctx.formulation_by_bare.get(bare)):
        return _once_said(f"{_spoken_document(tail.group(1))}提出“{f.text}”。", ctx)
    for whole, c in ctx.classics_bare:
        if bare == whole or (len(bare) >= 8 and bare in whole):
            if whole in ctx.quoted:
                return ""
            ctx.quoted.add(whole)
            return c.spoken
    return None


# A person's profile ("李强，男，汉族，……") and a school ("毕业于松溪县中医学院") nobody gave are invented.
_PROFILE = re.compile(r"^(?:\d{1,2}[.、．]\s*)?([\u4e00-\u9fff]{2,4})[，,](?:[男女]|[\u4e00-\u9fff]{1,3}族)[，,]")
_GRADUATED = re.compile(r"毕业于([\u4e00-\u9fff]{2,24}?(?:大学|学院|学校|中专|中学|党校))")


def _unsourced_superlative(sentence: str, ctx: _Context) -> str:
    """A claim to be the only or the first that the writer's text does not make, or ""."""
    m = _SUPERLATIVE.search(sentence)
    return m.group(0) if m and normalise(m.group(0)) not in ctx.sources else ""


def _invented_profile(sentence: str, ctx: _Context) -> str:
    """A profile of a person the writer never named: the name ("" when the person is the writer's)."""
    m = _PROFILE.match(sentence)
    return m.group(1) if m and normalise(m.group(1)) not in ctx.sources else ""


def _invented_school(sentence: str, ctx: _Context) -> str:
    """The sentence with every school nobody gave replaced by a placeholder."""
    return _GRADUATED.sub(
        lambda m: m.group(0) if normalise(m.group(1)) in ctx.sources else "毕业于〔待补：毕业院校〕", sentence
    )


def _echoes_request(sentence: str, ctx: _Context) -> bool:
    """A sentence that restates the writer's instruction ("并以……的事迹作为报告会的演讲稿")."""
    if count_chars(sentence) < 12 or not ctx.request_bigrams or not _JOB_WORDS.search(sentence):
        return False
    grams = _bigrams(sentence)
    return bool(grams) and len(grams & ctx.request_bigrams) / len(grams) >= REQUEST_ECHO


def _talks_about_the_text(sentence: str, ctx: _Context) -> bool:
    """Prompt text, or talk about the text instead of the text itself."""
    return bool(
        _META.search(sentence)
        or _LATIN.search(sentence)
        or any(c in sentence for c in _hint_clauses())
        or any(similar(sentence, x) >= INSTRUCTION_ECHO for x in _instructions())
    )


# Checks whose hit removes the whole sentence: (check, kind, why); a check returns True or the text it found.
_DROPPED_SENTENCES: tuple[tuple[Callable[[str, _Context], bool | str], DefectKind, str], ...] = (
    (_talks_about_the_text, DefectKind.LEAKED, "说明性文字或提示词"),
    (_echoes_request, DefectKind.LEAKED, "复述写作要求"),
    (_pastes_prompt, DefectKind.LEAKED, "提示词原文"),
    (_unverified_quote, DefectKind.UNSOURCED_FACT, "无法核实的引语"),
    (_invented_profile, DefectKind.UNSOURCED_FACT, "编造的人物简历"),
    (_unsourced_superlative, DefectKind.UNSOURCED_FACT, "没有来源的“唯一”“首个”之类的说法"),
)


def _leaks(line: str, ctx: _Context) -> bool:
    if _LEAK_LINE.match(line) or _SOURCE_BLOCK.match(line):
        return True
    if ctx.title and count_chars(ctx.title) >= 6 and ctx.title in line:
        return True  # the title (or a 范文's header line) pasted into the body
    if re.search(
        r"[\u4e00-\u9fff]某某|[\u4e00-\u9fff]{1,2}某(?:同志|书记|县长|市长|局长)|某(?:大学|学院|公司|学校|医院|单位|企业|机关|部门)",
        line,
    ):
        return True  # a template's stand-in name
    bare = _bare(line)
    if not bare:
        return False
    if any(_bare(p) == bare for p in ctx.purposes):
        return True  # the outline's purpose line pasted as text
    req = _bare(ctx.brief.request)
    return bool(req) and len(bare) >= 12 and (bare in req and len(bare) >= 0.6 * len(req))


# --- the gate ------------------------------------------------------------------------------------------------


# A sub-heading made of the prompt's own words ("（三）具体措施和要求", "（二）群众身边的具体事、具体数字").
_HINT_HEADING = re.compile(
    r"^(?:具体措施|措施|要求|硬要求|事例|具体事例|典型事例)(?:[和、及](?:要求|事例|措施))*$|具体事、具体数字|群众身边的具体事"
)
_GREETING_WORD = re.compile(r"大家好|(?:上午|下午|晚上)好")


def clean_lines(
    lines: list[str],
    ctx: _Context,
    *,
    seen: list[str],
    fix: bool,
    headings_seen: set[str],
    headings: Sequence[str] = (),
) -> tuple[list[str], list[Defect]]:
    """Check (and with ``fix`` repair) a run of lines. ``seen`` carries sentences across parts;
    ``headings`` are the draft's headings, which no sentence should parrot."""
    out: list[str] = []
    defects: list[Defect] = []
    cores = [c for c in (_heading_core(h) for h in headings) if c]
    for raw in lines:
        # A placeholder a model rewrote in other brackets ("[待补：……]") is put back in the writer's 〔〕.
        line = _OTHER_BRACKET_GAP.sub(r"〔待补：\1〕", raw.strip())
        if not line:
            continue
        # A salutation carries no citation ("同志们：[1]").
        if _SALUTATION.match(_CITE.sub("", line)) and _CITE.search(line):
            defects.append(Defect(DefectKind.LEAKED, line, "称呼后面的引用标记"))
            line = _CITE.sub("", line) if fix else line
        # An offered entry pasted as a list line ("“欲速则不达……”（《论语·子路》）") becomes a sentence.
        if (pasted := _PASTED_OFFER.match(line)) and not _known_quote(pasted.group(1), ctx):
            # A quotation with a source that is in neither bank: the model made up the pair (seen: "“质量第一，
            # 信誉至上。”（《习近平关于加强党的政治建设的意见》）"); a speech must not put words in a document's mouth.
            defects.append(Defect(DefectKind.UNSOURCED_FACT, line[:40], "出处无从核对的引文"))
            rest = line[pasted.end() :]
            if fix and not rest.strip():
                continue
            line = rest.strip() if fix else line
            pasted = None
        if pasted:
            quote, source = pasted.group(1), pasted.group(2).strip()
            said = f"{source}中讲：“{quote}”" if source.startswith("《") else f"{_spoken_document(source)}提出“{quote}”"
            if not source.startswith("《") and _once_said(said, ctx) == "":
                said = ""  # a second pasted formulation: one such line is a citation, a stack of them is the offer list
            defects.append(Defect(DefectKind.LEAKED, line, "照搬提供的名句或提法清单"))
            rest = line[pasted.end() :]
            if fix and not said and not rest.strip():
                continue
            line = ((said + ("" if quote[-1:] in "。！？" else "。") if said else "") + rest) if fix else line
        # A bank line pasted without quotation marks ("接诉即办（2026年北京市政府工作报告）", half of a poem).
        said_line = _unquoted_bank_line(line, ctx)
        if said_line is not None:
            defects.append(Defect(DefectKind.LEAKED, line, "照搬提供的名句或提法清单"))
        if fix and said_line == "":
            continue  # the rest of a classic already quoted in full
        line = said_line if fix and said_line else line
        balanced = _balance_quotes(line)
        if balanced != line:
            defects.append(Defect(DefectKind.FRAGMENT, line[:30], "引号不成对"))
            line = balanced if fix else line
        # "谢谢大家！谢谢大家。": the thanks said once.
        once = _THANKS_TWICE.sub(r"\1", line)
        if once != line:
            defects.append(Defect(DefectKind.REPEAT, line[-20:], "致谢重复"))
            line = once if fix else line
        # Leaked markup and markers.
        stripped = _LEAK_SPAN.sub("", _MARKER.sub("", line)).strip()
        if stripped != line:
            defects.append(Defect(DefectKind.LEAKED, line, "提示词或标记"))
            line = stripped if fix else line
            if not stripped:
                continue
        if _LETTER_CLOSE.match(line):
            defects.append(Defect(DefectKind.REGISTER, line, "书信的结尾"))
            if fix:
                continue
        if _LONE_SOURCE.match(line):
            defects.append(Defect(DefectKind.FRAGMENT, line, "孤立的出处"))
            if fix:
                continue
        if _NOTE_LINE.match(line):
            defects.append(Defect(DefectKind.LEAKED, line, "写给撰稿人的说明"))
            if fix:
                continue
        if _leaks(line, ctx):
            defects.append(Defect(DefectKind.LEAKED, line, "任务书或提纲原文"))
            if fix:
                continue
        if _is_heading(line) and not genre_profile(ctx.brief.genre).titled:
            # A 致辞 or a 主持词 is read as paragraphs: a numbered line is the outline pasted in.
            defects.append(Defect(DefectKind.LEAKED, line, "不写小标题的文种出现了小标题"))
            if fix:
                continue
        if _is_heading(line):
            heading = _SUB.sub("", _TOP.sub("", line))
            if (
                _HINT_HEADING.search(heading.strip())
                or any(c in heading for c in _hint_clauses())
                or _pastes_prompt(heading, ctx)
            ):
                defects.append(Defect(DefectKind.LEAKED, line, "提示词当作小标题"))
                if fix:
                    continue
            seen.append(heading)
            key = _bare(heading)
            if key in headings_seen:
                defects.append(Defect(DefectKind.REPEAT, line, "标题重复"))
                if fix:
                    continue
            headings_seen.add(key)
            out.append(line)
            continue
        # A stray scrap ("好。") is not a paragraph; a salutation ("同志们：") is.
        if _SALUTATION.match(line) and line[-1:] in "：:，,！!":
            out.append(line)  # "尊敬的各位领导、各位同仁，" opens a speech
            continue
        if (
            count_chars(line) < 6
            and not line.endswith(("：", ":"))
            and not PLACEHOLDER.search(line)
            and not _THANKS.fullmatch(line)
        ):
            defects.append(Defect(DefectKind.FRAGMENT, line, "残段"))
            if fix:
                continue
        # Fragments: a headless start, or an end cut off mid-sentence.
        if _HEADLESS.match(line):
            first_end = re.search(r"[。！？；]", line)
            defects.append(Defect(DefectKind.FRAGMENT, line[:30], "句子不完整"))
            if fix:
                line = line[first_end.end() :].strip() if first_end else ""
                if not line:
                    continue
        if line[-1] not in _END and not re.search(r"〕$", line):
            defects.append(Defect(DefectKind.FRAGMENT, line[-30:], "句子没有写完"))
            if fix:
                end = max(line.rfind(c) for c in "。！？；")
                line = line[: end + 1] if end > 0 else ""
                if not line:
                    continue
        kept: list[str] = []
        for s in split_sentences(line):
            # A sentence that parrots a heading.
            if (left := _unheading(s, cores)) is not None:
                defects.append(Defect(DefectKind.REPEAT, s, "复述标题"))
                if fix:
                    if not left:
                        continue
                    s = left
            # An adverbial with nothing after it ("在接下来的工作中。"): what was left of a cut sentence.
            if _BARE_ADVERBIAL.match(s):
                defects.append(Defect(DefectKind.FRAGMENT, s, "只有状语的残句"))
                if fix:
                    continue
            # A classical line put in a leader's mouth goes back to its book.
            if (given_back := _misattributed_classic(s, ctx)) is not None:
                defects.append(Defect(DefectKind.UNSOURCED_FACT, s, "古语安在领导人名下"))
                s = given_back if fix else s
            # Sentences that go whole: prompt text, the writing job restated, an invented quotation.
            drops = [
                Defect(kind, s if hit is True else str(hit), why)
                for check, kind, why in _DROPPED_SENTENCES
                if (hit := check(s, ctx))
            ]
            defects += drops
            if drops and fix:
                continue
            # A leader at his own meeting does not introduce himself ("我是云岗市副市长，今天……").
            if not genre_profile(ctx.brief.genre).self_intro and (intro := _SELF_INTRO.match(s)):
                defects.append(Defect(DefectKind.REGISTER, intro.group(0), "讲话人自我介绍"))
                if fix:
                    s = s[intro.end() :]
                    if count_chars(s) < 4:
                        continue
            # "我代表松溪县人民政府县长": a speaker speaks for his unit, not for his own office.
            if on_behalf := _ON_BEHALF_OF_TITLE.search(s):
                defects.append(Defect(DefectKind.REGISTER, on_behalf.group(0), "代表的是单位，不是职务"))
                if fix:
                    s = s[: on_behalf.end(1)] + s[on_behalf.end() :]
            # Register.
            if why := _register_problem(s, ctx.brief):
                defects.append(Defect(DefectKind.REGISTER, s, why))
                if fix:
                    continue
            # A greeting said again after the opening ("各位领导、各位代表，大家好！" before the thanks).
            if _GREETING_WORD.search(s) and any(_GREETING_WORD.search(t) for t in seen):
                defects.append(Defect(DefectKind.REPEAT, s, "问候语重复"))
                if fix:
                    continue
            # A quotation already quoted (the model starts the same classical line again, often cut short).
            if _quoted_again(s, seen) is not None:
                defects.append(Defect(DefectKind.REPEAT, s, "引文重复"))
                if fix:
                    continue
            # Repeats across the whole draft.
            if count_chars(s) >= 8 and said_before(s, seen):
                defects.append(Defect(DefectKind.REPEAT, s, "与前文重复"))
                if fix:
                    continue
            # Copied from a 范文.
            if copied := _copied_run(s, ctx):
                defects.append(Defect(DefectKind.COPIED_RUN, copied[0], f"照抄《{copied[1]}》"))
                if fix:
                    continue
            # Facts nobody gave.
            if (schooled := _invented_school(s, ctx)) != s:
                defects.append(Defect(DefectKind.UNSOURCED_FACT, s[:40], "编造的毕业院校"))
                s = schooled if fix else s
            bad = _fact_defects(s, ctx)
            for f, kind in bad:
                defects.append(Defect(kind, f.text, s[:40]))
            if bad and fix:
                s = _replace_facts(s, bad)
            if count_chars(s) >= 8 or _GREETING_WORD.search(s):
                seen.append(s)
            kept.append(s)
        line = "".join(kept).strip()
        if line:
            out.append(line)
    return out, defects


def _numbering(lines: list[str], fix: bool) -> tuple[list[str], list[Defect]]:
    """Second- and third-level numbers run 1, 2, 3 within their parent."""
    defects: list[Defect] = []
    out: list[str] = []
    top = sub = arabic = 0
    for line in lines:
        if m := _TOP.match(line):
            top += 1
            sub = arabic = 0
            if m.group(1) != cn_num(top):
                defects.append(Defect(DefectKind.NUMBERING, line[:20], f"应为“{cn_num(top)}、”"))
                line = f"{cn_num(top)}、{line[m.end() :]}" if fix else line
        elif m := _SUB.match(line):
            sub += 1
            arabic = 0
            if m.group(1) != cn_num(sub):
                defects.append(Defect(DefectKind.NUMBERING, line[:20], f"应为“（{cn_num(sub)}）”"))
                line = f"（{cn_num(sub)}）{line[m.end() :]}" if fix else line
        elif m := _ARABIC.match(line):
            arabic += 1
            if int(m.group(1)) != arabic:
                defects.append(Defect(DefectKind.NUMBERING, line[:20], f"应为“{arabic}.”"))
                line = f"{arabic}.{line[m.end() :]}" if fix else line
        out.append(line)
    return out, defects


# A line that announces a list ("我们将从以下几个方面入手：").
_ANNOUNCES = re.compile(r"(?:以下|如下|下列|几个方面|几点|几项)[^。！？；]{0,20}[：:]$|(?:我|现在)宣布[：:]$")


# A numbered item that is only a label ("1. 地域分布："): the model listed what it meant to write.
_EMPTY_ITEM = re.compile(r"^(?:\d{1,2}[.．、]|[（(][一二三四五六七八九十]{1,2}[)）])\s*[\u4e00-\u9fff、]{1,12}[：:]$")


def _empty_subheadings(lines: list[str], fix: bool) -> tuple[list[str], list[Defect]]:
    """A sub-heading ("（二）对策建议") with nothing under it before the next heading or the part's end, and a
    numbered item that is only a label ("1. 地域分布：")."""
    defects: list[Defect] = []
    out: list[str] = []
    for i, line in enumerate(lines):
        if _EMPTY_ITEM.match(line):
            defects.append(Defect(DefectKind.FRAGMENT, line, "空的条目"))
            if fix:
                continue
        follows = lines[i + 1] if i + 1 < len(lines) else ""
        if _SUB.match(line) and _is_heading(line) and (not follows or _is_heading(follows)):
            defects.append(Defect(DefectKind.FRAGMENT, line, "空的小标题"))
            if fix:
                continue
        out.append(line)
    return out, defects


def _lists(lines: list[str], fix: bool) -> tuple[list[str], list[Defect]]:
    """Numbered lists with one item, and announcements of a list that never comes.

    The small model often writes "从以下几个方面入手：" and one item, or trimming to the budget
    leaves only "1." of a list: a reader sees a promise the text does not keep.
    """
    defects: list[Defect] = []
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _ARABIC.match(line) and (i == 0 or not _ARABIC.match(lines[i - 1])):
            j = i
            while j < len(lines) and _ARABIC.match(lines[j]):
                j += 1
            if j - i == 1:
                defects.append(Defect(DefectKind.NUMBERING, line[:20], "列表只有一项"))
                if fix:
                    if out and _ANNOUNCES.search(out[-1]):
                        out.pop()
                    line = _ARABIC.sub("", line, count=1).strip()
        elif _LABEL.match(line) and not _SALUTATION.match(line):
            follows = lines[i + 1] if i + 1 < len(lines) else ""
            if not follows or _LABEL.match(follows) or _is_heading(follows):
                defects.append(Defect(DefectKind.FRAGMENT, line, "空的小标签"))
                if fix:
                    i += 1
                    continue
        elif _ANNOUNCES.search(line) and not _SALUTATION.match(line) and not _LEAK_SPAN.search(line):
            follows = lines[i + 1] if i + 1 < len(lines) else ""
            if not (_ARABIC.match(follows) or _SUB.match(follows)):
                defects.append(Defect(DefectKind.FRAGMENT, line[-30:], "引出下文却没有下文"))
                if fix:
                    i += 1
                    continue
        out.append(line)
        i += 1
    return out, defects


def find_defects(
    text: str,
    *,
    brief: Brief,
    passages: Sequence[Passage],
    confirmed: Iterable[str] = (),
    outline_purposes: Iterable[str] = (),
) -> list[Defect]:
    """Every defect in a draft given as plain text (title line first, then headings and paragraphs)."""
    ctx = _Context.build(brief, passages, confirmed, outline_purposes)
    lines = [x for x in text.splitlines() if x.strip()]
    if lines and not _is_heading(lines[0]) and count_chars(lines[0]) <= 40 and lines[0][-1:] not in "。！？；":
        lines = lines[1:]  # the title
    headings = [x for x in lines if _is_heading(x)]
    _, defects = clean_lines(lines, ctx, seen=[], fix=False, headings_seen=set(), headings=headings)
    _, empty = _empty_subheadings(lines, fix=False)
    _, numbering = _numbering(lines, fix=False)
    _, lists = _lists(lines, fix=False)
    body = "\n".join(lines)
    thanks = [
        Defect(DefectKind.REGISTER, m.group(0), "致谢不在结尾")
        for m in _THANKS.finditer(body)
        if _bare(_THANKS.sub("", body[m.end() :]))
    ]
    return defects + empty + numbering + lists + thanks


def count_defects(defects: Sequence[Defect]) -> dict[str, int]:
    counts = {k.value: 0 for k in DefectKind}
    for d in defects:
        counts[d.kind.value] += 1
    return counts


REPAIR_PASSES = 3


def repair_draft(
    draft: Draft,
    passages: Sequence[Passage],
    *,
    confirmed: Iterable[str] = (),
    fit: bool = True,
) -> GateResult:
    """Repair every section of ``draft`` until a pass leaves nothing it can find (at most REPAIR_PASSES): one
    repair can expose another (a sentence that parrots a heading, cut, leaves "的问题，……"; a dropped sentence
    leaves a pasted quotation at the start of its line), and the eval found both in drafts the gate had passed."""
    confirmed = list(confirmed)
    result = _repair_once(draft, passages, confirmed=confirmed, fit=fit)
    fixed = list(result.fixed)
    for _ in range(REPAIR_PASSES - 1):
        if not result.remaining:
            break
        again = _repair_once(result.draft, passages, confirmed=confirmed, fit=fit)
        if len(again.remaining) >= len(result.remaining):
            break
        fixed += again.fixed
        result = again
    return GateResult(result.draft, fixed, result.remaining)


def _repair_once(
    draft: Draft,
    passages: Sequence[Passage],
    *,
    confirmed: Iterable[str] = (),
    fit: bool = True,
) -> GateResult:
    """One repair pass over every section of ``draft``; then recount what is left. Section headings come from
    the outline and are numbered by the draft itself, so only the text inside parts is renumbered."""
    from drafting.writing.text import fit_length

    purposes = [s.purpose for s in draft.outline.sections]
    ctx = _Context.build(draft.brief, passages, confirmed, purposes)
    headings_seen = {_bare(_TOP.sub("", s.heading)) for s in draft.sections if s.heading}
    # A sentence that only restates a part's heading repeats it.
    seen: list[str] = [_TOP.sub("", s.heading) for s in draft.sections if s.heading]
    fixed: list[Defect] = []
    sections: list[DraftSection] = []
    budgets = {i: s.budget for i, s in enumerate(draft.outline.sections)}
    for i, sec in enumerate(draft.sections):
        own = {_bare(_TOP.sub("", sec.heading))}
        # Sub-headings seen in earlier parts stay seen: "（一）……" repeated in a later part is a repeat.
        heads = headings_seen - own
        lines, defects = clean_lines(
            sec.text.splitlines(),
            ctx,
            seen=seen,
            fix=True,
            headings_seen=heads,
            headings=[s.heading for s in draft.sections if s.heading],
        )
        headings_seen |= heads
        # A part's own heading repeated inside it is a repeat, handled above via headings_seen.
        lines, empty = _empty_subheadings(lines, fix=True)
        lines, numbering = _numbering(lines, fix=True)
        text = "\n".join(lines)
        budget = budgets.get(i, 0)
        if fit and budget:
            text = fit_length(text, budget)
        # Whatever trimming left of a quotation ("”" alone on a line) is not text.
        lines = [x for x in text.splitlines() if count_chars(x) > 0 or PLACEHOLDER.search(x)]
        # After the trim, which may have cut a list down to its first item.
        lines, lists = _lists(lines, fix=True)
        text = "\n".join(lines)
        fixed += defects + empty + numbering + lists
        sections.append(sec.model_copy(update={"text": text}))
    sections, thanks = _thanks_last(sections)
    repaired = draft.model_copy(update={"sections": sections})
    remaining = find_defects(
        "\n".join([repaired.title, repaired.body_text]),
        brief=draft.brief,
        passages=passages,
        confirmed=confirmed,
        outline_purposes=purposes,
    )
    return GateResult(repaired, fixed + thanks, remaining)


# What ends a speech: the wish for the event, the thanks. Nothing of the body may follow them.
THANK_YOU = re.compile(r"谢谢(?:大家|各位)?[！!。]")
_THANKS = re.compile(
    r"(?:(?:最后|在此)[，,]?)?(?:我们?)?(?:再次)?"
    rf"(?:预祝[^。！？\n]{{0,40}}(?:圆满成功|顺利|取得成功|成功)[！!。]|{THANK_YOU.pattern})"
)


def _thanks_last(sections: list[DraftSection]) -> tuple[list[DraftSection], list[Defect]]:
    """ "预祝……圆满成功！谢谢大家！" ends a speech: found before other text, it moves to the very end (the
    model, or a requirement added after it, often leaves text after the thanks)."""
    texts = [s.text for s in sections]
    last = max((i for i, x in enumerate(texts) if x.strip()), default=-1)
    if last < 0:
        return sections, []
    whole = "\n".join(texts)
    found = list(_THANKS.finditer(whole))
    if not found or not _bare(_THANKS.sub("", whole[found[0].end() :])):
        return sections, []
    closers = "".join(dict.fromkeys(m.group(0) for m in found))
    out = [_THANKS.sub("", x) for x in texts]
    out = ["\n".join(line for line in x.splitlines() if line.strip()) for x in out]
    out[last] = (out[last].rstrip() + closers) if out[last].strip() else closers
    fixed = [s.model_copy(update={"text": x}) for s, x in zip(sections, out, strict=True)]
    return fixed, [Defect(DefectKind.REGISTER, closers, "致谢不在结尾，移到最后")]


def placeholder_count(text: str) -> int:
    return len(PLACEHOLDER.findall(text))
