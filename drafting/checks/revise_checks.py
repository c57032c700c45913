"""The checks that keep 慢稿 honest, all without the model: a reviewer comment must be a review of text
that exists (not a renumbering, not a repeat of another comment), reviewers are shown what a program
already found, and a rewritten part is kept only if the draft does not get worse by the same
deterministic count the first draft is held to (``drafting.gate``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from drafting.checks.gate import LABELS, DefectKind, count_defects, find_defects, placeholder_count, repair_draft
from drafting.checks.locks import locks_in, restore_locks
from drafting.domain import Comment, Draft, DraftSection, Passage, count_chars

__all__ = [
    "PLACEHOLDERS",
    "count_label",
    "defect_counts",
    "findings_text",
    "gate_part",
    "part_name",
    "rose",
    "screen_comments",
    "settle_parts",
]

log = logging.getLogger(__name__)

PLACEHOLDERS = "placeholder"  # 〔待补〕 gaps are counted with the defects: a rewrite must not open new ones
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


def screen_comments(
    comments: Sequence[Comment], draft: Draft, existing: Sequence[Comment] = ()
) -> tuple[list[Comment], list[tuple[Comment, str]]]:
    """Keep the comments that are reviews; each dropped one comes back with its reason (in Chinese).
    A quoted comment is pinned to the paragraph that holds its quote."""
    kept: list[Comment] = []
    dropped: list[tuple[Comment, str]] = []
    paragraphs = draft.paragraphs
    for c in comments:
        if c.quote.strip() and not _quote_found(c.quote, draft):
            dropped.append((c, "引用的原文在稿中找不到"))
            continue
        if _only_renumbers(c.text):
            dropped.append((c, "只改标题序号"))
            continue
        if c.quote.strip():
            q = _norm(c.quote)
            holds = [i for i, p in enumerate(paragraphs) if q in _norm(p)]
            if holds and c.paragraph not in holds:
                c = c.model_copy(update={"paragraph": holds[0]})
        if any(o.paragraph == c.paragraph and _similar(o.text, c.text) >= DUPLICATE for o in [*existing, *kept]):
            dropped.append((c, "与另一条意见重复"))
            continue
        kept.append(c)
    return kept, dropped


def _purposes(draft: Draft) -> list[str]:
    return [s.purpose for s in draft.outline.sections]


def defect_counts(draft: Draft, passages: Sequence[Passage]) -> dict[str, int]:
    """The gate's count of a whole draft (title line + body), plus its 〔待补〕 gaps."""
    text = "\n".join([draft.title, draft.body_text])
    counts = count_defects(find_defects(text, brief=draft.brief, passages=passages, outline_purposes=_purposes(draft)))
    counts[PLACEHOLDERS] = placeholder_count(draft.body_text)
    return counts


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


def settle_parts(
    draft: Draft,
    rewritten: dict[int, DraftSection],
    passages: Sequence[Passage],
    locked: Sequence[str],
) -> tuple[list[DraftSection], list[str]]:
    """Lay the rewritten parts onto the draft one at a time. Each goes through the first draft's gate and
    is left as it was (the reason is returned) if, after the gate, any count of the whole draft rises,
    or if the model's own text brought new figures, copied runs or fragments (a sign the rewrite is not
    to be trusted even where the gate can cut them out). Parts not rewritten are kept character for
    character."""
    sections = list(draft.sections)
    current = defect_counts(draft, passages)
    kept: list[str] = []
    for idx, sec in sorted(rewritten.items()):
        old = sections[idx]
        if sec.text == old.text:
            continue
        trial = draft.model_copy(update={"sections": [*sections[:idx], sec, *sections[idx + 1 :]]})
        raw = defect_counts(trial, passages)
        text = gate_part(trial, idx, sec.text, passages)
        keep = locks_in(old.text, locked)
        if keep:  # the gate may have cut a locked sentence; it comes back
            text = restore_locks(old.text, text, keep)
        gated = [*sections[:idx], sec.model_copy(update={"text": text}), *sections[idx + 1 :]]
        counts = defect_counts(draft.model_copy(update={"sections": gated}), passages)
        worse = list(dict.fromkeys(rose(current, {k: raw[k] for k in STRICT}) + rose(current, counts)))
        if worse:
            kept.append(f"“{part_name(old)}”保留原文：改写稿使检查出的问题增加（{'，'.join(worse)}）")
            log.warning("revise: rewrite of %r rejected: %s", old.heading, worse)
            continue
        if count_chars(text) < 0.3 * max(1, count_chars(sec.text)):
            kept.append(f"“{part_name(old)}”保留原文：改写稿经检查后所剩无几")
            continue
        sections, current = gated, counts
    return sections, kept
