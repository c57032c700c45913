"""The checks that keep 慢稿 honest, all without the model: a reviewer comment must be a review of text
that exists (not a renumbering, not a repeat of another comment), reviewers are shown what a program
already found, and a rewritten part is kept only if the draft does not get worse by the same
deterministic count the first draft is held to (``drafting.gate``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import NamedTuple

from drafting.checks.gate import (
    LABELS,
    Defect,
    DefectKind,
    count_defects,
    find_defects,
    placeholder_count,
    repair_draft,
)
from drafting.checks.locks import locks_in, restore_locks
from drafting.domain import Comment, CommentOrigin, Draft, DraftSection, Passage, count_chars

__all__ = [
    "PLACEHOLDERS",
    "Settled",
    "anchor_leader_comments",
    "count_label",
    "defect_counts",
    "findings_text",
    "gate_part",
    "origin_of",
    "part_name",
    "rank_comments",
    "rose",
    "screen_comments",
    "settle_parts",
]

log = logging.getLogger(__name__)

PLACEHOLDERS = "placeholder"  # 〔待补〕 gaps are counted with the defects: a rewrite must not open new ones
FUZZY_ANCHOR = 0.5  # share of a 批注's quote bigrams a paragraph must hold to be where the quote went
DUPLICATE = 0.6  # Jaccard share of character bigrams two comments on the same paragraph share to be one comment
MAX_FINDINGS = 8
# Kinds a rewrite may not bring in even where the gate could cut them out again.
STRICT = (
    DefectKind.TRANSPLANTED_FACT.value,
    DefectKind.UNSOURCED_FACT.value,
    DefectKind.COPIED_RUN.value,
    DefectKind.FRAGMENT.value,
)
_CITE = re.compile(r"\[\d{1,3}\]")
_PUNCT = re.compile(r"[\s，,。.！!？?；;：:、“”‘’「」『』（）()《》〈〉\[\]'\"…—\-·]")
# Numbering at the start of a heading: "三、", "（三）", "3.", "第三部分".
_NUMBERING = re.compile(
    r"^\s*(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]|\d{1,2}[.．、]|第[一二三四五六七八九十\d]+(?:部分|条|点|项)?[、，：:]?)"
)
_QUOTED = re.compile(r"[‘'“\"「『]([^‘’'“”\"「」『』]{1,80})[’'”\"」』]")


def _norm(text: str) -> str:
    return _PUNCT.sub("", _CITE.sub("", text))


def _grams(text: str) -> set[str]:
    t = _norm(text)
    return {t[i : i + 2] for i in range(len(t) - 1)}


def _similar(a: str, b: str) -> float:
    ga, gb = _grams(a), _grams(b)
    return len(ga & gb) / len(ga | gb) if ga and gb else float(_norm(a) == _norm(b))


def _quote_found(quote: str, draft: Draft) -> bool:
    """The quote occurs in the draft, up to spaces, punctuation and citation marks."""
    q = _norm(quote)
    return not q or q in _norm("\n".join([draft.title, draft.body_text]))


def _only_renumbers(text: str) -> bool:
    """ "将'三、组织保障'改为'四、组织保障'": the two quoted strings differ only in their numbering."""
    quoted = _QUOTED.findall(text)
    for a, b in zip(quoted, quoted[1:], strict=False):
        if a.strip() != b.strip() and _norm(_NUMBERING.sub("", a)) == _norm(_NUMBERING.sub("", b)):
            return True
    return False


def _holding(quote: str, paragraphs: Sequence[str]) -> list[int]:
    q = _norm(quote)
    return [i for i, p in enumerate(paragraphs) if q and q in _norm(p)]


_RANK = {o: i for i, o in enumerate(CommentOrigin)}
_COMPLETENESS_AUTHOR = "完整性检查"
_WRITER_AUTHOR = "撰稿人"


def origin_of(comment: Comment) -> CommentOrigin:
    """Who made a comment; comments saved before ``origin`` existed are read from their author and id
    (the Word round trip names its comments ``docx-…``)."""
    if comment.origin is not None:
        return comment.origin
    if comment.id.startswith("docx-"):
        return CommentOrigin.LEADER
    if comment.author == _WRITER_AUTHOR:
        return CommentOrigin.WRITER
    if comment.author == _COMPLETENESS_AUTHOR:
        return CommentOrigin.COMPLETENESS
    return CommentOrigin.REVIEWER


def rank_comments(comments: Sequence[Comment]) -> list[Comment]:
    """The leader's 批注 first, then the writer's own, the key-point check's, the model reviewers'
    (each group in its own order)."""
    return sorted(comments, key=lambda c: _RANK[origin_of(c)])


def anchor_leader_comments(comments: Sequence[Comment], draft: Draft) -> list[Comment]:
    """Pin each leader's 批注 to the paragraph of ``draft`` that holds its quote. The quote may be text
    that was edited since: then the paragraph closest to it is taken; with none close the 批注 is kept
    as it is, with a note for the writer. Nothing here drops a comment."""
    paragraphs = draft.paragraphs
    out: list[Comment] = []
    for c in comments:
        if origin_of(c) is not CommentOrigin.LEADER:
            out.append(c)
            continue
        c = c.model_copy(update={"origin": CommentOrigin.LEADER})
        if not _norm(c.quote):
            out.append(c)
            continue
        holds = _holding(c.quote, paragraphs)
        if holds:
            out.append(c.model_copy(update={"paragraph": c.paragraph if c.paragraph in holds else holds[0]}))
            continue
        grams = _grams(c.quote)
        scores = [len(grams & _grams(p)) / len(grams) if grams else 0.0 for p in paragraphs]
        best = max(range(len(scores)), key=scores.__getitem__) if scores else -1
        if best >= 0 and scores[best] >= FUZZY_ANCHOR:
            note = f"批注所指的原文已有改动，按最相近的第{best + 1}段处理"
            out.append(c.model_copy(update={"paragraph": best, "note": note}))
        else:
            note = "批注所指的原文在这一稿中找不到，按全文意见处理，请核对"
            out.append(c.model_copy(update={"paragraph": -1, "note": note}))
    return out


def screen_comments(
    comments: Sequence[Comment], draft: Draft, existing: Sequence[Comment] = ()
) -> tuple[list[Comment], list[tuple[Comment, str]]]:
    """Keep the model reviewers' comments that are reviews: each quotes text the draft has, does more
    than renumber a heading and repeats no other comment; each dropped one comes back with its reason (in
    Chinese). A kept comment is pinned to the paragraph that holds its quote. Never applied to the
    leader's 批注 or the writer's own comments (see :func:`anchor_leader_comments`)."""
    kept: list[Comment] = []
    dropped: list[tuple[Comment, str]] = []
    paragraphs = draft.paragraphs
    for c in comments:
        if not _norm(c.quote):
            dropped.append((c, "没有引用原文"))
            continue
        if not _quote_found(c.quote, draft):
            dropped.append((c, "引用的原文在稿中找不到"))
            continue
        if _only_renumbers(c.text):
            dropped.append((c, "只改标题序号"))
            continue
        if c.quote.strip():
            holds = _holding(c.quote, paragraphs)
            if holds and c.paragraph not in holds:
                c = c.model_copy(update={"paragraph": holds[0]})
        if any(o.paragraph == c.paragraph and _similar(o.text, c.text) >= DUPLICATE for o in [*existing, *kept]):
            dropped.append((c, "与另一条意见重复"))
            continue
        kept.append(c)
    return kept, dropped


def _purposes(draft: Draft) -> list[str]:
    return [s.purpose for s in draft.outline.sections]


def _defects(draft: Draft, passages: Sequence[Passage]) -> list[Defect]:
    text = "\n".join([draft.title, draft.body_text])
    return find_defects(text, brief=draft.brief, passages=passages, outline_purposes=_purposes(draft))


def _counts(draft: Draft, defects: Sequence[Defect]) -> dict[str, int]:
    counts = count_defects(defects)
    counts[PLACEHOLDERS] = placeholder_count(draft.body_text)
    return counts


def defect_counts(draft: Draft, passages: Sequence[Passage]) -> dict[str, int]:
    """The gate's count of a whole draft (title line + body), plus its 〔待补〕 gaps."""
    return _counts(draft, _defects(draft, passages))


def count_label(kind: str) -> str:
    return "待补" if kind == PLACEHOLDERS else next((v for k, v in LABELS.items() if k.value == kind), kind)


def rose(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Each count that went up, as "残句 0→1"."""
    return [f"{count_label(k)} {before.get(k, 0)}→{v}" for k, v in after.items() if v > before.get(k, 0)]


def findings_text(draft: Draft, passages: Sequence[Passage], uncovered: Sequence[str]) -> str:
    """What the program found in the draft, as lines for the reviewers' prompt."""
    text = "\n".join([draft.title, draft.body_text])
    defects = find_defects(text, brief=draft.brief, passages=passages, outline_purposes=_purposes(draft))
    lines = [
        f"- {LABELS[d.kind]}：“{d.text[:40]}”" + (f"（{d.detail[:30]}）" if d.detail else "")
        for d in defects[:MAX_FINDINGS]
    ]
    lines += [f"- 任务要点没有写到：“{kp}”" for kp in uncovered]
    return "\n".join(lines) or "（程序没有发现问题）"


def gate_part(draft: Draft, index: int, text: str, passages: Sequence[Passage]) -> str:
    """A rewritten part as the first draft's gate leaves it, judged within the whole draft."""
    sections = list(draft.sections)
    sections[index] = sections[index].model_copy(update={"text": text})
    return repair_draft(draft.model_copy(update={"sections": sections}), passages, fit=False).draft.sections[index].text


def part_name(sec: DraftSection) -> str:
    return sec.heading or {"opening": "开头", "closing": "结尾"}.get(sec.kind, "正文")


class Settled(NamedTuple):
    """The sections after a round's rewrites were laid on, the writer's notes on the parts left as they
    were, and for each of those parts the problems its rewrite brought in (for a tighter retry)."""

    sections: list[DraftSection]
    kept: list[str]
    rejected: dict[int, list[str]]


def _introduced(before: Sequence[Defect], after: Sequence[Defect], kinds: set[str]) -> list[str]:
    """The defects of ``after`` not in ``before``, of the kinds whose count rose, as lines for the model."""
    old = {(d.kind, d.text) for d in before}
    return list(
        dict.fromkeys(
            f"{LABELS[d.kind]}：“{d.text[:40]}”" for d in after if d.kind.value in kinds and (d.kind, d.text) not in old
        )
    )


def _beyond_leaks(defects: list[Defect]) -> list[Defect]:
    """Defects less those on a line the gate flags as leaked text (a stray "以下是修改后的正文：" is a
    leak the gate removes whole, not a fragment the model wrote into its prose)."""
    leaked = {d.text for d in defects if d.kind is DefectKind.LEAKED}
    return [d for d in defects if d.kind is DefectKind.LEAKED or d.text not in leaked]


# A rewritten part shorter than this share of the part it replaces is kept only while the whole draft stays at
# LENGTH_FLOOR of its target or more (a comment asking to cut a draft that runs long is still followed).
SHRINK_LIMIT = 0.8
LENGTH_FLOOR = 0.85


def settle_parts(
    draft: Draft,
    rewritten: dict[int, DraftSection],
    passages: Sequence[Passage],
    locked: Sequence[str],
) -> Settled:
    """Lay the rewritten parts onto the draft one at a time. Each goes through the first draft's gate and
    is left as it was (the reason is returned) if, after the gate, any count of the whole draft rises,
    or if the model's own text brought new figures, copied runs or fragments (a sign the rewrite is not
    to be trusted even where the gate can cut them out). Parts not rewritten are kept character for
    character."""
    sections = list(draft.sections)
    found = _defects(draft, passages)
    current = _counts(draft, found)
    kept: list[str] = []
    rejected: dict[int, list[str]] = {}
    for idx, sec in sorted(rewritten.items()):
        old = sections[idx]
        if sec.text == old.text:
            continue
        trial = draft.model_copy(update={"sections": [*sections[:idx], sec, *sections[idx + 1 :]]})
        raw_found = _beyond_leaks(_defects(trial, passages))
        raw = _counts(trial, raw_found)
        text = gate_part(trial, idx, sec.text, passages)
        keep = locks_in(old.text, locked)
        if keep:  # the gate may have cut a locked sentence; it comes back
            text = restore_locks(old.text, text, keep)
        gated = [*sections[:idx], sec.model_copy(update={"text": text}), *sections[idx + 1 :]]
        gated_draft = draft.model_copy(update={"sections": gated})
        gated_found = _defects(gated_draft, passages)
        counts = _counts(gated_draft, gated_found)
        strict = {k for k in STRICT if raw[k] > current.get(k, 0)}
        loose = {k for k, v in counts.items() if v > current.get(k, 0)}
        worse = list(dict.fromkeys(rose(current, {k: raw[k] for k in STRICT}) + rose(current, counts)))
        if worse:
            kept.append(f"“{part_name(old)}”保留原文：改写稿使检查出的问题增加（{'，'.join(worse)}）")
            rejected[idx] = _introduced(found, raw_found, strict) + _introduced(found, gated_found, loose) or worse
            log.warning("revise: rewrite of %r rejected: %s", old.heading, worse)
            continue
        if count_chars(text) < 0.3 * max(1, count_chars(sec.text)):
            kept.append(f"“{part_name(old)}”保留原文：改写稿经检查后所剩无几")
            rejected[idx] = ["改写稿大半是不能用的文字（残句、照抄或说明性文字），经检查后所剩无几"]
            continue
        shrunk = count_chars(text) < SHRINK_LIMIT * count_chars(old.text)
        total = sum(count_chars(s.text) for s in gated)
        if shrunk and total < LENGTH_FLOOR * draft.brief.length:
            # A small model's rewrite is shorter than what it rewrites (measured 2026-11-27: 905→830, 840→699,
            # 591→481 字 in one 慢稿 round each); below the target that loses content nobody asked to cut.
            kept.append(
                f"“{part_name(old)}”保留原文：改写稿比原文短了一截（{count_chars(old.text)}→{count_chars(text)}字），全文会低于目标篇幅"
            )
            rejected[idx] = [
                f"改写稿比原文短（{count_chars(old.text)}→{count_chars(text)}字），全文低于目标篇幅的{LENGTH_FLOOR:.0%}"
            ]
            continue
        sections, current, found = gated, counts, gated_found
    return Settled(sections, kept, rejected)
