"""Stage 4: review a draft against the five principles and three stances, plus checks that need no model."""

from __future__ import annotations

import logging
import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from .brief import brief_summary
from .calls import complete_structured
from .domain import (
    PRINCIPLES,
    STANCES,
    Brief,
    CheckFinding,
    Costs,
    Criterion,
    CriterionScore,
    Draft,
    Review,
    _Model,
    count_chars,
)
from .draft import criteria_descriptions
from .errors import ModelOutputError
from .prompts import PROMPTS_DIR, load_prompt
from .references import bigrams

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["review", "score_draft", "check_draft", "unverified_numbers", "set_phrase_density"]

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


_SENT = re.compile(r"[^。！？；\n]+[。！？；]?")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENT.findall(text) if count_chars(s) >= 4]


def _ground_evidence(evidence: str, draft_text: str) -> str:
    """Evidence must be a quote from the draft: keep it if it is one, else take the closest sentence."""
    ev = evidence.strip().strip('“”"「」')
    if ev and ev in draft_text:
        return ev
    sentences = _sentences(draft_text)
    if not sentences:
        return ""
    grams = bigrams(ev)
    best = max(sentences, key=lambda s: len(grams & bigrams(s)) / (len(bigrams(s)) or 1))
    return best


def score_draft(draft: Draft, brief: Brief, llm: BaseChatModel, *, costs: Costs | None = None) -> list[CriterionScore]:
    desc = criteria_descriptions()
    criteria = "\n".join(f"{c.value}：{desc[c.value]}" for c in ALL_CRITERIA)
    messages = load_prompt("review.scores").render(criteria=criteria, brief=brief_summary(brief), draft=draft.body_text)
    raw = complete_structured(
        llm, messages, _RawScores, stage="review", costs=costs, max_tokens=1200, coerce=_coerce_scores
    )
    text = draft.body_text
    by_name = {s.criterion: s for s in raw.scores}
    return [
        by_name[c].model_copy(update={"evidence": _ground_evidence(by_name[c].evidence, text)}) for c in ALL_CRITERIA
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
    sources = " ".join([brief_summary(b), *b.material, *(c.passage.text for c in draft.citations)])
    known = {m.group(1) for m in _NUMBER.finditer(sources)}
    flagged = []
    for m in _NUMBER.finditer(draft.body_text):
        value = m.group(1)
        if value in known or (m.group(2) is None and len(value) < 2):
            continue
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
    try:
        from .lint import lint_draft
    except ImportError:  # pragma: no cover - lint ships with the package
        return findings
    return findings + lint_draft(draft)


def review(draft: Draft, brief: Brief, llm: BaseChatModel, *, costs: Costs | None = None) -> Review:
    """Score the draft (one model call) and run the checks. A failed scoring call leaves the checks."""
    costs = costs if costs is not None else Costs()
    checks = check_draft(draft)
    try:
        scores = score_draft(draft, brief, llm, costs=costs)
    except ModelOutputError as err:
        log.warning("review: scoring failed: %s", err)
        checks.insert(0, CheckFinding(rule="review.scores", message=str(err), severity="error"))
        scores = []
    return Review(scores=scores, checks=checks, costs=costs)
