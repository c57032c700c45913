"""Text helpers shared by the writing stages (and the gate): the brief as prompt lines, length
control and trimming, cleaning a section the model wrote, citation markers, and the criteria and
part-hint wording of prompts/. Stages import these from here, never from each other.
"""

from __future__ import annotations

import functools
import re
from functools import lru_cache

import yaml

from drafting.cnnum import cn_num
from drafting.domain import Brief, Citation, DraftSection, Outline, Passage, count_chars
from drafting.llm.prompts import PROMPTS_DIR
from drafting.writing.references import overlap

# Length control: trim above HIGH, ask for more below LOW (share of the section budget).
LENGTH_HIGH = 1.15
# Output token caps per Chinese character of budget: Qwen writes about 1.4-2.2 characters a token,
# so this leaves room for the whole section while stopping a runaway answer early.
TOKENS_PER_CHAR = 0.8
TOKENS_SLACK = 60
CITE = re.compile(r"\[(\d{1,3})\]")
SENTENCE_END = re.compile(r"(?<=[。！？；])")
TOP_HEADING = re.compile(r"^[一二三四五六七八九十]+、")


@lru_cache(maxsize=1)
def criteria_descriptions() -> dict[str, str]:
    return dict(yaml.safe_load((PROMPTS_DIR / "criteria.yaml").read_text(encoding="utf-8")))


def section_heading(outline: Outline, index: int) -> str:
    """``一、heading`` for body sections, numbered by their position among body sections."""
    s = outline.sections[index]
    if s.kind != "body":
        return ""
    n = sum(1 for x in outline.sections[: index + 1] if x.kind == "body")
    return f"{cn_num(n)}、{s.heading}"


_DEDUP_SPLIT = re.compile(r"(?<=[。！？；：])")
_MARKER = re.compile(r"^【[^】]{1,8}】$")
_SALUTATION = re.compile(r"^(尊敬的|各位领导|同志们[：:，,]?$|大家好)")


def clean_section_text(text: str, heading: str = "", previous: str = "") -> str:
    """Strip markdown, an echoed heading, prompt markers, sentences already written earlier,
    and anything the model wrote for the next section. Small models copy the context back."""
    lines: list[str] = []
    bare = re.sub(r"^[一二三四五六七八九十]+、", "", heading).strip()
    seen = {x for x in _DEDUP_SPLIT.split(previous.replace("\n", "")) if count_chars(x) >= 6}
    for raw in text.replace("\r", "").split("\n"):
        line = re.sub(r"^#+\s*|\*\*|__", "", raw).strip()
        if not line or _MARKER.match(line):
            continue
        if previous and _SALUTATION.match(line):
            continue  # only the opening greets the audience
        kept = [x for x in _DEDUP_SPLIT.split(line) if x not in seen]
        seen.update(x for x in kept if count_chars(x) >= 6)  # a small model also repeats itself
        line = "".join(kept).strip()
        if not line:
            continue
        if bare and (line == heading or line.strip("：: ") == bare or line == f"{heading}："):
            continue
        if TOP_HEADING.match(line) and lines:
            break  # the model started the next top-level section
        if TOP_HEADING.match(line) and bare and bare[:6] in line:
            continue
        lines.append(line)
    return "\n".join(lines)


def token_cap(chars: int) -> int:
    """The max_tokens for an answer of about ``chars`` Chinese characters."""
    return int(chars * TOKENS_PER_CHAR) + TOKENS_SLACK


def drop_fragment(text: str) -> str:
    """Drop a trailing unfinished sentence (an answer cut off by the token limit)."""
    stripped = text.rstrip()
    if not stripped or stripped[-1] in "。！？；”」』）)":
        return stripped
    cut = max(stripped.rfind(c) for c in "。！？；")
    if cut < 0:
        return stripped
    head = stripped[: cut + 1]
    if head.count("“") > head.count("”"):
        head += "”"
    return head


def fit_length(text: str, budget: int) -> str:
    """Trim an over-long section at a sentence boundary to about ``budget``·LENGTH_HIGH."""
    if budget <= 0 or count_chars(text) <= budget * LENGTH_HIGH:
        return text
    return trim_to(text, budget * (LENGTH_HIGH - 0.05))


# A sentence ends at 。！？； outside quotation marks: a quotation's inner sentences stay together (a cut or
# a dropped repeat never leaves half a quotation, "”的理念，……"); a quotation ending in 。” ends its sentence
# unless the sentence goes on ("……。”的理念", "……。”（《论语》）").
SENTENCE = re.compile(
    r"(?:“[^”\n]{0,200}”|[^。！？；\n“]|“)+?(?:[。！？；]+[”’」』）)]*|(?<=[。！？]”)(?![的地得之，、”（(])|$)"
)


_HEADING_LINE = re.compile(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）]|\d{1,2}[.．、])")
_GREETING = re.compile(r"^(?:尊敬的|各位|亲爱的|女士们|朋友们|同志们)|大家好|欢迎")


def prose_line(lines: list[str], *, after_greeting: bool = False) -> int | None:
    """The index of the first line a sentence may be put in front of: not a heading ("（一）……"), not a
    quotation with its source ("“……”（《论语》）"), and with ``after_greeting`` not a greeting."""
    for j, x in enumerate(lines):
        x = x.strip()
        if not x or x.startswith(("“", "（", "(")) or (_HEADING_LINE.match(x) and x[-1:] not in "。！？；"):
            continue
        if after_greeting and _GREETING.search(x):
            continue
        return j
    return None


def split_sentences(line: str) -> list[str]:
    """The sentences of one line, quotations kept whole (see SENTENCE)."""
    return [s for s in SENTENCE.findall(line) if s.strip()]


def trim_to(text: str, limit: float) -> str:
    """The longest run of whole sentences from the start of ``text`` within ``limit`` characters
    (at least one sentence)."""
    kept: list[str] = []
    total = 0
    for para in text.split("\n"):
        sentences = split_sentences(para)
        taken: list[str] = []
        for s in sentences:
            if total + count_chars(s) > limit and total > 0:
                break
            taken.append(s)
            total += count_chars(s)
        if taken:
            kept.append("".join(taken))
        if len(taken) < len(sentences):
            break
    return "\n".join(kept)


# A part may run over its budget by this share when the whole draft is short of its target.
PART_MAX = 1.5


def fit_parts(texts: list[str], budgets: list[int], target: int) -> list[str]:
    """Trim over-budget parts at sentence boundaries, but only as far as the whole stays at or above
    ``target``: a part the model wrote long is trimmed to about its budget·LENGTH_HIGH when the whole
    draft is long, and kept up to budget·PART_MAX when trimming it would leave the draft short.
    Cutting text the model has already written only loses time and length."""
    out = list(texts)
    sizes = [count_chars(t) for t in out]
    order = sorted((i for i, b in enumerate(budgets) if b > 0), key=lambda i: sizes[i] / budgets[i], reverse=True)
    for i in order:
        b = budgets[i]
        if sizes[i] <= b * LENGTH_HIGH:
            continue
        room = max(0, sum(sizes) - target)  # what can go without the whole falling under target
        keep = min(b * PART_MAX, max(b * (LENGTH_HIGH - 0.05), sizes[i] - room))
        if sizes[i] <= keep:
            continue
        out[i] = trim_to(out[i], keep)
        sizes[i] = count_chars(out[i])
    return out


def link_citations(text: str, passages: list[Passage], refs: list[int]) -> str:
    """Keep valid [n] marks; when the model cited nothing, mark the sentence that draws most on each ref."""
    text = CITE.sub(lambda m: m.group(0) if 1 <= int(m.group(1)) <= len(passages) else "", text)
    if CITE.search(text) or not refs:
        return text
    sentences = [s for s in SENTENCE_END.split(text) if s.strip()]
    marks: dict[int, int] = {}
    for n in refs:
        best, score = -1, 0.0
        for i, s in enumerate(sentences):
            sc = overlap(s, passages[n - 1].text)
            if sc > score:
                best, score = i, sc
        # Only claim a source where the sentence really shares wording with it.
        if best >= 0 and score >= 0.25 and best not in marks:
            marks[best] = n
    for i, n in marks.items():
        s = sentences[i]
        stripped = s.rstrip("\n")
        # The mark goes before the closing punctuation, a lead-in's colon included ("专业培训[2]：", never "：[2]").
        sentences[i] = (
            (stripped[:-1] + f"[{n}]" + stripped[-1]) if stripped[-1:] in "。！？；：:" else stripped + f"[{n}]"
        )
        sentences[i] += s[len(stripped) :]
    return "".join(sentences)


def collect_citations(sections: list[DraftSection], passages: list[Passage]) -> list[Citation]:
    used = sorted({int(n) for s in sections for n in CITE.findall(s.text) if 1 <= int(n) <= len(passages)})
    return [Citation(n=n, passage=passages[n - 1]) for n in used]


@functools.cache
def follow_up_focuses() -> dict[str, list[str]]:
    """What follow-up turns ask for, one focus a turn, by kind of text (prompts/follow_ups.yaml)."""
    return dict(yaml.safe_load((PROMPTS_DIR / "follow_ups.yaml").read_text(encoding="utf-8")))


def part_hints() -> dict[str, str]:
    """Short, actionable wording per principle for the part turns (prompts/part_hints.yaml)."""
    return dict(yaml.safe_load((PROMPTS_DIR / "part_hints.yaml").read_text(encoding="utf-8")))


def brief_summary(brief: Brief) -> str:
    """The brief as labelled lines for prompts."""
    lines = []
    labels = [
        ("文种", brief.genre),
        ("标题", brief.title),
        ("场合", brief.occasion),
        ("讲话人/发文单位", brief.speaker),
        ("听众/主送", brief.audience),
        ("篇幅", f"约{brief.length}字"),
        ("领导交代", brief.request),
        ("上级精神", brief.policy),
        ("本地情况和数据", brief.facts),
    ]
    for label, value in labels:
        if value and str(value).strip():
            lines.append(f"{label}：{str(value).strip()}")
    if brief.key_points:
        lines.append("必须讲到的要点：" + "；".join(brief.key_points))
    return "\n".join(lines)


HEADING_MAX = 36
_CLAUSE_END = re.compile(r"[，,；;：:、]")
# Words a short label must not end on ("医保基金是" reads as cut off).
_DANGLING = re.compile(r"(?:是|的|和|与|及|要|在|对|把|为|将|了|从|向|以|就|使|让|被|由|而|并)$")


def short_heading(text: str, limit: int = HEADING_MAX) -> str:
    """A key point as a heading: whole when short, otherwise cut at the last clause boundary before
    ``limit`` (never inside a word: "监管只能加强不能削" is no heading)."""
    text = text.strip().rstrip("。；;")
    if len(text) <= limit:
        return text
    cuts = [m.start() for m in _CLAUSE_END.finditer(text[: limit + 1]) if m.start() >= 8]
    if cuts:
        return text[: cuts[-1]]
    first = _CLAUSE_END.search(text)
    return text[: first.start()] if first and first.start() >= 4 else text


def short_label(text: str, limit: int = 8) -> str:
    """The first words of ``text``'s first clause, at most ``limit`` characters, cut between words
    (jieba) and never ending on a function word: the topic inside a 〔待补：…〕."""
    import jieba

    clause = _CLAUSE_END.split(re.sub(r"^[一二三四五六七八九十]+、", "", text.strip()), maxsplit=1)[0]
    if len(clause) <= limit:
        return _DANGLING.sub("", clause) or clause
    out = ""
    for word in jieba.lcut(clause):
        if len(out) + len(word) > limit or (len(out) >= 2 and _DANGLING.fullmatch(word)):
            break  # a function word ends the subject: "医保基金|是人民群众的…"
        out += word
    while out and _DANGLING.search(out):
        out = _DANGLING.sub("", out)
    return out or clause[:limit]
