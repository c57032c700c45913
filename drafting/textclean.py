"""Characters that cannot go into XML (and so into a .docx) are removed at every boundary.

Readers clean what they read, ``calls.complete`` cleans what the model answered, export cleans
what it writes. XML 1.0 allows tab, newline, carriage return, U+0020-U+D7FF, U+E000-U+FFFD and
the supplementary planes; everything else (NUL, the other C0 controls, lone surrogates, U+FFFE,
U+FFFF) crashed export with a traceback before.
"""

from __future__ import annotations

import re
from typing import TypeVar

from pydantic import BaseModel

__all__ = ["xml_safe", "join_surrogates", "clean_model"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
M = TypeVar("M", bound=BaseModel)


def join_surrogates(text: str) -> str:
    """Pair up surrogates that arrived in separate pieces (a stream may split one emoji in two)."""
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "ignore")  # lone halves dropped


def xml_safe(text: str) -> str:
    """``text`` with split surrogate pairs joined and every character XML 1.0 forbids removed."""
    if not text:
        return text
    return _NOT_XML.sub("", join_surrogates(text))


def _clean(value: object) -> object:
    if isinstance(value, str):
        return xml_safe(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    return value


def clean_model(obj: M) -> M:
    """A copy of a pydantic object with every string in it made XML-safe."""
    data = obj.model_dump(mode="python")
    cleaned = _clean(data)
    if cleaned == data:
        return obj
    return type(obj).model_validate(cleaned)
