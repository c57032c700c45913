"""Stop a streamed answer once what it writes can only be thrown away (issue 14: time goes to text).

The gate drops a sentence said twice and everything after a speech's own end; a small model writes
both often (measured 2026-11-27 on the local 1.5B model: the three follow-ups of the 1500-字 safety
speech returned the same 277 字 word for word, and the gate dropped the last two, 26 of its 64 seconds;
a first answer wrote "谢谢大家！", a "---" line and a second closing). Generating those tokens only costs time, so the stream is cut
as soon as they start: the server stops when the client goes away.
"""

from __future__ import annotations

import re

from drafting.checks.gate import THANK_YOU, said_before
from drafting.domain import count_chars
from drafting.writing.text import split_sentences

__all__ = ["StreamGuard", "REPEATS_TO_STOP", "ends_after"]

# Consecutive finished sentences that say again what was written before the stream stops: up to three
# can be a deliberate echo or a follow-up restating its part's first lines (a hero's birth year, post and
# deeds) before it goes on with something new (seen on the local 1.5B model); four in a row is the model
# starting over.
REPEATS_TO_STOP = 4
MIN_SENTENCE = 8  # characters; shorter sentences ("同志们：", "谢谢大家！") are never counted
# How alike two sentences must be to count here: stricter than the gate's NEAR_REPEAT (0.8), because a
# stop loses the rest of the answer where the gate drops one sentence; a model starting over repeats
# itself word for word, while parallel sentences (排比) that differ in a word or two stay below this.
SAME = 0.9
# After the piece's own thanks: a separator or a label line ("---", "**结尾：**", "以上是……") starts
# something that is not the speech.
_AFTER_END = re.compile(r"^\s*(?:[-*=_—]{3,}|\*\*[^*\n]{1,12}[:：]?\*\*|#{1,6}\s|(?:以上|注[:：]|备注|说明[:：]))")


def ends_after(answer: str, thanks_end: int) -> bool:
    """True when the first line after a thanks (ending at ``thanks_end``) starts something that is not
    the piece: the thanks ended it, however short the piece is."""
    rest = [line for line in answer[thanks_end:].split("\n")[1:] if line.strip()]
    return bool(rest) and bool(_AFTER_END.match(rest[0]))


_LIST_MARK = re.compile(r"^\s*(?:\d+[.、]|[（(][一二三四五六七八九十\d]+[）)]|[-*•]\s*)")


class StreamGuard:
    """Call with each streamed piece; True means stop reading: the last :data:`REPEATS_TO_STOP`
    finished sentences all repeat earlier text (``written`` or this answer), the answer has ``enough``
    characters (what the draft still lacks, with a margin: the rest would be trimmed), or a line after
    the answer's thanks begins something else. Only finished sentences are judged; the piece that finished
    the last one may carry a few characters more, which :meth:`trim` takes off."""

    def __init__(self, written: str = "", enough: int = 0) -> None:
        self.enough = enough  # characters after which the answer may stop at a sentence end (0: no limit)
        self.seen: list[str] = [s for s in self._sentences(written) if count_chars(s) >= MIN_SENTENCE]
        self.text = ""
        self.checked = 0  # characters of ``text`` already split into finished sentences
        self.run = 0
        self.reason = ""

    def trim(self, answer: str) -> str:
        """``answer`` as the caller should keep it: after a stop, up to its last sentence end."""
        if not self.reason:
            return answer
        return answer[: max(answer.rfind(ch) for ch in "。！？!?\n") + 1]

    @staticmethod
    def _sentences(text: str) -> list[str]:
        return [_LIST_MARK.sub("", s).strip() for line in text.split("\n") for s in split_sentences(line)]

    def __call__(self, piece: str) -> bool:
        self.text += piece
        if not re.search(r"[。！？!?\n]", piece):
            return False
        end = max(self.text.rfind(ch) for ch in "。！？!?\n") + 1
        finished, self.checked = self.text[self.checked : end], end
        for sentence in self._sentences(finished):
            # Headings and labels ("【二、……】") between the repeated paragraphs neither count nor break the run.
            if count_chars(sentence) < MIN_SENTENCE or sentence[-1:] not in "。！？!?；":
                continue
            again = said_before(sentence, self.seen, SAME)
            self.run = self.run + 1 if again else 0
            self.seen.append(sentence)
            if self.run >= REPEATS_TO_STOP:
                self.reason = "repeat"
                return True
        if self.enough and count_chars(self.text[:end]) >= self.enough:
            self.reason = "enough"
            return True
        if any(ends_after(self.text[:end], m.end()) for m in THANK_YOU.finditer(self.text)):
            self.reason = "after-end"
            return True
        return False
