"""Typed progress events of a running draft, and the handler that receives them.

The orchestrator (:mod:`drafting.writing.pipeline`) reports each step as one frozen event; whoever
shows progress (the CLI, the page) passes a :class:`ProgressHandler`, a callable taking one event.
:class:`ProgressCallbacks` is the storm-style alternative (``knowledge_storm``'s
``BaseCallbackHandler``): one method per event with typed arguments, all doing nothing until
overridden; an instance is itself a handler.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, dataclass_transform

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


@dataclass_transform(frozen_default=True)
class _Event:
    """Base of the events: ``class X(_Event, kind=EventKind.X)`` makes X a frozen dataclass of that kind."""

    kind: ClassVar[EventKind]

    def __init_subclass__(cls, *, kind: EventKind, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind = kind
        dataclass(frozen=True)(cls)

    def values(self) -> tuple[Any, ...]:
        """The event's fields, in order (what its ProgressCallbacks method takes)."""
        return tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]


class PassagesChosen(_Event, kind=EventKind.PASSAGES):
    """The reference passages (the writer's material first, then 范文) the draft will use."""

    passages: list[Passage]


class OutlineReady(_Event, kind=EventKind.OUTLINE):
    outline: Outline


class TokenStreamed(_Event, kind=EventKind.TOKEN):
    """A streamed piece of text, attributed to the outline part being written (``index``)."""

    index: int
    piece: str


class SectionWritten(_Event, kind=EventKind.SECTION):
    """The whole draft so far, after a model call finished (it has been saved as the working draft)."""

    draft: Draft


class DraftWritten(_Event, kind=EventKind.DRAFT):
    """The finished draft, about to be saved as a version."""

    draft: Draft


class ReviewReady(_Event, kind=EventKind.REVIEW):
    review: Review


class ReviewFailed(_Event, kind=EventKind.ERROR):
    """The review after the draft failed; the draft itself was saved."""

    error: DraftingError


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
        getattr(self, _CALLBACKS[event.kind])(*event.values())


# The ProgressCallbacks method each kind of event calls.
_CALLBACKS = {
    EventKind.PASSAGES: "on_passages",
    EventKind.OUTLINE: "on_outline",
    EventKind.TOKEN: "on_token",
    EventKind.SECTION: "on_section",
    EventKind.DRAFT: "on_draft",
    EventKind.REVIEW: "on_review",
    EventKind.ERROR: "on_review_failed",
}
