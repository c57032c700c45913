"""The five principles made concrete in each part of a piece: which bank entries each outline part is
offered (and which the writer chose), the deterministic guarantees applied to a written draft, and the
checks of 接地气 / 显霸气 that need no model.

- :func:`offers_for` — per outline part, the principles it carries and the bank entries offered to it
  (the entries the writer chose on the outline, else the ones picked for the brief). The UI lists them and
  lets the writer swap one with :func:`swap_entry` (alternatives from :func:`alternatives_for`).
- :func:`ensure_principles` — after the model wrote the parts: one current formulation cited with its
  source (通天气), a 〔待补〕 placeholder in each body part without a concrete local fact (接地气), and a
  firm requirement with responsible parties and a deadline at the close of genres that call for it (显霸气).
- :func:`principle_checks` — the same two conditions as review findings; :func:`principles_report` — what
  the CLI and the JSON show: per part, principles, offered entries, used entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from drafting.domain import PRINCIPLES, Brief, CheckFinding, Criterion, Draft, Outline, count_chars, now_iso
from drafting.writing.banks import (
    Banks,
    ClassicLine,
    Formulation,
    load_banks,
    pick_classics,
    pick_formulations,
    used_entries,
)
from drafting.writing.genres import genre_profile
from drafting.writing.text import prose_line, short_label

__all__ = [
    "PartOffer",
    "EntryKind",
    "offers_for",
    "alternatives_for",
    "swap_entry",
    "chosen_entries",
    "writer_choices",
    "spoken_source",
    "ensure_principles",
    "ensure_formulation",
    "has_local_fact",
    "closing_requirements",
    "principle_checks",
    "principles_report",
    "CLASSICS_PER_PART",
    "FORMULATIONS_PER_PART",
]

EntryKind = Literal["classic", "formulation"]
CLASSICS_PER_PART = 2
FORMULATIONS_PER_PART = 3
ALTERNATIVES = 8

_NATIONAL = ("国务院", "中央委员会", "党中央")
_CONGRESS = re.compile(r"[（(](十[一二三四五六七八九]?大|二十[一二三四五六七八九]?大)[)）]\s*$")
_GWR = re.compile(r"^(\d{4})年(.*?)政府工作报告$")

# A concrete local fact: a figure, a placeholder to fill, a counted thing (三起, 两名), a date, or a
# named place below the county (XX镇, XX村).
_CONCRETE = re.compile(
    r"\d|〔待补|［待补|\[待补|【待补|"
    # 三起, 两名, 一百户; not a lone 一 (一项重要任务, 一次): that is a figure of speech.
    r"(?:[两二三四五六七八九十百千万][一二三四五六七八九十两百千万]*|一[十百千万][一二三四五六七八九十百千万]*)"
    r"(?:起|人|名|家|户|处|项|条|座|个百分点|万元|亿元|公里|亩|吨|次)|"
    r"[\u4e00-\u9fff]{2}(?<![乡农城集])(?:镇|乡|村|街道|社区)(?=[，。、的和在要])"
)
_FIRM = re.compile(r"必须|坚决|一律|务必|严禁|绝不|决不|不得|确保|要|限期|立即|问责|追责|严肃处理")
_PARTY = re.compile(
    r"各(?:乡镇|乡|镇|街道|区县|县区|县|区|市|部门|单位|有关部门|有关单位|级|企业)|县直|市直|"
    r"牵头|责任单位|负责同志|主要负责人|[\u4e00-\u9fff]{1,8}(?:局|委|办|部|厅|中心)(?:要|牵头|负责)|"
    r"〔待补：[^〕]*(?:单位|部门|责任人|牵头)[^〕]*〕"
)
_DEADLINE = re.compile(
    r"\d+月|\d+日|月底|月末|年底|年末|季度末|之前|以前|前完成|前报|限期|日内|天内|周内|个月内|即日起|"
    r"〔待补：[^〕]*(?:时限|日期|时间|期限)[^〕]*〕"
)


@dataclass(frozen=True)
class PartOffer:
    """One part of the outline as the writer sees it on the outline step."""

    index: int  # position in ``outline.sections``
    heading: str
    kind: str  # opening | body | closing
    principles: tuple[Criterion, ...]
    classics: tuple[ClassicLine, ...]
    formulations: tuple[Formulation, ...]
    chosen: bool  # True when the writer chose these entries on the outline (swap_entry)


def spoken_source(f: Formulation) -> str:
    """How a speech names the document: 2025年国务院《政府工作报告》, 党的二十大报告, 2026年云南省《政府工作报告》."""
    congress = _CONGRESS.search(f.document)
    if congress:
        return f"党的{congress.group(1)}报告"
    m = _GWR.match(f.document)
    if m:
        who = m.group(2).replace("中华人民共和国", "") or f.issuer.replace("人民政府", "")
        return f"{m.group(1)}年{who}《政府工作报告》"
    return f"{f.issuer}《{f.document.strip('《》')}》" if f.issuer else f"《{f.document.strip('《》')}》"


def _national(f: Formulation) -> bool:
    return any(n in f.issuer for n in _NATIONAL) or bool(_CONGRESS.search(f.document))


def _region(f: Formulation) -> str:
    m = _GWR.match(f.document)
    return m.group(2).replace("中华人民共和国", "") if m else ""


def _fits_office(f: Formulation, brief: Brief) -> bool:
    """A county in an unnamed province cites the centre; a province's wording only when the brief names it."""
    if f.origin == "office" or _national(f):
        return True
    region = re.sub(r"(省|市|自治区|壮族|回族|维吾尔)+$", "", _region(f))
    text = " ".join([brief.request, brief.title, brief.occasion, brief.policy, brief.facts])
    return bool(region) and region in text


def _part_indices(outline: Outline, principle: Criterion) -> list[int]:
    body = [i for i, s in enumerate(outline.sections) if s.kind == "body"]
    carriers = [i for i in body if principle in outline.sections[i].principles]
    return carriers or body[:1]


def _distinct(entries: list[Any]) -> list[Any]:
    return list({e.text: e for e in entries}.values())


def _by_text(entries: tuple[Any, ...], texts: list[str]) -> list[Any]:
    index = {e.text: e for e in entries}
    return [index[t] for t in texts if t in index]


def writer_choices(outline: Outline, banks: Banks | None = None) -> tuple[list[ClassicLine], list[Formulation]]:
    """The bank entries the writer chose per part on the outline page, in outline order, each once."""
    banks = banks or load_banks()
    classics = [e for s in outline.sections for e in _by_text(banks.classics, s.classics)]
    formulations = [e for s in outline.sections for e in _by_text(banks.formulations, s.formulations)]
    return _distinct(classics), _distinct(formulations)


def chosen_entries(
    outline: Outline, brief: Brief, banks: Banks | None = None
) -> tuple[list[ClassicLine], list[Formulation]]:
    """The classics and formulations for the whole piece: the writer's choices on the outline where made,
    else the ones picked for the brief (what the writer model should be offered)."""
    banks = banks or load_banks()
    classics, formulations = writer_choices(outline, banks)
    if not classics:
        classics = pick_classics(brief, k=CLASSICS_PER_PART, banks=banks)
    if not formulations:
        formulations = [
            f for f in pick_formulations(brief, k=FORMULATIONS_PER_PART + 2, banks=banks) if _fits_office(f, brief)
        ]
        formulations = formulations[:FORMULATIONS_PER_PART]
    return _distinct(classics), _distinct(formulations)


def offers_for(outline: Outline, brief: Brief, banks: Banks | None = None) -> list[PartOffer]:
    """Per outline part (all parts, in order): the principles assigned and the bank entries offered.
    Classics go to the parts carrying 溢才气, formulations to those carrying 通天气 (the first body part when
    none does); a part whose entries the writer chose keeps them."""
    banks = banks or load_banks()
    picked_c = pick_classics(brief, k=CLASSICS_PER_PART, banks=banks)
    picked_f = [f for f in pick_formulations(brief, k=FORMULATIONS_PER_PART + 2, banks=banks) if _fits_office(f, brief)]
    picked_f = picked_f[:FORMULATIONS_PER_PART]
    c_parts, f_parts = _part_indices(outline, Criterion.YICAIQI), _part_indices(outline, Criterion.TONGTIANQI)
    offers: list[PartOffer] = []
    for i, s in enumerate(outline.sections):
        chosen = bool(s.classics or s.formulations)
        classics = _by_text(banks.classics, s.classics) if s.classics else (picked_c if i in c_parts else [])
        formulations = (
            _by_text(banks.formulations, s.formulations) if s.formulations else (picked_f if i in f_parts else [])
        )
        offers.append(
            PartOffer(
                index=i,
                heading=s.heading,
                kind=s.kind,
                principles=tuple(s.principles),
                classics=tuple(classics),
                formulations=tuple(formulations),
                chosen=chosen,
            )
        )
    return offers


def alternatives_for(
    brief: Brief, kind: EntryKind, k: int = ALTERNATIVES, banks: Banks | None = None
) -> list[ClassicLine] | list[Formulation]:
    """Entries the writer may swap in, best-fitting first (for a select box on the outline step)."""
    banks = banks or load_banks()
    if kind == "classic":
        return pick_classics(brief, k=k, banks=banks)
    return [f for f in pick_formulations(brief, k=k + 4, banks=banks) if _fits_office(f, brief)][:k]


def swap_entry(
    outline: Outline,
    brief: Brief,
    index: int,
    kind: EntryKind,
    old: str | None,
    new: str,
    banks: Banks | None = None,
) -> Outline:
    """A copy of ``outline`` whose part ``index`` offers ``new`` (a bank entry's text) instead of ``old``
    (None: add it). The part's current offer becomes its stored choice, so the other entries stay.
    Raises ValueError (Chinese message) for an unknown entry or part."""
    banks = banks or load_banks()
    if not 0 <= index < len(outline.sections):
        raise ValueError(f"提纲没有第 {index + 1} 部分")
    entries: tuple[Any, ...] = banks.classics if kind == "classic" else banks.formulations
    if new not in {e.text for e in entries}:
        raise ValueError(f"“{new}”不在{'名句库' if kind == 'classic' else '提法库'}中")
    offer = offers_for(outline, brief, banks)[index]
    current = [e.text for e in (offer.classics if kind == "classic" else offer.formulations)]
    texts = [new if t == old else t for t in current] if old in current else [*current, new]
    texts = list(dict.fromkeys(texts))
    section = outline.sections[index]
    update = {"classics": texts} if kind == "classic" else {"formulations": texts}
    sections = list(outline.sections)
    sections[index] = section.model_copy(update=update)
    # A part that had the brief's picks keeps the other kind as it was offered.
    other = "formulations" if kind == "classic" else "classics"
    if not getattr(section, other):
        sections[index] = sections[index].model_copy(
            update={other: [e.text for e in (offer.formulations if kind == "classic" else offer.classics)]}
        )
    return outline.model_copy(update={"sections": sections})


# ---- guarantees on the written parts --------------------------------------------------------------

_SENTENCE = re.compile(r"[^。！？；]+[。！？；]?")


def _first_sentence_end(line: str) -> int:
    """Where the first sentence of ``line`` ends, never inside a quotation (“人无远虑，必有近忧。”)."""
    for m in _SENTENCE.finditer(line):
        head = line[: m.end()]
        if head.count("“") <= head.count("”"):
            return m.end()
        close = line.find("”", m.end())
        if close >= 0 and line[: close + 1].count("“") <= line[: close + 1].count("”"):
            if line[close - 1 : close] in "。！？；":
                # The quotation ends the sentence; its source in brackets stays with it.
                source = re.match(r"[（(][^）)]{1,40}[)）]。?", line[close + 1 :])
                return close + 1 + (source.end() if source else 0)
            after = _SENTENCE.match(line, close + 1)
            return after.end() if after and after.group(0).strip() else close + 1
    return len(line)


_ATTRIBUTED = re.compile(r"总书记|习近平|党中央|中央|国务院|省委|省政府|市委|强调|指出|要求|说|讲|提出|部署")


# A superior document named in the text: a regulation, a law, an opinion, a plan, a report.
_SUPERIOR_DOCUMENT = re.compile(r"《[^》]{2,40}(?:条例|法|规定|办法|意见|通知|决定|纲要|规划|报告|方案|指导意见)》")
STALE_AFTER_YEARS = 2


def _cited(sentence: str, f: Formulation) -> bool:
    return "《" in sentence or spoken_source(f) in sentence or "报告" in sentence


def ensure_formulation(parts: dict[int, list[str]], outline: Outline, brief: Brief, banks: Banks | None = None) -> bool:
    """Make the piece use at least one current bank formulation with its source named. A formulation the
    model used without its source gets the source before it (…提出的“统筹发展和安全”); when none is used,
    the 通天气 part opens with the best-fitting one. Returns whether the text changed."""
    banks = banks or load_banks()
    text = "\n".join("\n".join(v) for v in parts.values())
    used = used_entries(text, banks).formulations
    sentences = [m.group(0) for lines in parts.values() for line in lines for m in _SENTENCE.finditer(line)]
    if any(f.text in s and _cited(s, f) for f in used for s in sentences):
        return False
    for f in used:
        if not f.offer or not _fits_office(f, brief):
            continue
        for i in sorted(parts):
            for j, line in enumerate(parts[i]):
                at = line.find(f.text)
                if at < 0:
                    continue
                sentence = next(m for m in _SENTENCE.finditer(line) if m.start() <= at < m.end())
                if _ATTRIBUTED.search(line[sentence.start() : at]):
                    continue  # 总书记强调“…”: a speaker is named, a document must not be put in his mouth
                start, end = at, at + len(f.text)
                if start > 0 and line[start - 1] in "“「" and line[end : end + 1] in "”」":
                    start, end = start - 1, end + 1
                if start > 0 and line[start - 1] not in "。！？；，、：:\n" and not _VERB_BEFORE.search(line[:start]):
                    continue  # inside a phrase ("打通…的“最后一公里”"): a source there breaks the sentence
                # "强调的", not "提出的": the document repeats a formulation it may not have coined (blind review
                # 2026-11-27: "2023年……提出的‘以人民为中心的发展思想’" read as a political misattribution).
                parts[i][j] = line[:start] + f"{spoken_source(f)}强调的“{f.text}”" + line[end:]
                return True
    if any(_SUPERIOR_DOCUMENT.search(s) for s in sentences):
        return False  # the piece already cites a superior document (《医疗保障基金使用监督管理条例》): 通天气 is there
    _, offered = chosen_entries(outline, brief, banks)
    # Only a current document is put in front of a part (blind review 2026-11-27: a 2023 report cited in a
    # 2026 speech read as stale and out of context).
    year = int(now_iso()[:4])
    offered = [o for o in offered if not o.document[:4].isdigit() or int(o.document[:4]) >= year - STALE_AFTER_YEARS]
    carriers = [i for i in _part_indices(outline, Criterion.TONGTIANQI) if parts.get(i)]
    if not offered or not carriers:
        return False
    said = {u.text for u in used}
    # The newest documents first: a 2023 report cited in a 2026 speech reads as stale (blind review 2026-11-27).
    fresh = sorted(offered, key=lambda o: -int(o.document[:4]) if o.document[:4].isdigit() else 0)
    f = next((o for o in fresh if o.text not in said), fresh[0])
    verb = "明确部署" if re.search(r"(行动|工程|计划|攻坚战)$", f.text) else "明确提出"
    # No stock tail ("我们要不折不扣抓好贯彻落实"): the part's own first sentence follows and says what to do.
    lines = parts[carriers[0]]
    said_line = f"{spoken_source(f)}{verb}“{f.text}”。"
    if (first := prose_line(lines)) is None:
        lines.insert(0, said_line)
    else:
        lines[first] = said_line + lines[first]
    return True


# A document's year (2025年国务院《政府工作报告》), a citation mark [1] and a list number are no local facts.
_DOC_YEAR = re.compile(
    r"\d{4}年(?=[^，。；！？]{0,12}《)|\d{4}年(?=[^，。；！？]{0,4}(?:报告|会议|文件|精神))|\[\d+\]|"
    r"(?:^|(?<=\n))\s*[（(]?\d{1,2}[.．、)）]"  # a list number (1. 强化组织领导) is no figure either
)


_LOCAL_ASKS = (
    "从{ours}情况看，〔待补：{topic}方面的具体数据〕。",
    "比如，〔待补：{topic}的本地典型事例〕。",
    "{ours}的实际是：〔待补：{topic}存在的突出问题〕。",
    "具体到{ours}，〔待补：与{topic}相关的任务清单或数字〕。",
)


def has_local_fact(text: str) -> bool:
    """A figure, a 〔待补〕 placeholder, a counted thing or a named place below the county (a cited
    document's year does not count)."""
    return bool(_CONCRETE.search(_DOC_YEAR.sub("", text)))


def _place(brief: Brief) -> tuple[str, str]:
    """(我县, the units below the speaker) from the occasion: 全县 -> 各乡镇、县直各有关部门."""
    text = " ".join([brief.occasion, brief.title, brief.request, brief.speaker])
    for level, units in (
        ("县", "各乡镇、县直各有关部门"),
        ("区", "各街道、区直各有关部门"),
        ("市", "各县区、市直各有关部门"),
        ("省", "各市州、省直各有关部门"),
        ("镇", "各村、镇属各单位"),
        ("乡", "各村、乡属各单位"),
    ):
        if f"全{level}" in text or text.startswith(level) or f"{level}长" in text or f"{level}委" in text:
            return f"我{level}", units
    return "我们", "各有关单位"


def closing_requirements(text: str) -> dict[str, bool]:
    """Which parts of a firm requirement a closing carries: firm wording, a responsible party, a deadline."""
    return {
        "firm": bool(_FIRM.search(text)),
        "party": bool(_PARTY.search(text)),
        "deadline": bool(_DEADLINE.search(text)),
    }


def calls_for_requirements(brief: Brief) -> bool:
    """Genres whose closing gives requirements (讲话稿, 主持词, 通知, 意见, 纪要, 方案): from genres.yaml."""
    return "要求" in genre_profile(brief.genre).closing_hint


# Verbs after which a quoted formulation is the object ("落实“…”", "坚持“…”"): a source may precede it.
_VERB_BEFORE = re.compile(r"(?:落实|坚持|贯彻|践行|把握|按照|围绕|聚焦|推进|实施|强调|提出|要求)$")


def ensure_principles(parts: dict[int, list[str]], outline: Outline, brief: Brief, banks: Banks | None = None) -> bool:
    """The deterministic guarantees after the model wrote ``parts`` (see the module docstring).
    Changes ``parts`` in place; returns whether anything changed."""
    if not genre_profile(brief.genre).anchors:
        return False  # a story, a ceremony or a reflection: asks for local figures and deadlines do not belong
    changed = ensure_formulation(parts, outline, brief, banks)
    ours, units = _place(brief)
    # The writer gave facts or material: a part without a local fact needs the writer's facts, not a generic
    # ask (blind review of 2026-11-27: "我县的实际是：〔待补：……存在的突出问题〕" read as template residue, and
    # placeholders where the material has the figure as the draft not using it).
    supplied = bool(brief.facts.strip() or any(m.strip() for m in brief.material))
    for i, s in enumerate(outline.sections):
        lines = parts.get(i) or []
        if supplied or s.kind != "body" or not lines or has_local_fact("\n".join(lines)):
            continue
        # Worded differently per part: the gate drops a sentence that nearly repeats an earlier one.
        n = sum(1 for x in outline.sections[: i + 1] if x.kind == "body")
        topic = short_label(s.heading) or "这方面"
        ask = _LOCAL_ASKS[(n - 1) % len(_LOCAL_ASKS)].format(ours=ours, topic=topic)
        # After the first sentence of the first paragraph that is prose: never inside a quotation or
        # between a quoted line and its source ("“玉不琢……”（《礼记·学记》）").
        j = prose_line(lines)
        if j is None:
            lines.insert(1, ask)  # early: a trim to the part's budget keeps the beginning
        else:
            cut = _first_sentence_end(lines[j])
            lines[j] = lines[j][:cut] + ask + lines[j][cut:]
        changed = True
    closing = next((i for i, s in enumerate(outline.sections) if s.kind == "closing"), None)
    if closing is not None and calls_for_requirements(brief):
        have = closing_requirements("\n".join(parts.get(closing) or []))
        if not (have["party"] and have["deadline"]):
            meeting = genre_profile(brief.genre).spoken or "会" in brief.occasion
            line = (
                f"{'会后，' if meeting else ''}{units}要逐项细化措施，"
                "于〔待补：完成时限〕前把落实情况报〔待补：牵头单位〕，工作不力的严肃问责。"
            )
            lines = parts.get(closing) or []
            # After the closing's first sentence (同志们，…), before the call to action: the first
            # sentences survive a trim to the part's budget.
            j = next((k for k, x in enumerate(lines) if count_chars(x) >= 8), None)
            if j is None:
                parts[closing] = [*lines, line]
            else:
                cut = _first_sentence_end(lines[j])
                lines[j] = lines[j][:cut] + line + lines[j][cut:]
            changed = True
    return changed


# ---- checks and the report ------------------------------------------------------------------------


def principle_checks(draft: Draft) -> list[CheckFinding]:
    """接地气: each body part carries a concrete local fact or placeholder; 显霸气: the closing of a genre
    that calls for requirements names responsible parties and a deadline."""
    if not genre_profile(draft.brief.genre).anchors:
        return []  # a story, a ceremony, a reflection: no local-figure or deadline rule (genres.yaml anchors)
    body = [s for s in draft.sections if s.kind == "body"]
    found: list[tuple[str, str, str]] = [  # (rule, message, position), all warnings
        ("principle.local", f"“{name}”没有一处本地的具体情况（数字、事例、地名或〔待补〕）：接地气不足", name)
        for n, s in enumerate(body, 1)
        if s.text.strip() and not has_local_fact(s.text)
        for name in [s.heading or f"第{n}部分"]
    ]
    closing = next((s for s in draft.sections if s.kind == "closing"), None)
    if closing is not None and calls_for_requirements(draft.brief):
        have = closing_requirements(closing.text)
        missing = [
            name
            for key, name in (("firm", "硬性要求"), ("party", "责任单位"), ("deadline", "完成时限"))
            if not have[key]
        ]
        if missing:
            found.append(("principle.closing", f"结尾提要求时缺少{'、'.join(missing)}：显霸气不足", "结尾"))
    return [CheckFinding(rule=r, message=m, severity="warning", position=p) for r, m, p in found]


def _classic_json(e: ClassicLine) -> dict[str, Any]:
    return {"text": e.text, "source": e.source, "author": e.author, "citation": e.citation, "origin": e.origin}


def _formulation_json(e: Formulation) -> dict[str, Any]:
    return {
        "text": e.text,
        "document": e.document,
        "issuer": e.issuer,
        "year": e.year,
        "source": spoken_source(e),
        "origin": e.origin,
    }


def principles_report(draft: Draft, evidence: dict[Criterion, list[str]], banks: Banks | None = None) -> dict[str, Any]:
    """What the CLI prints and the JSON carries: per part the principles, the entries offered and the
    entries used; the entries the whole draft used; the per-principle evidence; the 接地气/显霸气 checks."""
    banks = banks or load_banks()
    parts = []
    for offer, section in zip(offers_for(draft.outline, draft.brief, banks), draft.sections, strict=False):
        used = used_entries(section.text, banks)
        parts.append(
            {
                "index": offer.index,
                "heading": offer.heading,
                "kind": offer.kind,
                "principles": [p.value for p in offer.principles],
                "offered": {
                    "classics": [_classic_json(e) for e in offer.classics],
                    "formulations": [_formulation_json(e) for e in offer.formulations],
                },
                "used": {
                    "classics": [_classic_json(e) for e in used.classics],
                    "formulations": [_formulation_json(e) for e in used.formulations],
                },
                "local_fact": has_local_fact(section.text) if section.kind == "body" else None,
            }
        )
    used_all = used_entries("\n".join(s.text for s in draft.sections), banks)
    return {
        "parts": parts,
        "used": {
            "classics": [_classic_json(e) for e in used_all.classics],
            "formulations": [_formulation_json(e) for e in used_all.formulations],
        },
        "evidence": {c.value: evidence.get(c, []) for c in PRINCIPLES},
        "checks": [f.model_dump(mode="json") for f in principle_checks(draft)],
    }
