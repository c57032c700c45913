"""Locked sentences and paragraphs: wording the writer or the leader approved, kept character for
character through every rewrite, 慢稿 round and shortening.

A lock is the visible text (citation marks ignored). The revise stage tells the model which sentences
are locked and then checks its answer with :func:`restore_locks`: a locked sentence the model changed
goes back in place of the sentence that replaced it, or, if the model dropped it, after the sentence
that preceded it before. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from drafting.docx import layout as L
from drafting.writing.references import overlap

__all__ = ["plain", "normalise_lock", "locks_in", "missing_locks", "restore_locks"]

_REPLACE_AT = 0.4  # share of the lock's bigrams a new sentence must keep to count as its rewrite


def plain(text: str) -> str:
    return L.CITATION_MARK.sub("", text)


def normalise_lock(text: str) -> str:
    """What is stored: the visible text of one sentence or paragraph, trimmed."""
    return plain(text).strip()


def locks_in(text: str, locks: Sequence[str]) -> list[str]:
    """The locks that occur in ``text``."""
    visible = plain(text)
    return [lk for lk in locks if lk and lk in visible]


def missing_locks(old: str, new: str, locks: Sequence[str]) -> list[str]:
    """Locks present in ``old`` but no longer, character for character, in ``new``."""
    return [lk for lk in locks_in(old, locks) if lk not in plain(new)]


def _units(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line, position in line, sentence) for every sentence of every line."""
    return [(i, k, s) for i, line in enumerate(lines) for k, s in enumerate(L.split_sentences(line))]


def _raw_window(old_lines: list[str], lock: str) -> tuple[str, str | None, int]:
    """The lock as written in ``old`` (with its marks), the sentence before it, and its line number."""
    for i, line in enumerate(old_lines):
        if plain(line).strip() == lock:
            before = old_lines[i - 1] if i else None
            return line.strip(), (L.split_sentences(before)[-1] if before else None), i
        sentences = L.split_sentences(line)
        for a in range(len(sentences)):
            for b in range(a + 1, len(sentences) + 1):
                joined = "".join(sentences[a:b])
                if plain(joined).strip() == lock:
                    return joined, (sentences[a - 1] if a else None), i
                if len(plain(joined)) > len(lock):
                    break
    return lock, None, -1


def _restore_one(old_lines: list[str], new_lines: list[str], lock: str) -> list[str]:
    raw, before, old_line = _raw_window(old_lines, lock)
    whole_line = old_line >= 0 and plain(old_lines[old_line]).strip() == lock
    size = max(1, len(L.split_sentences(lock)))
    units = _units(new_lines)
    best_score, best_at = 0.0, -1
    for u in range(len(units)):
        window = units[u : u + size]
        if len({line for line, _, _ in window}) != 1:
            continue
        score = overlap(lock, plain("".join(s for _, _, s in window)))
        if score > best_score:
            best_score, best_at = score, u
    if best_at >= 0 and best_score >= _REPLACE_AT:  # rewritten: the lock replaces its rewrite
        line, k = units[best_at][0], units[best_at][1]
        sentences = L.split_sentences(new_lines[line])
        pre, post = "".join(sentences[:k]), "".join(sentences[k + size :])
        # A locked paragraph stays a paragraph of its own, even if the model merged it into another.
        parts = [pre, raw, post] if whole_line else ["".join([pre, raw, post])]
        new_lines[line : line + 1] = [x for x in parts if x.strip()]
        return new_lines
    if whole_line:  # dropped: back at its old place
        new_lines.insert(min(old_line, len(new_lines)), raw)
        return new_lines
    if before is not None:  # dropped: back after the sentence that preceded it
        for line, k, s in units:
            if plain(s).strip() == plain(before).strip():
                sentences = L.split_sentences(new_lines[line])
                new_lines[line] = "".join([*sentences[: k + 1], raw, *sentences[k + 1 :]])
                return new_lines
    if not new_lines:
        return [raw]
    target = min(max(old_line, 0), len(new_lines) - 1)
    new_lines[target] = (raw + new_lines[target]) if before is None else (new_lines[target] + raw)
    return new_lines


def restore_locks(old: str, new: str, locks: Sequence[str]) -> str:
    """``new`` with every lock of ``old`` back, unchanged; the rest of ``new`` as the model wrote it."""
    lost = missing_locks(old, new, locks)
    if not lost:
        return new
    old_lines = [x for x in old.splitlines() if x.strip()]
    new_lines = [x for x in new.splitlines() if x.strip()]
    for lock in lost:
        new_lines = _restore_one(old_lines, new_lines, lock)
    return "\n".join(new_lines)
