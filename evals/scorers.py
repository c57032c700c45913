"""Scorers: pure functions from a draft (and what it was asked for) to numbers.

Only ``judge_scores`` calls a model, and it gets that model as an argument. Every other
scorer is deterministic and needs nothing but its inputs, so tests can pin exact values.
A scorer that does not apply (a draft without citations, a system without an outline)
returns ``None`` — shown as N/A, and left out of means.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drafting.domain import PRINCIPLES, STANCES, Brief, Costs, Criterion, Draft, Outline, Passage
from drafting.writing.references import overlap
from drafting.writing.review import check_draft, score_draft
from drafting.writing.revise import UNCOVERED, coverage_map

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger("evals")

__all__ = [
    "HEADING_MATCH",
    "GROUNDING_THRESHOLD",
    "COUNTED_SEVERITIES",
    "length_score",
    "outline_adherence",
    "key_point_coverage",
    "citation_grounding",
    "cited_sentences",
    "violations",
    "judge_scores",
    "cost_metrics",
    "longest_increasing",
    "PLACEHOLDER",
    "DEFECT_KINDS",
    "draft_text",
    "placeholders",
    "find_defects",
    "gate_available",
    "defect_counts",
    "genre_correct",
    "principle_coverage",
    "evidence_available",
    "leaked_brief_fields",
    "leaked_reference_blocks",
    "BRIEF_LABELS",
]

# A heading counts as present when some line of the draft holds this share of its bigrams.
HEADING_MATCH = 0.6
# A cited sentence is supported when this share of its character bigrams occurs in the cited
# passage. 0.2 accepts a paraphrase that keeps the key terms (a drafted sentence shares 0.3–0.6
# of its bigrams with the passage it draws on) and rejects a sentence that merely shares common
# office vocabulary with an unrelated passage (typically under 0.15).
GROUNDING_THRESHOLD = 0.2
COUNTED_SEVERITIES = frozenset({"error", "warning"})

_NUMBER = re.compile(r"^\s*(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[)）]|\d+[.．、])\s*")
_CITE = re.compile(r"\[(\d{1,3})\]")
_LEADING_CITES = re.compile(r"^\s*(?:\[\d{1,3}\]\s*)+")
_SENTENCE = re.compile(r"[^。！？；\n]+[。！？；]?")


def length_score(actual: int, target: int) -> float:
    """LongBench-Write's length score S_l in 0..100.

    Over-length is penalised more gently (÷3) than under-length (÷2):
    ``100·max(0, 1 − (y/x − 1)/3)`` when y > x, else ``100·max(0, 1 − (x/y − 1)/2)``.
    An empty output (y = 0) scores 0.
    """
    if target <= 0:
        raise ValueError("target length must be positive")
    y, x = actual, target
    if y <= 0:
        return 0.0
    if y > x:
        return 100.0 * max(0.0, 1.0 - (y / x - 1.0) / 3.0)
    return 100.0 * max(0.0, 1.0 - (x / y - 1.0) / 2.0)


def longest_increasing(values: list[int]) -> int:
    """Length of the longest strictly increasing subsequence (patience sorting, O(n log n))."""
    from bisect import bisect_left

    tails: list[int] = []
    for v in values:
        i = bisect_left(tails, v)
        if i == len(tails):
            tails.append(v)
        else:
            tails[i] = v
    return len(tails)


def _bare(heading: str) -> str:
    return _NUMBER.sub("", heading.strip()).strip("：: ")


def outline_adherence(outline: Outline | None, lines: list[str]) -> float | None:
    """Share of the outline's body headings found in the draft, in order.

    Each heading is matched to the draft line holding the largest share of its bigrams
    (numbering stripped from both); it is present when that share is at least HEADING_MATCH.
    The matched line positions, in outline order, are reduced to their longest strictly
    increasing subsequence, so a heading that is present but out of order does not count.
    ``None`` when there is no outline or it has no body headings.
    """
    if outline is None:
        return None
    headings = [_bare(s.heading) for s in outline.body_sections if _bare(s.heading)]
    if not headings:
        return None
    bare_lines = [_bare(line) for line in lines]
    positions: list[int] = []
    for h in headings:
        scores = [overlap(h, line) for line in bare_lines]
        if scores and max(scores) >= HEADING_MATCH:
            positions.append(max(range(len(scores)), key=scores.__getitem__))
    return longest_increasing(positions) / len(headings)


def key_point_coverage(draft: Draft, key_points: list[str]) -> float | None:
    """Share of the brief's key points some paragraph covers (drafting.revise.coverage_map, overlap ≥ 0.5)."""
    points = [kp for kp in key_points if kp.strip()]
    if not points:
        return None
    covered = coverage_map(draft, points)
    return sum(1 for kp in points if covered.get(kp, UNCOVERED) != UNCOVERED) / len(points)


def cited_sentences(draft: Draft) -> list[tuple[str, list[int]]]:
    """Every sentence of the body that carries [n] marks, with the marks removed, and its numbers.

    A mark written after the full stop ("……检查。[1]") belongs to the sentence before it.
    """
    pieces: list[tuple[str, list[int]]] = []
    for raw in _SENTENCE.findall(draft.body_text):
        lead = _LEADING_CITES.match(raw)
        if lead and pieces:
            pieces[-1][1].extend(int(n) for n in _CITE.findall(lead.group(0)))
            raw = raw[lead.end() :]
        text = _CITE.sub("", raw).strip()
        if text:
            pieces.append((text, [int(n) for n in _CITE.findall(raw)]))
    return [(text, numbers) for text, numbers in pieces if numbers]


def citation_grounding(draft: Draft, threshold: float = GROUNDING_THRESHOLD) -> tuple[float | None, int]:
    """(share of cited sentences whose cited passage supports them, number of cited sentences).

    A sentence is supported when at least one of its [n] marks resolves to a passage in
    ``draft.citations`` whose text holds ``threshold`` of the sentence's bigrams. A mark that
    resolves to nothing supports nothing. ``None`` when the draft cites nothing (the baseline).
    """
    passages = {c.n: c.passage.text for c in draft.citations}
    sentences = cited_sentences(draft)
    if not sentences:
        return None, 0
    supported = sum(
        1
        for text, numbers in sentences
        if any(n in passages and overlap(text, passages[n]) >= threshold for n in numbers)
    )
    return supported / len(sentences), len(sentences)


def violations(draft: Draft) -> tuple[int, list[str]]:
    """Genre-check findings of severity error or warning (drafting.review.check_draft, which includes lint)."""
    found = [f for f in check_draft(draft) if f.severity in COUNTED_SEVERITIES]
    return len(found), sorted({f.rule for f in found})


def judge_scores(draft: Draft, llm: BaseChatModel) -> dict[str, Any]:
    """The five principles and three stances, 1–10 each, with the judge's quoted evidence.

    Reuses drafting.review.score_draft; the model passed here is the judge, not the writer.
    Returns ``{criterion: score}``, the two means and ``evidence`` ({criterion: quote}).
    """
    scores = score_draft(draft, draft.brief, llm)
    by: dict[Criterion, int] = {s.criterion: s.score for s in scores}
    out: dict[str, Any] = {c.value: by[c] for c in (*PRINCIPLES, *STANCES)}
    out["principles_mean"] = round(sum(by[c] for c in PRINCIPLES) / len(PRINCIPLES), 2)
    out["stances_mean"] = round(sum(by[c] for c in STANCES) / len(STANCES), 2)
    out["evidence"] = {s.criterion.value: s.evidence for s in scores}
    out["suggestions"] = {s.criterion.value: s.suggestion for s in scores}
    return out


def cost_metrics(costs: Costs) -> dict[str, float | int]:
    return {
        "calls": costs.calls,
        "tokens_in": costs.tokens_in,
        "tokens_out": costs.tokens_out,
        "seconds": costs.seconds,
    }


# -- deterministic defect counts (issue 11 item 4) ---------------------------------------------------
PLACEHOLDER = re.compile(r"〔待补：[^〕]*〕")
# The kinds drafting.gate counts, in report order (the gate's DefectKind values).
DEFECT_KINDS: tuple[str, ...] = (
    "transplanted_fact",
    "unsourced_fact",
    "copied_run",
    "fragment",
    "repeat",
    "leaked",
    "register",
    "numbering",
)


def draft_text(draft: Draft) -> str:
    """What the gate reads: the title line, then the body."""
    return f"{draft.title}\n{draft.body_text}"


def placeholders(draft: Draft) -> list[str]:
    """Every 〔待补：…〕 placeholder in the draft, in order."""
    return PLACEHOLDER.findall(draft_text(draft))


# Where the gate lives: drafting/checks/gate.py after the layout move (issue 17), drafting/gate.py before.
GATE_MODULES = ("drafting.checks.gate", "drafting.gate")


def _gate() -> Any | None:
    """drafting.gate of this checkout, or None while it does not exist.

    A module found outside the ``drafting`` package being run (an editable install of another
    checkout answers for submodules this one lacks) does not count.
    """
    import drafting

    root = Path(drafting.__file__ or "").resolve().parent
    for name in GATE_MODULES:
        try:
            gate = importlib.import_module(name)
        except ImportError:
            continue
        if Path(gate.__file__ or "").resolve().is_relative_to(root):
            return gate
    return None


def gate_available() -> bool:
    return _gate() is not None


def find_defects(draft: Draft, brief: Brief, passages: Sequence[Passage]) -> list[dict[str, str]] | None:
    """drafting.checks.gate's defects of the draft, as ``{kind, text, detail}``; None while there is no gate.

    ``brief`` and ``passages`` are the case's own (the same for every system), not the draft's, so
    every system is counted against the same sources.
    """
    gate = _gate()
    if gate is None:
        return None
    found = gate.find_defects(draft_text(draft), brief=brief, passages=list(passages))
    return [
        {"kind": str(getattr(d.kind, "value", d.kind)), "text": str(d.text), "detail": str(getattr(d, "detail", ""))}
        for d in found
    ]


def defect_counts(defects: Sequence[Mapping[str, str]]) -> dict[str, int]:
    """Count per kind: every kind of DEFECT_KINDS as a key (0 when absent), plus any other kind found."""
    counts = dict.fromkeys(DEFECT_KINDS, 0)
    for d in defects:
        counts[d["kind"]] = counts.get(d["kind"], 0) + 1
    return counts


def genre_correct(genre: str, expected: Sequence[str]) -> bool | None:
    """Whether the genre the system worked with is one of the expected names; None when none is expected."""
    if not expected:
        return None
    return genre.strip() in {g.strip() for g in expected}


def _evidence_items(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return 1 if value.strip() else 0
    if isinstance(value, Sequence):
        return sum(1 for v in value if str(getattr(v, "text", v)).strip())
    return 1


# Where the review module lives: after the layout move (issue 17) it is drafting.writing.review.
REVIEW_MODULES = ("drafting.writing.review", "drafting.review")


def _evidence_fn() -> Any | None:
    """drafting's deterministic ``principle_evidence`` of this checkout, or None while there is none.

    Imported by module name: ``from drafting import review`` gives the package's re-exported
    ``review()`` function, not the module, which is why an attribute lookup on it always missed.
    """
    for name in REVIEW_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        fn = getattr(module, "principle_evidence", None)
        if callable(fn):
            return fn
    return None


def evidence_available() -> bool:
    return _evidence_fn() is not None


def principle_coverage(draft: Draft) -> tuple[int | None, list[str]]:
    """(how many of the five principles have at least one evidence sentence, which ones).

    Always this checkout's drafting review ``principle_evidence(draft)`` (headings never count), whichever
    system wrote the draft, so every system is measured the same way; ``(None, [])`` when it does not
    exist or fails on this draft. It may return a mapping from principle (Criterion or its name) to
    sentences, or a list of items with ``criterion`` and ``sentences``/``evidence``.
    """
    fn = _evidence_fn()
    if fn is None:
        return None, []
    try:
        evidence = fn(draft)
    except Exception as exc:  # noqa: BLE001 - a metric must not stop a run that spent model time
        log.warning("principle_evidence failed on %s: %s", draft.title, exc)
        return None, []
    per: dict[str, int] = {}
    if isinstance(evidence, Mapping):
        for key, value in evidence.items():
            name = str(getattr(key, "value", key))
            per[name] = per.get(name, 0) + _evidence_items(value)
    else:
        for item in evidence or []:
            name = str(getattr(getattr(item, "criterion", ""), "value", getattr(item, "criterion", "")))
            value = getattr(item, "sentences", None) or getattr(item, "evidence", None)
            per[name] = per.get(name, 0) + _evidence_items(value)
    covered = [c.value for c in PRINCIPLES if per.get(c.value, 0) > 0]
    return len(covered), covered


# -- leaks a revision round must never bring in (issue 13 acceptance) -------------------------------
# The labels drafting.brief.brief_summary writes before each field of the brief.
BRIEF_LABELS = (
    "文种",
    "标题",
    "场合",
    "讲话人/发文单位",
    "讲话人",
    "发文单位",
    "听众/主送",
    "篇幅",
    "领导交代",
    "上级精神",
    "本地情况和数据",
    "必须讲到的要点",
)
_BRIEF_FIELD = re.compile(r"(?:^|[\s/｜|；;])(?:" + "|".join(map(re.escape, BRIEF_LABELS)) + r")\s*[：:]")
_REFERENCE_BLOCK = re.compile(r"\[\d{1,3}\]\s*来源[：:]")


def leaked_brief_fields(draft: Draft) -> list[str]:
    """Lines of the draft that carry the brief's own fields: a line starting with ``文种：``/``篇幅：``…,
    or any line with two or more of them ("文种：讲话稿 / 标题：…")."""
    out = []
    for line in draft_text(draft).splitlines():
        text = line.strip()
        hits = _BRIEF_FIELD.findall(text)
        if len(hits) >= 2 or (hits and _BRIEF_FIELD.match(text)):
            out.append(text)
    return out


def leaked_reference_blocks(draft: Draft) -> list[str]:
    """Reference blocks pasted into the draft: ``[5] 来源：《…》…`` as the prompts present passages."""
    return [m.group(0) for m in _REFERENCE_BLOCK.finditer(draft_text(draft))]
