"""The facts ledger: every figure, date, person, place and organisation of a draft, where it came from
(brief field, material line, the writer's confirmation, or nowhere), and whether the writer confirmed it.

The writer confirms a fact once, or corrects it (filling a 〔待补：…〕 is the same operation): a correction
replaces every use of the fact in the current draft and nothing else, as a new version. Confirmed facts
count as supplied (the gate keeps them, through ``Brief.confirmed``) and :func:`keep_confirmed` puts them
back wherever a rewrite changed or dropped them.

:func:`build_ledger`, :func:`apply_correction` and :func:`keep_confirmed` are pure; :func:`confirm`,
:func:`correct` and :func:`unconfirm` save to the workspace, as :mod:`drafting.roundtrip` does.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Sequence
from enum import Enum

from pydantic import Field, computed_field

from drafting.checks.facts import (
    PLACEHOLDER,
    Fact,
    FactKind,
    fact_kind,
    find_facts,
    normalise,
    replace_uses,
    supplied_by,
    uses,
)
from drafting.checks.locks import normalise_lock, plain, restore_locks
from drafting.docx import layout as L
from drafting.domain import Brief, ConfirmedFact, Draft, DraftSection, Version, _Model
from drafting.errors import DraftingError
from drafting.workspace import Workspace
from drafting.writing.references import overlap

__all__ = [
    "FactOrigin",
    "FactStatus",
    "LedgerEntry",
    "Ledger",
    "CorrectionResult",
    "KIND_LABELS",
    "build_ledger",
    "apply_correction",
    "keep_confirmed",
    "with_confirmed",
    "project_ledger",
    "confirm",
    "correct",
    "unconfirm",
]

log = logging.getLogger(__name__)

PLACEHOLDER_KIND = "placeholder"
KIND_LABELS = {
    FactKind.NUMBER.value: "数字",
    FactKind.DATE.value: "日期",
    FactKind.PERSON.value: "人名",
    FactKind.PLACE.value: "地名",
    FactKind.ORG.value: "单位",
    PLACEHOLDER_KIND: "待补",
}
_REWRITE_AT = 0.4  # share of an old sentence's bigrams a new sentence must keep to count as its rewrite


class FactOrigin(str, Enum):
    CONFIRMED = "confirmed"  # the writer confirmed or corrected it in the ledger
    BRIEF = "brief"  # a field of the brief
    MATERIAL = "material"  # a line of the writer's material
    PLACEHOLDER = "placeholder"  # a 〔待补：…〕 still to fill
    UNKNOWN = "unknown"  # nobody gave it

    @property
    def label(self) -> str:
        return {"confirmed": "撰稿人确认", "brief": "任务书", "material": "素材", "placeholder": "待补"}.get(
            self.value, "来源不明"
        )


class FactStatus(str, Enum):
    CONFIRMED = "confirmed"
    TO_CHECK = "to_check"

    @property
    def label(self) -> str:
        return "已确认" if self is FactStatus.CONFIRMED else "待核实"


class LedgerEntry(_Model):
    n: int  # 1-based, in reading order: what the writer types after --confirm / --set
    kind: str  # FactKind value, or "placeholder"
    text: str  # as it stands in the draft (a placeholder: the whole 〔待补：…〕)
    origin: FactOrigin
    source: str = ""  # where, in Chinese: "任务书·本地情况和数据", "素材1第3行：“……”", …
    status: FactStatus = FactStatus.TO_CHECK
    count: int = 1  # uses in the draft
    paragraphs: list[int] = Field(default_factory=list)  # 1-based paragraph numbers; 0 = the title
    context: str = ""  # the first sentence that uses it

    # The Chinese labels travel with the JSON, so the CLI, the JSON and the UI say the same.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def origin_label(self) -> str:
        return self.origin.label

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def where(self) -> str:
        """The paragraphs, as 标题、第4段、第7段."""
        return "、".join("标题" if p == 0 else f"第{p}段" for p in self.paragraphs)


class Ledger(_Model):
    version: int
    entries: list[LedgerEntry] = Field(default_factory=list)

    def entry(self, n: int) -> LedgerEntry:
        for e in self.entries:
            if e.n == n:
                return e
        raise DraftingError(f"事实表里没有第{n}项（共{len(self.entries)}项，见 drafting facts 项目编号）。")

    @property
    def to_check(self) -> int:
        return sum(e.status is FactStatus.TO_CHECK for e in self.entries)


class CorrectionResult(_Model):
    version: Version
    entry: LedgerEntry
    value: str
    count: int  # uses replaced
    locks: list[str] = Field(default_factory=list)  # locked sentences rewritten to the new value


_BRIEF_FIELDS = (
    ("title", "标题"),
    ("occasion", "场合"),
    ("speaker", "讲话人"),
    ("audience", "听众"),
    ("date", "日期"),
    ("request", "领导交代"),
    ("policy", "上级精神"),
    ("facts", "本地情况和数据"),
)


def _cut(text: str, n: int = 30) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + "……"


def _source(fact: Fact, brief: Brief) -> tuple[FactOrigin, str]:
    for name, label in _BRIEF_FIELDS:
        if supplied_by(fact, str(getattr(brief, name) or "")):
            return FactOrigin.BRIEF, f"任务书·{label}"
    for i, point in enumerate(brief.key_points, 1):
        if supplied_by(fact, point):
            return FactOrigin.BRIEF, f"任务书·要点{i}"
    for i, text in enumerate(brief.material, 1):
        for j, line in enumerate(text.splitlines(), 1):
            if line.strip() and supplied_by(fact, line):
                return FactOrigin.MATERIAL, f"素材{i}第{j}行：“{_cut(line)}”"
    return FactOrigin.UNKNOWN, "任务书和素材中都没有"


def _lines(draft: Draft) -> list[tuple[int, str]]:
    """(paragraph number, text): 0 for the title, then 1.. for ``draft.paragraphs``."""
    return [(0, draft.title), *((i, p) for i, p in enumerate(draft.paragraphs, 1))]


def _sentence_at(line: str, at: int) -> str:
    pos = 0
    for s in L.split_sentences(line):
        if pos <= at < pos + len(s):
            return plain(s).strip()
        pos += len(s)
    return plain(line).strip()


def build_ledger(draft: Draft, confirmed: Sequence[ConfirmedFact] = ()) -> Ledger:
    """Every fact and placeholder of ``draft`` once, in reading order, with its source and status.
    ``confirmed`` are the project's confirmed facts; values in ``draft.brief.confirmed`` count too."""
    by_value = {normalise(c.value): c for c in confirmed}
    for v in draft.brief.confirmed:
        by_value.setdefault(normalise(v), ConfirmedFact(value=v))
    entries: dict[str, LedgerEntry] = {}
    for para, line in _lines(draft):
        # A fact inside a confirmed value's use is confirmed with it ("李明" in a filled "李明同志").
        within = [(a, b, c) for c in by_value.values() for a, b in uses(c.value, line)]
        found: list[tuple[int, str, str, Fact | None]] = [
            (f.start, f.kind.value, f.text, f) for f in find_facts(line, people=True)
        ]
        found += [(m.start(), PLACEHOLDER_KIND, m.group(0), None) for m in PLACEHOLDER.finditer(line)]
        for at, kind, text, fact in sorted(found, key=lambda x: x[0]):
            key = normalise(text)
            if key in entries:
                e = entries[key]
                e.count += 1
                if para not in e.paragraphs:
                    e.paragraphs.append(para)
                continue
            if fact is None:
                origin, source, status = FactOrigin.PLACEHOLDER, "待补：请填写", FactStatus.TO_CHECK
            elif key in by_value or any(a <= at and at + len(text) <= b for a, b, _ in within):
                record = by_value.get(key) or next(c for a, b, c in within if a <= at and at + len(text) <= b)
                was = record.was
                origin, status = FactOrigin.CONFIRMED, FactStatus.CONFIRMED
                source = f"撰稿人改定（原为“{_cut(was, 20)}”）" if was else "撰稿人确认"
            else:
                origin, source = _source(fact, draft.brief)
                status = FactStatus.TO_CHECK
            entries[key] = LedgerEntry(
                n=len(entries) + 1,
                kind=kind,
                text=text,
                origin=origin,
                source=source,
                status=status,
                paragraphs=[para],
                context=_cut(_sentence_at(line, at), 60),
            )
    return Ledger(version=draft.version, entries=list(entries.values()))


def apply_correction(draft: Draft, old: str, new: str) -> tuple[Draft, int]:
    """``draft`` with every use of ``old`` (title, headings, text) replaced by ``new`` and nothing else
    changed; the version number is left to the caller. Returns the draft and the number of uses."""
    total = 0

    def fix(text: str) -> str:
        nonlocal total
        out, count = replace_uses(text, old, new)
        total += count
        return out

    sections = [
        DraftSection(heading=fix(s.heading), kind=s.kind, text=fix(s.text), complete=s.complete) for s in draft.sections
    ]
    title = fix(draft.title)
    return draft.model_copy(update={"title": title, "sections": sections}), total


def with_confirmed(draft: Draft, confirmed: Sequence[ConfirmedFact]) -> Draft:
    """``draft`` whose brief carries the confirmed values (the gate counts them as supplied)."""
    values = list(dict.fromkeys([*draft.brief.confirmed, *(c.value for c in confirmed)]))
    if values == draft.brief.confirmed:
        return draft
    return draft.model_copy(update={"brief": draft.brief.model_copy(update={"confirmed": values})})


# --- revisions keep confirmed facts ------------------------------------------------------------------------


def _units(lines: list[str]) -> list[tuple[int, int, str]]:
    return [(i, k, s) for i, line in enumerate(lines) for k, s in enumerate(L.split_sentences(line))]


def _same_kind(value: str) -> set[FactKind]:
    kind = fact_kind(value)
    if kind in (FactKind.PLACE, FactKind.ORG):
        return {FactKind.PLACE, FactKind.ORG}
    return {kind} if kind else set()


def _put_back(lines: list[str], old_sentence: str, value: str) -> list[str] | None:
    """Put ``value`` back into the rewrite of ``old_sentence``, in place of the fact the model wrote
    instead (same kind, preferring the same unit). None when there is no such sentence or fact."""
    kinds = _same_kind(value)
    if not kinds:
        return None
    best, best_at = 0.0, -1
    units = _units(lines)
    for u, (_, _, s) in enumerate(units):
        score = overlap(plain(old_sentence), plain(s))
        if score > best and not uses(value, s):
            best, best_at = score, u
    if best_at < 0 or best < _REWRITE_AT:
        return None
    line, k, sentence = units[best_at]
    unit = next((f.unit for f in find_facts(value)), "")
    candidates = [
        f for f in find_facts(sentence, people=True) if f.kind in kinds and not uses(f.text, plain(old_sentence))
    ]
    if not candidates:
        return None
    pick = next((f for f in candidates if unit and f.unit == unit), candidates[0])
    fixed = sentence[: pick.start] + value + sentence[pick.end :]
    parts = L.split_sentences(lines[line])
    parts[k] = fixed
    return [*lines[:line], "".join(parts), *lines[line + 1 :]]


def keep_confirmed(old: str, new: str, confirmed: Sequence[str]) -> str:
    """``new`` (a rewrite of ``old``) with every confirmed value of ``old`` kept: a figure, date or name
    the model changed goes back in place of what it wrote; where it cannot be told apart (the model
    spelled it out, or dropped the sentence), the old sentence comes back whole, as a locked one does."""
    for value in confirmed:
        missing = len(uses(value, old)) - len(uses(value, new))
        if not value.strip() or missing <= 0:
            continue
        lines = [x for x in new.splitlines() if x.strip()]
        olds = [s for line in old.splitlines() for s in L.split_sentences(line) if uses(value, s)]
        for sentence in olds:
            if missing <= 0:
                break
            if any(uses(value, s) and overlap(plain(sentence), plain(s)) >= _REWRITE_AT for _, _, s in _units(lines)):
                continue  # this sentence kept the value
            put = _put_back(lines, sentence, value)
            if put is None:
                lock = normalise_lock(sentence)
                put = [x for x in restore_locks(old, "\n".join(lines), [lock]).splitlines() if x.strip()]
            lines = put
            missing -= 1
        new = "\n".join(lines)
    return new


# --- the workspace side: what the writer does ---------------------------------------------------------------


def _latest(ws: Workspace, project_id: str) -> tuple[Version, list[ConfirmedFact]]:
    project = ws.load(project_id)
    if not project.versions:
        raise DraftingError("这个项目还没有稿子，起草后才有事实表。")
    return project.versions[-1], project.facts


def project_ledger(ws: Workspace, project_id: str) -> Ledger:
    """The ledger of the project's newest version."""
    latest, facts = _latest(ws, project_id)
    return build_ledger(latest.draft, facts)


def confirm(ws: Workspace, project_id: str, numbers: Sequence[int]) -> list[LedgerEntry]:
    """Confirm entries as they stand; a placeholder cannot be confirmed, only filled."""
    ledger = project_ledger(ws, project_id)
    chosen = [ledger.entry(n) for n in numbers]
    for e in chosen:
        if e.kind == PLACEHOLDER_KIND:
            raise DraftingError(
                f"第{e.n}项“{e.text}”是待补内容，不能确认，请填写：drafting facts 项目编号 --set {e.n} 值"
            )
    for e in chosen:
        ws.confirm_fact(project_id, ConfirmedFact(value=e.text, kind=e.kind))
    return chosen


def unconfirm(ws: Workspace, project_id: str, n: int) -> LedgerEntry:
    entry = project_ledger(ws, project_id).entry(n)
    if not ws.unconfirm_fact(project_id, entry.text):
        raise DraftingError(f"第{n}项“{entry.text}”没有确认过。")
    return entry


def _check_value(value: str) -> str:
    value = value.strip()
    if not value:
        raise DraftingError("新值是空的：请写出正确的数字、日期或名称。")
    if "\n" in value or len(value) > 60:
        raise DraftingError("新值应是一个数字、日期或名称（一行，60 字以内），不是一段话。")
    if PLACEHOLDER.search(value):
        raise DraftingError("新值里不能再有〔待补〕。")
    if re.search(r"\[\d{1,3}\]", value):
        raise DraftingError("新值里不能有引用标记 [n]。")
    return value


def _diff(old: Draft, new: Draft) -> str:
    """A unified diff by paragraph, labelled with version numbers (as the revise stage writes it)."""
    return "\n".join(
        difflib.unified_diff(
            old.paragraphs, new.paragraphs, fromfile=f"第{old.version}稿", tofile=f"第{new.version}稿", lineterm=""
        )
    )


def correct(ws: Workspace, project_id: str, n: int, value: str, *, expect: str = "") -> CorrectionResult:
    """Put ``value`` in place of entry ``n`` everywhere in the newest version (a 〔待补〕 is filled the
    same way); the result is the next version, and ``value`` is a confirmed fact from then on. Locked
    sentences that used the old value are locked with the new one. ``expect`` is the entry's text as the
    writer saw it: if the draft changed meanwhile, nothing is done."""
    value = _check_value(value)
    latest, facts = _latest(ws, project_id)
    entry = build_ledger(latest.draft, facts).entry(n)
    if expect and entry.text != expect:
        raise DraftingError(f"稿子已有新的一稿，第{n}项现在是“{entry.text}”而不是“{expect}”：请刷新事实表后再改。")
    if value == entry.text:
        confirm(ws, project_id, [n])
        raise DraftingError(f"新值与原文相同，已确认第{n}项“{value}”，稿子未改动。")
    draft, count = apply_correction(latest.draft, entry.text, value)
    if not count:
        raise DraftingError(f"第{n}项“{entry.text}”在稿中找不到，未改动。")
    fact = ConfirmedFact(value=value, kind=entry.kind, was=entry.text)
    kept = [c for c in facts if normalise(c.value) != normalise(entry.text)]
    number = latest.number + 1
    brief = draft.brief.model_copy(update={"confirmed": [c.value for c in [*kept, fact]]})
    draft = draft.model_copy(update={"version": number, "brief": brief})
    version = Version(
        number=number,
        draft=draft,
        mode=latest.mode,
        note=f"核实事实：“{entry.text}”改为“{value}”（{count}处）",
        diff=_diff(latest.draft, draft),
        coverage=latest.coverage,
    )
    ws.add_version(project_id, version)
    ws.save_working(project_id, draft)
    if entry.status is FactStatus.CONFIRMED:
        ws.unconfirm_fact(project_id, entry.text)
    ws.confirm_fact(project_id, fact)
    relocked: list[str] = []
    for lock in ws.locks(project_id):
        fixed, hits = replace_uses(lock, entry.text, value)
        if hits:
            ws.unlock(project_id, lock)
            relocked.append(ws.lock(project_id, fixed))
    log.info("ledger: project %s version %d: %r -> %r (%d uses)", project_id, number, entry.text, value, count)
    return CorrectionResult(version=version, entry=entry, value=value, count=count, locks=relocked)
