"""Error hierarchy. Every error carries a message in Chinese for the writer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from drafting.domain import Draft

__all__ = [
    "DraftingError",
    "ConfigError",
    "ProviderError",
    "ModelOutputError",
    "PromptError",
    "IngestError",
    "RetrievalError",
    "ExportError",
    "BriefError",
    "WorkspaceError",
    "ClassifiedError",
    "DroppedStreamError",
    "EmptyAnswerError",
]


class DraftingError(Exception):
    """Base class. ``str(err)`` is the Chinese message shown to the user."""


class ConfigError(DraftingError):
    pass


class ProviderError(DraftingError):
    """The model endpoint is unreachable, refused the key, or timed out.

    The data travel in the constructor (as instructor's exceptions carry ``last_completion``):
    ``partial`` is the text the model had streamed before the failure; ``draft`` is the draft the
    writer stage had made so far (gated, marked incomplete), set when the failure happened mid-draft.
    Subclasses keep this constructor, so :meth:`with_draft` can rebuild any of them.
    """

    def __init__(self, message: str = "", *, partial: str = "", draft: Draft | None = None) -> None:
        super().__init__(message)
        self.partial = partial
        self.draft = draft

    def with_draft(self, draft: Draft) -> Self:
        """The same error (same class, message and partial text) carrying the draft written so far."""
        return type(self)(str(self), partial=self.partial, draft=draft)


class DroppedStreamError(ProviderError):
    """The model service closed the stream before the answer was finished (after one retry)."""


class EmptyAnswerError(ProviderError):
    """The model answered nothing usable (empty or near-empty); never saved as a version."""


class ModelOutputError(DraftingError):
    """The model answered, but not in a usable form even after repair and retry."""


class PromptError(DraftingError):
    pass


class IngestError(DraftingError):
    """One file could not be ingested; the reason is in the message."""


class RetrievalError(DraftingError):
    pass


class ExportError(DraftingError):
    pass


class BriefError(DraftingError):
    """The brief is empty or inconsistent."""


class WorkspaceError(DraftingError):
    pass


class ClassifiedError(DraftingError):
    """Text carries a 密级 marking that forbids processing it here (or sending it to this endpoint)."""
