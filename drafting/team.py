"""Team mode sign-in: who the writer of a request is.

The app sits behind a reverse proxy that authenticates the writer (single sign-on, LDAP, basic
auth…) and passes the name in a header (``DRAFTING_AUTH_HEADER``, ``X-Forwarded-User`` by
default). The header is trusted only when ``DRAFTING_TEAM`` is on; the proxy must overwrite it on
every request, and the app must not be reachable except through the proxy (README 团队模式).
Local mode has no sign-in at all.

The signed-in writer of the current script run is also kept in a context variable, so documents
a writer adds to the shared 范文库 through the shared store carry their name without every caller
passing it along (:func:`acting_writer`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from urllib.parse import unquote

from drafting.config import Settings
from drafting.errors import WorkspaceError
from drafting.workspace import check_writer

__all__ = [
    "signed_in_writer",
    "acting_writer",
    "set_acting_writer",
    "acting_as",
    "uploads_dir",
    "SIGN_IN_REQUIRED",
]

SIGN_IN_REQUIRED = (
    "请先登录：本系统为团队模式，须通过单位的登录入口访问。如已登录仍看到此提示，请联系管理员检查登录代理设置。"
)

_WRITER: ContextVar[str] = ContextVar("drafting_writer", default="")


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.strip().lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def _decode(raw: str) -> str:
    """Header values travel as Latin-1: undo percent-encoding, or re-read UTF-8 bytes read as Latin-1."""
    if "%" in raw:
        return unquote(raw)
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def signed_in_writer(settings: Settings, headers: Mapping[str, str]) -> str | None:
    """The writer named by the sign-in header in team mode; None when nobody (valid) is signed in.

    Never called for a decision in local mode: there it returns None without looking at the headers,
    so a header sent straight to a local app means nothing.
    """
    if not settings.team:
        return None
    raw = _header(headers, settings.auth_header)
    if not raw.strip():
        return None
    try:
        return check_writer(_decode(raw))
    except WorkspaceError:
        return None


def acting_writer() -> str:
    """The signed-in writer of the current script run (team mode), else ''."""
    return _WRITER.get()


def set_acting_writer(writer: str) -> None:
    """Record the writer for the rest of this script run (each Streamlit run has its own context)."""
    _WRITER.set(writer)


@contextmanager
def acting_as(writer: str) -> Iterator[None]:
    token = _WRITER.set(writer)
    try:
        yield
    finally:
        _WRITER.reset(token)


def uploads_dir(settings: Settings) -> Path:
    """Where the app keeps uploaded 范文: one folder per signed-in writer in team mode.

    A document's id comes from its stored path, so two writers uploading a file of the same name to
    one shared folder would replace each other's document in the shared 范文库.
    """
    base = settings.data_dir / "uploads"
    writer = acting_writer()
    if not settings.team or not writer:
        return base
    safe = re.sub(r"[^\w.-]", "_", writer)[:32]
    return base / f"{safe}-{hashlib.sha256(writer.encode()).hexdigest()[:8]}"
