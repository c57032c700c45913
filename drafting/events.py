"""Typed progress events of a running draft, and the handler that receives them.

The orchestrator (:mod:`drafting.writing.pipeline`) reports each step as one frozen event; whoever
shows progress (the CLI, the page) passes a :class:`ProgressHandler`, a callable taking one event.
:class:`ProgressCallbacks` is the storm-style alternative (``knowledge_storm``'s
``BaseCallbackHandler``): one method per event with typed arguments, all doing nothing until
overridden; an instance is itself a handler.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from drafting.domain import Draft, Outline, Passage, Review
    from drafting.errors import DraftingError

__all__ = [
    "EventKind",
    "PassagesChosen",
    "OutlineReady",
    "TokenStreamed",
    "SectionWritten",
    "DraftWritten",
    "ReviewReady",
    "ReviewFailed",
    "ProgressEvent",
    "ProgressHandler",
    "ProgressCallbacks",
    "ignore",
]


class EventKind(StrEnum):
    PASSAGES = "passages"
    OUTLINE = "outline"
    TOKEN = "token"
    SECTION = "section"
    DRAFT = "draft"
    REVIEW = "review"
    ERROR = "error"


@dataclass(frozen=True)
class PassagesChosen:
    """The reference passages (the writer's material first, then 范文) the draft will use."""

    passages: list[Passage]
    kind: ClassVar[EventKind] = EventKind.PASSAGES


@dataclass(frozen=True)
class OutlineReady:
    outline: Outline
    kind: ClassVar[EventKind] = EventKind.OUTLINE


@dataclass(frozen=True)
class TokenStreamed:
    """A streamed piece of text, attributed to the outline part being written (``index``)."""

    index: int
    piece: str
    kind: ClassVar[EventKind] = EventKind.TOKEN


@dataclass(frozen=True)
class SectionWritten:
    """The whole draft so far, after a model call finished (it has been saved as the working draft)."""

    draft: Draft
    kind: ClassVar[EventKind] = EventKind.SECTION


@dataclass(frozen=True)
class DraftWritten:
    """The finished draft, about to be saved as a version."""

    draft: Draft
    kind: ClassVar[EventKind] = EventKind.DRAFT


@dataclass(frozen=True)
class ReviewReady:
    review: Review
    kind: ClassVar[EventKind] = EventKind.REVIEW


@dataclass(frozen=True)
class ReviewFailed:
    """The review after the draft failed; the draft itself was saved."""

    error: DraftingError
    kind: ClassVar[EventKind] = EventKind.ERROR


ProgressEvent = (
    PassagesChosen | OutlineReady | TokenStreamed | SectionWritten | DraftWritten | ReviewReady | ReviewFailed
)


class ProgressHandler(Protocol):
    """Receives every progress event of a run (a plain function taking one event qualifies)."""

    def __call__(self, event: ProgressEvent, /) -> None: ...


def ignore(event: ProgressEvent, /) -> None:
    """The handler used when the caller passed none."""


class ProgressCallbacks:
    """One method per event, storm style; override the ones you need. An instance is a ProgressHandler."""

    def on_passages(self, passages: list[Passage]) -> None:
        """The reference passages were chosen."""

    def on_outline(self, outline: Outline) -> None:
        """The outline is ready (made at once for 急稿, by the model for 慢稿, or the writer's own)."""

    def on_token(self, index: int, piece: str) -> None:
        """A piece of text streamed in for outline part ``index``."""

    def on_section(self, draft: Draft) -> None:
        """A model call finished; ``draft`` is everything written so far."""

    def on_draft(self, draft: Draft) -> None:
        """The draft is finished."""

    def on_review(self, review: Review) -> None:
        """The review is ready."""

    def on_review_failed(self, error: DraftingError) -> None:
        """The review failed after the draft was saved."""

    def __call__(self, event: ProgressEvent, /) -> None:
        match event:
            case PassagesChosen(passages):
                self.on_passages(passages)
            case OutlineReady(outline):
                self.on_outline(outline)
            case TokenStreamed(index, piece):
                self.on_token(index, piece)
            case SectionWritten(draft):
                self.on_section(draft)
            case DraftWritten(draft):
                self.on_draft(draft)
            case ReviewReady(review):
                self.on_review(review)
            case ReviewFailed(error):
                self.on_review_failed(error)
