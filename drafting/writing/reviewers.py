"""慢稿's reviewers: one model call per perspective (prompts/perspectives.yaml), shown what the program
already found; their comments are proposals, kept only if they quote text the draft has."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field

from drafting.checks.revise_checks import findings_text, screen_comments
from drafting.domain import Brief, Comment, CommentOrigin, Draft, Passage, _Model
from drafting.errors import ModelOutputError
from drafting.llm.calls import complete_structured
from drafting.llm.prompts import PROMPTS_DIR, load_prompt
from drafting.writing.coverage import UNCOVERED, coverage_map, gap_comments, points_to_cover
from drafting.writing.references import overlap
from drafting.writing.text import brief_summary

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["perspectives", "propose", "reviewer_comments"]

log = logging.getLogger(__name__)


class _RawComment(_Model):
    paragraph: int = -1
    quote: str = ""
    comment: str


class _RawComments(_Model):
    comments: list[_RawComment] = Field(default_factory=list)


@lru_cache(maxsize=1)
def perspectives() -> list[dict[str, str]]:
    return list(yaml.safe_load((PROMPTS_DIR / "perspectives.yaml").read_text(encoding="utf-8")))


def _coerce_comments(data: Any) -> Any:
    if isinstance(data, list):
        data = {"comments": data}
    if isinstance(data, dict):
        items = []
        for c in data.get("comments", []):
            if isinstance(c, str):
                c = {"comment": c}
            if isinstance(c, dict) and str(c.get("comment") or "").strip():
                try:
                    para = int(c.get("paragraph", -1))
                except (TypeError, ValueError):
                    para = -1
                items.append({"paragraph": para, "quote": str(c.get("quote") or ""), "comment": str(c["comment"])})
        data = {"comments": items}
    return data


def reviewer_comments(
    draft: Draft,
    brief: Brief,
    llm: BaseChatModel,
    *,
    names: list[str] | None = None,
    passages: Sequence[Passage] = (),
    existing: Sequence[Comment] = (),
) -> list[Comment]:
    """One call per perspective; a perspective whose answer is unusable is skipped, not fatal.
    Reviewers see what the program found (gate defects, uncovered key points); comments that quote
    text the draft does not have, only renumber a heading, or repeat another comment are dropped."""
    paragraphs = draft.paragraphs
    numbered = "\n".join(f"[{i}] {p}" for i, p in enumerate(paragraphs, 1))
    uncovered = [kp for kp, where in coverage_map(draft, points_to_cover(draft)).items() if where == UNCOVERED]
    findings = findings_text(draft, passages, uncovered)
    out: list[Comment] = []
    for p in perspectives():
        if names and p["name"] not in names:
            continue
        messages = load_prompt("revise.comments").render(
            perspective=p["name"], focus=p["focus"], brief=brief_summary(brief), paragraphs=numbered, findings=findings
        )
        try:
            raw = complete_structured(
                llm, messages, _RawComments, stage="review", max_tokens=700, coerce=_coerce_comments
            )
        except ModelOutputError as err:
            log.warning("reviewer %s skipped: %s", p["name"], err)
            continue
        for c in raw.comments[:3]:
            idx = c.paragraph - 1 if 1 <= c.paragraph <= len(paragraphs) else _locate(c.quote, paragraphs)
            out.append(
                Comment(
                    id=uuid.uuid4().hex[:8],
                    author=p["name"],
                    text=c.comment.strip(),
                    paragraph=idx,
                    quote=c.quote,
                    origin=CommentOrigin.REVIEWER,
                )
            )
    kept, dropped = screen_comments(out, draft, existing)
    for d, why in dropped:
        log.info("reviewer comment dropped (%s): %s", why, d.text)
    return kept


def _locate(quote: str, paragraphs: list[str]) -> int:
    if not quote.strip() or not paragraphs:
        return -1
    scores = [overlap(quote, p) for p in paragraphs]
    best = max(range(len(paragraphs)), key=scores.__getitem__)
    return best if scores[best] >= 0.3 else -1


def propose(
    draft: Draft,
    llm: BaseChatModel,
    passages: Sequence[Passage],
    *,
    reviewers: bool = True,
    existing: Sequence[Comment] = (),
) -> list[Comment]:
    """慢稿's proposals for the writer (all pending): the completeness check's, then the reviewers'.
    ``existing`` comments (the leader's 批注, the writer's own, earlier proposals) are not proposed again."""
    said = {c.text for c in existing}
    proposals = [g for g in gap_comments(draft) if g.text not in said]
    if reviewers:
        proposals += reviewer_comments(draft, draft.brief, llm, passages=passages, existing=[*existing, *proposals])
    return proposals
