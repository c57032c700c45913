"""Locked sentences survive rewrites: pure restore rules, then real revise rounds with a fake model
that tries to change them."""

from __future__ import annotations

from pathlib import Path

import pytest

from drafting.checks.locks import missing_locks, restore_locks
from drafting.domain import RevisionMode, Version
from drafting.errors import WorkspaceError
from drafting.workspace import Workspace
from drafting.writing.pipeline import run_revision
from drafting.writing.revise import instruction_for, revise, rewrite_section
from tests.docx_edits import speech_draft
from tests.fakes import COMMENTS_STAGE, REWRITE_STAGE, RoutedFakeChat

LOCKED = "要健全责任体系，做到层层有人抓。"
# What a model does to approved wording: it rewrites it, and shortens around it.
CHANGED = "安全生产责任重于泰山。各级各部门要守土尽责。要健全责任链条，做到层层有人抓、事事有人管。"
DROPPED = "安全生产责任重于泰山，各级各部门要守土尽责，把每一项措施落到实处，不留死角。"
REWRITE = REWRITE_STAGE
REVIEWERS = COMMENTS_STAGE


def fake(answer: str) -> RoutedFakeChat:
    return RoutedFakeChat(
        routes={
            REWRITE: [answer],
            REVIEWERS: ['{"comments": [{"paragraph": 5, "quote": "层层有人抓", "comment": "这句太平，改得有力些"}]}'],
        }
    )


def test_restore_puts_a_rewritten_sentence_back_in_its_place():
    old = "安全生产责任重于泰山[1]。各级各部门要守土有责。\n" + LOCKED
    new = "安全生产责任重于泰山。各级各部门要守土尽责。\n要健全责任链条，做到层层有人抓、事事有人管。"
    out = restore_locks(old, new, [LOCKED])
    assert out == "安全生产责任重于泰山。各级各部门要守土尽责。\n" + LOCKED
    assert missing_locks(old, out, [LOCKED]) == []


def test_restore_puts_a_dropped_sentence_back_after_its_old_neighbour():
    old = "甲句在前。要压实责任，不留死角。乙句在后。"
    new = "甲句在前。乙句改过了。"
    assert restore_locks(old, new, ["要压实责任，不留死角。"]) == "甲句在前。要压实责任，不留死角。乙句改过了。"


def test_restore_whole_paragraph_and_marks_do_not_count_as_changes():
    para = "同志们，让我们共同努力，奋力开创安全生产工作新局面。"
    old = "第一段。\n" + para
    assert restore_locks(old, "第一段改了。\n同志们，让我们一起努力，开创新局面。", [para]).splitlines()[-1] == para
    assert restore_locks(old, "第一段改了。", [para]).splitlines() == ["第一段改了。", para]
    assert restore_locks("甲[1]。乙。", "甲[2]。丙。", ["甲。"]) == "甲[2]。丙。"  # only the marks differ


def test_locked_sentence_survives_a_shortening_rewrite():
    draft = speech_draft()
    llm = fake(CHANGED)
    version = rewrite_section(draft, 1, instruction_for("shorten", length=40), llm, [], budget=40, locked=[LOCKED])
    text = version.draft.sections[1].text
    assert LOCKED in text and "要健全责任链条" not in text
    assert "守土尽责" in text  # the model's other edits stay
    asked = llm.calls[-1]["prompt"]
    assert "压缩到约40字" in asked and f"“{LOCKED}”" in asked and "一字不改" in asked


def test_without_the_lock_the_model_would_have_changed_it():
    version = rewrite_section(speech_draft(), 1, instruction_for("shorten", length=40), fake(CHANGED), [], budget=40)
    assert LOCKED not in version.draft.sections[1].text


def test_locked_sentence_survives_a_slow_round_even_when_the_model_drops_it():
    draft = speech_draft()
    # accept_all: reviewer comments are proposals (issue 13); taking them all makes the model rewrite.
    version, considered = revise(draft, [], RevisionMode.SLOW, fake(DROPPED), [], locked=[LOCKED], accept_all=True)
    assert any(c.text == "这句太平，改得有力些" for c in considered)
    assert LOCKED in version.draft.sections[1].text
    assert "不留死角" in version.draft.sections[1].text  # the rewrite was taken


def test_workspace_stores_locks_and_run_revision_keeps_them(tmp_path: Path):
    ws = Workspace(tmp_path / "ws.sqlite")
    draft = speech_draft()
    pid = ws.create_project(draft.brief)
    ws.add_version(pid, Version(number=1, draft=draft, mode=RevisionMode.URGENT))
    assert ws.lock(pid, LOCKED + "  ") == LOCKED
    ws.lock(pid, LOCKED)  # twice is once
    assert ws.locks(pid) == [LOCKED] and ws.load(pid).locks == [LOCKED]
    version = run_revision(ws, pid, llm=fake(CHANGED), mode=RevisionMode.SLOW)
    assert LOCKED in version.draft.sections[1].text
    assert ws.unlock(pid, LOCKED) and ws.locks(pid) == []
    with pytest.raises(WorkspaceError):
        ws.lock(pid, "  ")
    with pytest.raises(WorkspaceError):
        ws.lock("nope", LOCKED)
