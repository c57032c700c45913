"""横到边 for 慢稿: where each key point of the brief is covered, and the key-point check's proposals
for the points no paragraph covers (each quoting the part it goes into)."""

from __future__ import annotations

import uuid

from drafting.domain import Comment, CommentOrigin, Draft
from drafting.writing.references import overlap

__all__ = [
    "COMPLETENESS",
    "COVERED",
    "UNCOVERED",
    "coverage_map",
    "gap_comments",
    "paragraph_sections",
    "points_to_cover",
]

COVERED = 0.5  # share of a key point's bigrams a paragraph must contain to count as covering it
UNCOVERED = "未覆盖"
COMPLETENESS = "完整性检查"


def paragraph_sections(draft: Draft) -> list[int]:
    """For each paragraph of ``draft.paragraphs``, the index of the section it belongs to."""
    owners: list[int] = []
    for i, s in enumerate(draft.sections):
        if s.kind == "body" and s.heading:
            owners.append(i)
        owners.extend(i for p in s.text.splitlines() if p.strip())
    return owners


def coverage_map(draft: Draft, key_points: list[str]) -> dict[str, str]:
    """横到边: map every key point of the brief to the paragraph that covers it, or 未覆盖."""
    paragraphs = draft.paragraphs
    owners = paragraph_sections(draft)
    result: dict[str, str] = {}
    for kp in key_points:
        if not kp.strip():
            continue
        scores = [overlap(kp, p) for p in paragraphs]
        if not scores or max(scores) < COVERED:
            result[kp] = UNCOVERED
            continue
        i = max(range(len(scores)), key=scores.__getitem__)
        sec = draft.sections[owners[i]]
        where = sec.heading or ("开头" if sec.kind == "opening" else "结尾")
        result[kp] = f"{where}（第{i + 1}段）"
    return result


def points_to_cover(draft: Draft) -> list[str]:
    """The brief's key points; for a brief that is only the leader's instruction, the outline's parts."""
    return draft.brief.key_points or [s.heading for s in draft.outline.body_sections]


def gap_comments(draft: Draft) -> list[Comment]:
    """纵到底/横到边: a proposal to add each key point no paragraph covers, on the part closest to it."""
    body = [i for i, s in enumerate(draft.sections) if s.kind == "body"] or [0]
    owners = paragraph_sections(draft)
    out: list[Comment] = []
    for kp, where in coverage_map(draft, points_to_cover(draft)).items():
        if where != UNCOVERED:
            continue
        target = max(body, key=lambda i: overlap(kp, draft.sections[i].heading + draft.sections[i].text))
        para = owners.index(target) if target in owners else -1
        # The comment quotes where the point goes: the part's heading, else its first line.
        sec = draft.sections[target]
        quote = sec.heading or next((x.strip() for x in sec.text.splitlines() if x.strip()), "")
        out.append(
            Comment(
                id=uuid.uuid4().hex[:8],
                author=COMPLETENESS,
                text=f"补充任务要点“{kp}”，写出具体措施。",
                paragraph=para,
                quote=quote[:40],
                origin=CommentOrigin.COMPLETENESS,
            )
        )
    return out
