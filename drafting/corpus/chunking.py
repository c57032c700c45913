"""Split a document into retrievable chunks along the heading hierarchy of Chinese official texts.

Headings follow the GB/T 9704 numbering: ``一、`` (level 1), ``（一）`` (level 2),
``1.`` / ``1．`` / ``1、`` (level 3), ``（1）`` (level 4). Laws and regulations use
``第一章`` (level 1) and ``第一节`` (level 2); Markdown ``#``..``####`` give levels 1-4. A level-2/3/4 heading often runs on into body
text in the same paragraph ("（一）坚持人民至上。去年，全县……"): the part up to the first
full stop is the heading, the rest is body.
"""

from __future__ import annotations

import re

from drafting.cnnum import HEADING_NUMERALS
from drafting.domain import Chunk

__all__ = ["chunk_document", "detect_heading", "split_heading", "split_sentences", "HEADING_MAX_CHARS"]

# A heading (the part up to its first sentence end) longer than this is prose that starts with a number.
HEADING_MAX_CHARS = 50

_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"^第[{HEADING_NUMERALS}\d]{{1,4}}[编章](?:\s|$)")),
    (2, re.compile(rf"^第[{HEADING_NUMERALS}\d]{{1,4}}节(?:\s|$)")),
    (1, re.compile(rf"^[{HEADING_NUMERALS}]{{1,3}}\s*[、．.]\s*(?=\S)")),
    (2, re.compile(rf"^[（(]\s*[{HEADING_NUMERALS}]{{1,3}}\s*[）)]\s*(?=\S)")),
    # "1.5亿元" and "2025年" are not headings: the marker must not be followed by a digit.
    (3, re.compile(r"^\d{1,2}\s*(?:[.．](?!\d)|、)\s*(?=\S)")),
    (4, re.compile(r"^[（(]\s*\d{1,2}\s*[）)]\s*(?=\S)")),
)
# Markdown headings (.md files, and styled Word headings without manual numbering).
_MARKDOWN = re.compile(rf"^(#{{1,6}})\s+(\S.{{0,{HEADING_MAX_CHARS}}})$")
_SENT_END = "。！？!?；;"
_CLOSERS = "”’」』）)》】\"'"
_FIRST_STOP = re.compile(rf"[。！？!?][{re.escape(_CLOSERS)}]*")
_SENTENCE = re.compile(rf"[^{_SENT_END}]*(?:[{_SENT_END}]+[{re.escape(_CLOSERS)}]*|$)")


def _match(line: str) -> tuple[int, re.Match[str]] | None:
    for level, pattern in _PATTERNS:
        m = pattern.match(line)
        if m:
            return level, m
    return None


def split_heading(line: str) -> tuple[int, str, str] | None:
    """``(level, heading, body)`` when the paragraph starts with a numbered heading, else None.

    The heading runs to the first sentence end (kept with it) or to the end of the line.
    """
    line = line.strip()
    md = _MARKDOWN.match(line)
    if md:
        return min(len(md.group(1)), 4), md.group(2).strip(), ""
    found = _match(line)
    if not found:
        return None
    level, m = found
    rest = line[m.end() :]
    if not rest.strip():
        return None
    stop = _FIRST_STOP.search(line, m.end())
    if stop is None:
        heading, body = line, ""
    else:
        heading, body = line[: stop.end()], line[stop.end() :].strip()
    if len(heading) > HEADING_MAX_CHARS:
        return None
    # Chapter headings of laws never carry a full stop ("第一章 总则").
    if level in (1, 2) and heading.startswith("第") and stop is not None:
        return None
    return level, heading, body


def detect_heading(line: str) -> int | None:
    """The heading level (1-4) of a line, or None for body text."""
    parsed = split_heading(line)
    return parsed[0] if parsed else None


def split_sentences(text: str) -> list[str]:
    """Sentences with their end punctuation (。！？； and closing quotes) kept attached."""
    return [s for s in (m.group(0) for m in _SENTENCE.finditer(text)) if s.strip()]


def _pack(paragraphs: list[str], max_chars: int, min_chars: int) -> list[str]:
    """Greedily join paragraphs (split into sentences when too long) into pieces of at most max_chars."""
    units: list[tuple[str, bool]] = []  # (text, starts a paragraph)
    for para in paragraphs:
        if len(para) <= max_chars:
            units.append((para, True))
            continue
        first = True
        for sent in split_sentences(para):
            # A single sentence longer than max_chars is cut hard: there is no better boundary.
            for i in range(0, len(sent), max_chars):
                units.append((sent[i : i + max_chars], first))
                first = False
    pieces: list[str] = []
    current = ""
    for text, new_para in units:
        sep = "\n" if new_para else ""
        if current and len(current) + len(sep) + len(text) > max_chars:
            pieces.append(current)
            current = text
        else:
            current = f"{current}{sep}{text}" if current else text
    if current:
        if pieces and len(current) < min_chars and len(pieces[-1]) + len(current) <= max_chars + min_chars:
            pieces[-1] = f"{pieces[-1]}\n{current}" if current else pieces[-1]
        else:
            pieces.append(current)
    return pieces


def chunk_document(text: str, doc_id: str, *, max_chars: int = 600, min_chars: int = 80) -> list[Chunk]:
    """Chunks of at most about ``max_chars`` characters, each with the headings it sits under.

    Chunk ids are ``<doc_id>:<ordinal>`` (4 digits), stable for the same text.
    """
    sections: list[tuple[list[str], list[str]]] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []

    def flush() -> None:
        if body:
            sections.append(([h for _, h in path], list(body)))
            body.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        parsed = split_heading(line)
        if parsed is None:
            body.append(line)
            continue
        level, heading, rest = parsed
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, heading))
        if rest:
            body.append(rest)
    flush()

    chunks: list[Chunk] = []
    for section_path, paragraphs in sections:
        for piece in _pack(paragraphs, max_chars, min_chars):
            n = len(chunks)
            chunks.append(
                Chunk(chunk_id=f"{doc_id}:{n:04d}", doc_id=doc_id, text=piece, section_path=section_path, ordinal=n)
            )
    return chunks
