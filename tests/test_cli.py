"""The command line with a fake model and fake embeddings: draft, resume, review, revise, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import docx
import pytest
import yaml

import drafting.corpus.store
import drafting.llm.client
from drafting import config
from drafting.cli import main
from drafting.workspace import Workspace
from tests.fakes import (
    COMMENTS_STAGE,
    OUTLINE_STAGE,
    REWRITE_STAGE,
    RoutedFakeChat,
    outline_json,
    prose,
    scores_json,
    writer_routes,
)

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "docs"


def writer(text: str) -> str:
    budget = int(re.findall(r"约 (\d+) 字", text)[-1])
    part = re.findall(r"只写“(.+?)”|请写全文的(..)|这一部分现在的文字", text)
    topic = "".join(part[-1]).split("、")[-1] if part else "修改"
    return prose(budget, seed=f"讲{topic}就要压实安全生产责任")


def make_llm(**extra: list[Any]) -> RoutedFakeChat:
    routes: dict[str, list[Any]] = writer_routes(**extra)
    for marker, answers in {
        OUTLINE_STAGE: [outline_json(["提高站位", "压实责任", "狠抓整治"])],
        COMMENTS_STAGE: ['{"comments": [{"paragraph": 2, "quote": "", "comment": "多举基层实例"}]}'],
        REWRITE_STAGE: [lambda t: prose(300, "修改后要更接地气")],
    }.items():
        routes.setdefault(marker, answers)
    return RoutedFakeChat(routes=routes, default=scores_json("讲提高站位就要压实安全生产责任"))


@pytest.fixture
def fake_world(monkeypatch: pytest.MonkeyPatch, fake_embeddings: Any, tmp_path: Path) -> dict[str, Any]:
    state: dict[str, Any] = {"llm": make_llm()}
    monkeypatch.setattr(drafting.llm.client, "get_chat_model", lambda settings=None, streaming=True: state["llm"])
    monkeypatch.setattr(drafting.llm.client, "check_endpoint", lambda settings=None, timeout=5.0: ["fake"])
    real_open = drafting.corpus.store.open_store
    monkeypatch.setattr(
        drafting.corpus.store, "open_store", lambda settings=None, embeddings=None: real_open(settings, fake_embeddings)
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("sa01.txt", "sc03.txt"):
        (docs / name).write_bytes((CORPUS / name).read_bytes())
    assert main(["ingest", str(docs)]) == 0
    return state


def test_draft_from_request_writes_docx_and_json(
    fake_world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, js = tmp_path / "x.docx", tmp_path / "x.json"
    code = main(
        [
            "draft",
            "--request",
            "为县长起草在全县安全生产工作会议上的讲话，约1500字",
            "--mode",
            "urgent",
            "--out",
            str(out),
            "--review",
            "--json",
            str(js),
        ]
    )
    assert code == 0
    progress = capsys.readouterr().err
    assert "[正文] 已写完" in progress and not re.search(r"opening|body|closing", progress)  # no internal names
    paragraphs = [p.text for p in docx.Document(str(out)).paragraphs if p.text.strip()]
    assert paragraphs[0] == "在全县安全生产工作会议上的讲话"
    # 急稿: the outline is made at once from the brief, about this meeting's subject.
    headings = [p for p in paragraphs if re.match(r"^[一二三]、", p)]
    assert len(headings) == 3 and all("安全生产" in h for h in headings)
    data = json.loads(js.read_text(encoding="utf-8"))
    assert data["brief"]["length"] == 1500 and data["brief"]["speaker"] == "县长"
    assert 1275 <= data["chars"] <= 1725
    assert data["passages"] and data["costs"]["calls"] >= 2 and data["costs"]["tokens_out"] > 0
    assert len(data["review"]["scores"]) == 8
    assert Workspace(config.get_settings().workspace_path).list_projects()[0].versions == 1


def test_empty_brief_fails_before_the_model(
    fake_world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.docx"
    assert main(["draft", "--request", "  ", "--out", str(out)]) == 2
    assert "任务为空" in capsys.readouterr().err
    assert not out.exists() and fake_world["llm"].calls == []


def test_timeout_keeps_partial_and_resume_finishes(
    fake_world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_world["llm"] = make_llm()
    fake_world["llm"].fail_after_chars = 400
    out = tmp_path / "x.docx"
    assert main(["draft", "--request", "为县长起草在全县安全生产工作会议上的讲话，约1000字", "--out", str(out)]) == 3
    assert "超时" in capsys.readouterr().err and not out.exists()
    ws = Workspace(config.get_settings().workspace_path)
    project = ws.list_projects()[0]
    saved = ws.load(project.id).working
    assert saved is not None and not saved.complete and saved.sections[1].text
    fake_world["llm"] = make_llm()
    assert main(["resume", project.id, "--out", str(out)]) == 0
    done = ws.load(project.id)
    assert done.versions and done.versions[-1].draft.complete and len(done.versions[-1].draft.sections) == 5
    assert done.versions[-1].draft.sections[0].text == saved.sections[0].text  # the opening was kept
    assert out.exists()


def test_review_and_slow_revision(
    fake_world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js, v2 = tmp_path / "x.json", tmp_path / "v2.json"
    assert (
        main(
            [
                "draft",
                "--request",
                "为县长起草在全县安全生产工作会议上的讲话，约1000字",
                "--json",
                str(js),
                "--no-review",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["review", str(js), "--json"]) == 0
    review = json.loads(capsys.readouterr().out)
    assert [s["criterion"] for s in review["scores"]][:2] == ["通天气", "接地气"]
    comments = tmp_path / "c.yaml"
    comments.write_text(
        "- text: 结尾加一句号召\n  paragraph: 3\n- text: 删掉全文\n  status: rejected\n", encoding="utf-8"
    )
    assert (
        main(
            [
                "revise",
                str(js),
                "--mode",
                "slow",
                "--comments",
                str(comments),
                "--out",
                str(v2),
                "--docx",
                str(tmp_path / "v2.docx"),
            ]
        )
        == 0
    )
    data = json.loads(v2.read_text(encoding="utf-8"))
    assert data["draft"]["version"] == 2 and data["diff"].startswith("--- 第1稿")
    texts = [c["text"] for c in data["addressed"]]
    # A comments file is the writer's decision (issue 13): reviewers are not asked again, nothing is auto-accepted.
    assert texts == ["结尾加一句号召"]
    assert [v["number"] for v in data["versions"]] == [1, 2]
    assert len(data["coverage"]) == 3 and all("安全生产" in k for k in data["coverage"])  # the outline parts
    assert (tmp_path / "v2.docx").exists()


def test_slow_revision_first_proposes_then_applies_what_the_writer_accepts(
    fake_world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js, v2 = tmp_path / "x.json", tmp_path / "v2.json"
    request = "为县长起草在全县安全生产工作会议上的讲话，约1000字"
    assert main(["draft", "--request", request, "--json", str(js), "--no-review"]) == 0
    capsys.readouterr()
    # Without a comments file: proposals only, numbered and saved; no new version is written.
    assert main(["revise", str(js), "--mode", "slow", "--out", str(v2)]) == 0
    out, err = capsys.readouterr()
    proposals = tmp_path / "v2.comments.yaml"
    assert "1. [" in out and "多举基层实例" in out and "尚未采纳" in err
    assert not v2.exists() and proposals.exists()
    saved = yaml.safe_load(proposals.read_text(encoding="utf-8"))
    assert [c["status"] for c in saved] == ["pending"] and saved[0]["text"] == "多举基层实例"
    fake_world["llm"].calls.clear()
    # The pending file passed back applies nothing; with the writer's "accepted" it applies that one.
    assert main(["revise", str(js), "--comments", str(proposals), "--out", str(v2)]) == 0
    data = json.loads(v2.read_text(encoding="utf-8"))
    assert data["addressed"] == [] and data["diff"] == "" and not fake_world["llm"].calls
    saved[0]["status"] = "accepted"
    proposals.write_text(yaml.safe_dump(saved, allow_unicode=True), encoding="utf-8")
    assert main(["revise", str(js), "--comments", str(proposals), "--out", str(v2)]) == 0
    data = json.loads(v2.read_text(encoding="utf-8"))
    assert [c["text"] for c in data["addressed"]] == ["多举基层实例"] and data["diff"]
    assert "自动检查" in capsys.readouterr().err
    # --accept-all is the deliberate way to take every proposal at once.
    assert main(["revise", str(js), "--mode", "slow", "--accept-all", "--out", str(v2)]) == 0
    assert "多举基层实例" in [c["text"] for c in json.loads(v2.read_text(encoding="utf-8"))["addressed"]]


def test_ingest_reports_bad_files(
    fake_world: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (bad / "ok.txt").write_text("关于做好安全生产工作的通知\n\n一、总体要求\n\n各单位要压实责任。", encoding="utf-8")
    capsys.readouterr()
    assert main(["ingest", str(bad)]) == 0
    out = capsys.readouterr().out
    assert "empty.txt" in out and "空的" in out and ".doc" in out


def test_check_docx_and_lint_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "plain.docx"
    d = docx.Document()
    d.add_paragraph("关于申请资金的请示")
    d.save(str(plain))
    assert main(["check-docx", str(plain)]) == 1
    out = capsys.readouterr().out
    assert "layout.margin.top" in out and "layout.page_number.missing" in out
    req = tmp_path / "q.txt"
    req.write_text("关于申请资金的请示\n\n江川市人民政府：\n\n我县拟申请资金。\n", encoding="utf-8")
    assert main(["lint", str(req), "--genre", "请示"]) == 0  # a missing closing is a warning, not an error
    out = capsys.readouterr().out
    assert "lint.qingshi.closing" in out and "lint.qingshi.addressee" not in out
    req.write_text("关于申请资金的请示\n\n我县拟申请资金。\n\n妥否，请批示。\n", encoding="utf-8")
    assert main(["lint", str(req), "--genre", "请示"]) == 1
    assert "lint.qingshi.addressee" in capsys.readouterr().out
