"""Stage 4: review a draft against the five principles and three stances, plus checks that need no model."""

from __future__ import annotations

import logging
import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from drafting.checks.gate import CITED_DOCUMENT
from drafting.domain import (
    PRINCIPLES,
    STANCES,
    Brief,
    CheckFinding,
    Criterion,
    CriterionScore,
    Draft,
    Review,
    _Model,
    count_chars,
)
from drafting.errors import ModelOutputError
from drafting.llm.calls import collect_costs, complete_structured
from drafting.llm.prompts import PROMPTS_DIR, load_prompt
from drafting.writing.references import bigrams
from drafting.writing.text import brief_summary, criteria_descriptions

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "review",
    "score_draft",
    "check_draft",
    "unverified_numbers",
    "set_phrase_density",
    "principle_evidence",
    "evidence_coverage",
    "body_sentences",
    "body_text_without_headings",
    "bank_checks",
    "principle_findings",
    "is_heading_line",
]

log = logging.getLogger(__name__)

ALL_CRITERIA: tuple[Criterion, ...] = (*PRINCIPLES, *STANCES)
LENGTH_TOLERANCE = 0.15
THIN_SECTION = 0.5  # a body section under half its budget is thin
SET_PHRASES_PER_1000 = 6.0


class _RawScores(_Model):
    scores: list[CriterionScore] = Field(min_length=8)

    @field_validator("scores")
    @classmethod
    def _all_eight(cls, v: list[CriterionScore]) -> list[CriterionScore]:
        missing = {c.value for c in ALL_CRITERIA} - {s.criterion.value for s in v}
        if missing:
            raise ValueError(f"缺少评分项：{'、'.join(sorted(missing))}")
        return v


def _coerce_scores(data: Any) -> Any:
    if isinstance(data, dict) and "scores" not in data:
        items = [{"criterion": k, **v} for k, v in data.items() if isinstance(v, dict)]
        data = {"scores": items}
    if isinstance(data, list):
        data = {"scores": data}
    if isinstance(data, dict):
        cleaned = []
        for s in data.get("scores", []):
            if not isinstance(s, dict):
                continue
            s = {k: v for k, v in s.items() if k in CriterionScore.model_fields}
            try:
                s["score"] = max(1, min(10, round(float(s.get("score", 0)))))
            except (TypeError, ValueError):
                continue
            s["evidence"] = str(s.get("evidence") or "")
            s["suggestion"] = str(s.get("suggestion") or "")
            cleaned.append(s)
        seen: dict[str, dict[str, Any]] = {}
        for s in cleaned:
            seen.setdefault(str(s.get("criterion")), s)
        data = {"scores": list(seen.values())}
    return data


_SENT = re.compile(r"[^。！？；\n]+[。！？；]?[”’」』]*")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.findall(text) if count_chars(s) >= 4]


# Section headings as drafts write them: 一、… （一）… 1. … （1）… 第一，… is body text, not a heading.
_HEADING_START = re.compile(
    r"^\s*(?:[一二三四五六七八九十百]+、|（[一二三四五六七八九十]+）|\([一二三四五六七八九十]+\)|\d+[.．、]|（\d+）)"
)
TITLE_LINE_CHARS = 20  # a line this short without any punctuation is a title, not a sentence
HEADING_CHARS = 30  # a numbered line (or a paragraph's numbered first sentence) up to this long is a heading


def is_heading_line(line: str, headings: frozenset[str] = frozenset(), *, title_lines: bool = True) -> bool:
    """A section heading (numbered, or one of the draft's headings) or, with ``title_lines``, a short line
    without any punctuation (a title): never evidence of a principle. Model evidence is often a fragment
    without punctuation, so it is judged with ``title_lines=False``."""
    text = line.strip()
    if not text:
        return False
    if text in headings or text.rstrip("。") in headings:
        return True
    if _HEADING_START.match(text) and count_chars(text) <= HEADING_CHARS:
        return True
    if not title_lines:
        return False
    if not re.search(r"[，。；！？：,.;!?…、“”]", text):  # no punctuation at all: a title or a signature line
        return count_chars(text) <= TITLE_LINE_CHARS * 2
    return count_chars(text) <= TITLE_LINE_CHARS and not re.search(r"[，。；！？：,…]", text)


_FIRST_SENTENCE = re.compile(r"^[^。！？；\n]*[。！？；]")


def _headings(draft: Draft) -> frozenset[str]:
    """The draft's section headings, with and without their numbering (一、 （一） 1.)."""
    out: set[str] = set()
    for h in [s.heading.strip() for s in draft.sections] + [s.heading.strip() for s in draft.outline.sections]:
        if h:
            out.update({h, _HEADING_START.sub("", h).strip()})
    out.update({draft.title.strip(), draft.outline.title.strip()})
    return frozenset(x for x in out if x)


_LIST_HEAD = re.compile(
    r"^\s*(?:\d{1,2}[.．、]|[（(][一二三四五六七八九十\d]{1,3}[)）])\s*[^：:。，；]{2,16}[：:]\s*(?=\S)"
)


def _body_paragraphs(draft: Draft) -> list[str]:
    """Body paragraphs as written, heading lines and run-in headings left out."""
    headings = _headings(draft)
    out: list[str] = []
    for section in draft.sections:
        for para in section.text.splitlines():
            para = _LIST_HEAD.sub("", para.strip())  # run-in list head: “1. 强化组织领导：建立健全……”
            if not para or is_heading_line(para, headings):
                continue
            first = _FIRST_SENTENCE.match(para)
            if first and _HEADING_START.match(para) and count_chars(first.group(0)) <= HEADING_CHARS:
                para = para[first.end() :].strip()  # run-in heading: “（一）强化党政领导责任。各级……”
            if para:
                out.append(para)
    return out


def body_sentences(draft: Draft) -> list[str]:
    """The draft's body sentences, in order, without section headings, title lines or run-in headings."""
    return [s for para in _body_paragraphs(draft) for s in _sentences(para) if not is_heading_line(s)]


def body_text_without_headings(draft: Draft) -> str:
    """The body as paragraphs (one per line) without headings: what the bank checks read."""
    return "\n".join(_body_paragraphs(draft))


def _ground_evidence(
    evidence: str, draft_text: str, sentences: list[str] | None = None, headings: frozenset[str] = frozenset()
) -> str:
    """Evidence must be a quote from the body: keep it if it is one, else take the closest body sentence.
    A heading is never evidence: a quoted heading is dropped."""
    ev = evidence.strip().strip('“”"「」')
    body = sentences if sentences is not None else [s for s in _sentences(draft_text) if not is_heading_line(s)]
    if ev and is_heading_line(ev, headings, title_lines=False):
        return ""
    if ev and ev in draft_text:
        return ev if any(ev in s or s in ev for s in body) else ""
    if not body:
        return ""
    grams = bigrams(ev)
    return max(body, key=lambda s: len(grams & bigrams(s)) / (len(bigrams(s)) or 1))


# Word lists of the principle evidence patterns below (alternatives, some of them small patterns themselves).
_SUPERIORS = [
    "习近平",
    "总书记",
    "党中央",
    "中央",
    "国务院",
    "省委",
    "省政府",
    "市委",
    "市政府",
    "州委",
    "县委",
    "县政府",
    "上级",
]
_DIRECTIVES = ["部署", "要求", "精神", "指示", "批示", "决策", "号召", "强调", "指出", "文件", "会议"]
_LOCAL_WORDS = [
    "群众",
    "老百姓",
    "百姓",
    "乡亲",
    "村民",
    "居民",
    "农户",
    "职工",
    "工人",
    "摊主",
    "商户",
    "基层",
    "一线",
    "家门口",
    "田间地头",
    "车间",
    "工地",
    "班组",
    "乡镇",
    "村组",
    "村里",
    "社区",
    "街道",
]
_FIRM_WORDS = [
    "必须",
    "坚决",
    "一律",
    "限期",
    "务必",
    "严禁",
    "绝不",
    "决不",
    "不得",
    "确保",
    "之前完成",
    "前完成",
    "底前",
    "月底",
    "日前",
    "谁[^，。；]{1,8}谁负责",
    "问责",
    "追责",
    "严肃处理",
    "一票否决",
    "立即",
    "马上",
]
_SUPERIOR = re.compile("(" + "|".join(_SUPERIORS) + ")[^。；！？]{0,14}(" + "|".join(_DIRECTIVES) + ")")
_LOCAL = re.compile(
    r"\d|〔待补|［待补|\[待补|" + "|".join(_LOCAL_WORDS) + r"|[\u4e00-\u9fff]{2}(?<![乡农城])(?:镇|村)(?=[，。、的和])"
)
_AUDIENCE = re.compile(r"同志们|大家|我们|咱们|各位|在座|朋友们|当前|最近|近期|今年以来|热点|关切|关心的")
_FIRM = re.compile("|".join(_FIRM_WORDS))
EVIDENCE_PER_PRINCIPLE = 5


def evidence_coverage(evidence: dict[Criterion, list[str]]) -> float:
    """Share of the five principles with at least one evidence sentence (for evals)."""
    return sum(1 for c in PRINCIPLES if evidence.get(c)) / len(PRINCIPLES)


def _classical_sentences(draft: Draft, banks: Any) -> set[str]:
    """Body sentences that quote a bank classic or carry a quotation attributed to a classic (古人云…,
    《论语》中说…). Quotations are found per paragraph, since a quoted line may hold its own 。"""
    from drafting.checks.bankcheck import find_quotations
    from drafting.writing.banks import han_only, quotes_wording, used_entries

    used = used_entries(body_text_without_headings(draft), banks).classics
    out: set[str] = set()
    for para in _body_paragraphs(draft):
        spans = [(q.start, q.start + 1 + len(q.text)) for q in find_quotations(para, banks) if q.classical]
        for m in _SENT.finditer(para):
            sentence = m.group(0).strip()
            if count_chars(sentence) < 4:
                continue
            near_claim = any(a < m.end() and m.start() < b for a, b in spans)
            if near_claim or any(quotes_wording(han_only(sentence), w) for e in used for w in e.wordings()):
                out.add(sentence)
    return out


_PEOPLE = re.compile(
    r"群众|老百姓|百姓|乡亲|村民|居民|农户|职工|工人|摊主|商户|基层|一线|家门口|田间地头|车间|工地|班组|乡镇|村组|村里|"
    r"社区|街道"
)
_ADDRESS = re.compile(r"同志们|大家|各位|在座|咱们|朋友们|急难愁盼|关心|关切|期盼|盼望")


def principle_evidence(draft: Draft, banks: Any = None) -> dict[Criterion, list[str]]:
    """Per principle, up to five body sentences that carry it (deterministic; headings never count),
    the clearest first.

    溢才气: quotes a bank classic, or a quotation attributed to a classic (古人云, 《论语》中说); 通天气: a bank
    formulation, then an explicit reference to superior policy; 接地气: a local figure, a 〔待补：…〕
    placeholder, a named place, then the people on the ground in plain words; 聚人气: speaks to the audience
    (同志们, 大家) or to their concerns, then 我们/当前; 显霸气: a firm requirement naming who or by when, then
    any firm wording."""
    from drafting.writing.banks import load_banks, used_entries
    from drafting.writing.principles import closing_requirements, has_local_fact

    banks = banks or load_banks()
    sentences = list(dict.fromkeys(body_sentences(draft)))
    formulation_keys = [f.text for f in used_entries(body_text_without_headings(draft), banks).formulations]
    classical = _classical_sentences(draft, banks)

    def firm_named(s: str) -> bool:
        have = closing_requirements(s)
        return bool(_FIRM.search(s)) and (have["party"] or have["deadline"])

    # (strong, weak) tests per principle: strong hits are listed before weak ones.
    tests: dict[Criterion, tuple[Any, Any]] = {
        Criterion.YICAIQI: (lambda s: s in classical, lambda s: False),
        Criterion.TONGTIANQI: (
            lambda s: any(f in s for f in formulation_keys),
            lambda s: bool(_SUPERIOR.search(s)),
        ),
        Criterion.JIEDIQI: (has_local_fact, lambda s: bool(_PEOPLE.search(s.replace("人民群众", "")))),
        Criterion.JURENQI: (lambda s: bool(_ADDRESS.search(s)), lambda s: bool(_AUDIENCE.search(s))),
        Criterion.XIANBAQI: (firm_named, lambda s: bool(_FIRM.search(s))),
    }
    out: dict[Criterion, list[str]] = {}
    for criterion in PRINCIPLES:
        strong, weak = tests[criterion]
        hits = [s for s in sentences if strong(s)] + [s for s in sentences if not strong(s) and weak(s)]
        out[criterion] = hits[:EVIDENCE_PER_PRINCIPLE]
    return out


def score_draft(draft: Draft, brief: Brief, llm: BaseChatModel) -> list[CriterionScore]:
    desc = criteria_descriptions()
    criteria = "\n".join(f"{c.value}：{desc[c.value]}" for c in ALL_CRITERIA)
    messages = load_prompt("review.scores").render(criteria=criteria, brief=brief_summary(brief), draft=draft.body_text)
    raw = complete_structured(llm, messages, _RawScores, stage="review", max_tokens=1200, coerce=_coerce_scores)
    text = draft.body_text
    body = body_sentences(draft)
    headings = _headings(draft)
    by_name = {s.criterion: s for s in raw.scores}
    return [
        by_name[c].model_copy(update={"evidence": _ground_evidence(by_name[c].evidence, text, body, headings)})
        for c in ALL_CRITERIA
    ]


@lru_cache(maxsize=1)
def _set_phrases() -> tuple[str, ...]:
    lines = (PROMPTS_DIR / "taohua.txt").read_text(encoding="utf-8").splitlines()
    return tuple(x.strip() for x in lines if x.strip() and not x.startswith("#"))


def set_phrase_density(text: str) -> tuple[float, Counter[str]]:
    """Set phrases per 1000 Chinese characters, and which ones."""
    hits = Counter({p: text.count(p) for p in _set_phrases() if p in text})
    chars = max(1, count_chars(text))
    return sum(hits.values()) * 1000 / chars, hits


_NUMBER = re.compile(
    r"(?<![\[\d])(\d+(?:\.\d+)?)(%|％|个百分点|亿元|万元|元|万人|人次|人|家|户|项|个|起|次|公里|亩|吨|年|月|日|天|所|座|条|台|辆|名)?(?!\])"
)


def unverified_numbers(draft: Draft) -> list[str]:
    """Figures in the draft that appear neither in the brief nor in any cited passage or material."""
    b = draft.brief
    sources = " ".join([brief_summary(b), *b.material, *b.confirmed, *(c.passage.text for c in draft.citations)])
    known = {m.group(1) for m in _NUMBER.finditer(sources)}
    flagged = []
    for m in _NUMBER.finditer(draft.body_text):
        value = m.group(1)
        if value in known or (m.group(2) is None and len(value) < 2):
            continue
        if m.group(2) == "年" and CITED_DOCUMENT.match(draft.body_text[m.end() :]):
            continue  # "2023年国务院《政府工作报告》": a cited document's year, checked against the policy bank
        flagged.append(m.group(0))
    return list(dict.fromkeys(flagged))


def check_draft(draft: Draft) -> list[CheckFinding]:
    """Checks that need no model: length, repetition, thin sections, set phrases, figures,
    and the genre rules of ``lint`` (heading numbering included)."""
    findings: list[CheckFinding] = []
    target, actual = draft.brief.length, draft.char_count
    if abs(actual - target) > target * LENGTH_TOLERANCE:
        findings.append(
            CheckFinding(
                rule="length.target",
                message=f"篇幅 {actual} 字，目标 {target} 字，偏差超过 {LENGTH_TOLERANCE:.0%}",
                severity="warning",
            )
        )
    counts = Counter(s for s in _sentences(draft.body_text) if count_chars(s) >= 8)
    for sentence, n in counts.items():
        if n > 1:
            findings.append(
                CheckFinding(rule="repeat.sentence", message=f"句子重复 {n} 次：“{sentence[:30]}”", severity="warning")
            )
    for s, o in zip(draft.sections, draft.outline.sections, strict=False):
        chars = count_chars(s.text)
        where = s.heading or ("开头" if s.kind == "opening" else "结尾")
        if chars == 0:
            findings.append(
                CheckFinding(rule="section.empty", message=f"“{where}”没有内容", severity="error", position=where)
            )
        elif s.kind == "body" and o.budget and chars < o.budget * THIN_SECTION:
            findings.append(
                CheckFinding(
                    rule="section.thin",
                    message=f"“{where}”只有 {chars} 字，不到预算 {o.budget} 字的一半",
                    position=where,
                )
            )
        if not s.complete:
            findings.append(
                CheckFinding(
                    rule="section.incomplete", message=f"“{where}”未写完（模型中断）", severity="error", position=where
                )
            )
    density, hits = set_phrase_density(draft.body_text)
    if density > SET_PHRASES_PER_1000:
        top = "、".join(f"{p}×{n}" for p, n in hits.most_common(5))
        findings.append(
            CheckFinding(
                rule="style.set_phrases", message=f"套话偏多：每千字 {density:.1f} 处（{top}）", severity="info"
            )
        )
    for figure in unverified_numbers(draft):
        findings.append(
            CheckFinding(
                rule="fact.unverified",
                message=f"数字“{figure}”在任务和引用材料中都找不到，需核实",
                severity="warning",
                position=figure,
            )
        )
    findings.extend(bank_checks(draft))
    findings.extend(principle_findings(draft))
    try:
        from drafting.checks.lint import lint_draft
    except ImportError:  # pragma: no cover - lint ships with the package
        return findings
    return findings + lint_draft(draft)


def bank_checks(draft: Draft) -> list[CheckFinding]:
    """Quotations checked against the classics bank, formulations against the policy bank, brief and material."""
    from drafting.checks.bankcheck import check_formulations, check_quotes

    b = draft.brief
    text = body_text_without_headings(draft)
    material = "\n".join([*b.material, *(c.passage.text for c in draft.citations)])
    return check_quotes(text) + check_formulations(text, brief_summary(b), material)


def principle_findings(draft: Draft) -> list[CheckFinding]:
    """接地气 per body part and 显霸气 in the closing (drafting.principles.principle_checks)."""
    from drafting.writing.principles import principle_checks

    return principle_checks(draft)


def review(draft: Draft, brief: Brief, llm: BaseChatModel) -> Review:
    """Score the draft (one model call) and run the checks. A failed scoring call leaves the checks."""
    checks = check_draft(draft)
    with collect_costs() as costs:
        try:
            scores = score_draft(draft, brief, llm)
        except ModelOutputError as err:
            log.warning("review: scoring failed: %s", err)
            checks.insert(0, CheckFinding(rule="review.scores", message=str(err), severity="error"))
            scores = []
    evidence = {c.value: sentences for c, sentences in principle_evidence(draft).items()}
    return Review(scores=scores, checks=checks, costs=costs.snapshot(), evidence=evidence)
