"""文稿助手 drafting: outline-first drafting of speeches and official documents on a local model.

The stages, each a module with one verb-named entry point and typed data in and out:
brief (``brief_from_request``) -> retrieval (``retrieve``) -> outline (``make_outline``)
-> draft (``write_draft``) -> review (``review``) -> revision (``revise``) -> export (``export_docx``).
``pipeline`` runs them in order and saves to the ``Workspace``.
"""

from drafting.config import Settings, get_settings, load_settings
from drafting.domain import (
    Brief,
    Comment,
    CommentStatus,
    Criterion,
    Draft,
    Outline,
    Passage,
    Review,
    RevisionMode,
    Version,
    count_chars,
)
from drafting.errors import DraftingError
from drafting.workspace import Workspace
from drafting.writing.brief import brief_from_request, load_brief, validate_brief
from drafting.writing.draft import write_draft
from drafting.writing.outline import make_outline, outline_from_text, outline_to_text
from drafting.writing.pipeline import gather_passages, resume_draft, run_draft, run_revision
from drafting.writing.review import review
from drafting.writing.revise import revise, rewrite_section

__all__ = [
    "Brief",
    "Comment",
    "CommentStatus",
    "Criterion",
    "Draft",
    "DraftingError",
    "Outline",
    "Passage",
    "Review",
    "RevisionMode",
    "Settings",
    "Version",
    "Workspace",
    "brief_from_request",
    "count_chars",
    "gather_passages",
    "get_settings",
    "load_brief",
    "load_settings",
    "make_outline",
    "outline_from_text",
    "outline_to_text",
    "resume_draft",
    "review",
    "revise",
    "rewrite_section",
    "run_draft",
    "run_revision",
    "validate_brief",
    "write_draft",
]
