"""drafting export / import-edited / lint --strict on the command line (no model involved)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from docx import Document

from drafting import config
from drafting.cli import main
from drafting.docx import layout as L
from drafting.docx.check import check_docx, conforms
from drafting.docx.export import export_docx
from drafting.domain import DraftSection, RevisionMode, Version
from drafting.workspace import Workspace
from tests.docx_edits import ADDED, REWRITTEN, edit_like_a_leader, speech_draft
from tests.test_cli import fake_world  # noqa: F401 - a fixture
from tests.test_export_kinds import all_xml, with_placeholder


@pytest.fixture
def project() -> tuple[Workspace, str]:
    ws = Workspace(config.get_settings().workspace_path)
    draft = speech_draft()
    pid = ws.create_project(draft.brief)
    ws.add_version(pid, Version(number=1, draft=draft, mode=RevisionMode.URGENT, note="初稿"))
    return ws, pid


def test_export_final_by_default_shows_lint_first_and_conforms(project, tmp_path, capsys):
    ws, pid = project
    draft = speech_draft()
    sections = list(draft.sections)
    sections.insert(3, DraftSection(heading="四、跳号的标题", kind="body", text="内容。"))
    ws.add_version(
        pid, Version(number=2, draft=draft.model_copy(update={"sections": sections}), mode=RevisionMode.URGENT)
    )
    out = tmp_path / "定稿.docx"
    assert main(["export", pid, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.index("[体例检查]") < err.index("[导出] 定稿")
    assert "[错误] 第9行：标题序号跳号" in err and "“四、跳号的标题”" in err
    data = out.read_bytes()
    assert conforms(check_docx(data))
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert "[" not in text and "附件" not in text and "四、跳号的标题" in text
    assert main(["export", pid, "--version", "1", "--out", str(tmp_path / "v1.docx")]) == 0
    assert "四、跳号的标题" not in "\n".join(p.text for p in Document(str(tmp_path / "v1.docx")).paragraphs)


def test_export_refuses_placeholders_unless_forced(project, tmp_path, capsys):
    ws, pid = project
    ws.add_version(pid, Version(number=2, draft=with_placeholder(), mode=RevisionMode.URGENT))
    out = tmp_path / "x.docx"
    assert main(["export", pid, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "还有2处待补内容" in err and "〔待补：分管副县长姓名〕" in err and not out.exists()
    assert main(["export", pid, "--out", str(out), "--force"]) == 0
    assert "[强制导出]" in capsys.readouterr().err and out.exists()
    assert main(["export", pid, "--kind", "送审稿", "--out", str(tmp_path / "review.docx")]) == 0
    comments = list(Document(str(tmp_path / "review.docx")).comments)
    assert sum(c.text.startswith("待补：") for c in comments) == 2
    assert sum(c.text.startswith("引用[") for c in comments) == 2


def test_round_trip_on_the_command_line(project, tmp_path, capsys):
    ws, pid = project
    exported = tmp_path / "讲话.docx"
    assert main(["export", pid, "--out", str(exported)]) == 0
    edited = tmp_path / "科长改过.docx"
    edited.write_bytes(edit_like_a_leader(exported.read_bytes()))
    capsys.readouterr()
    assert main(["import-edited", pid, str(edited)]) == 0
    out = capsys.readouterr().out
    assert "[导入] 第2稿（与第1稿比较）" in out
    assert f"→ “{REWRITTEN[:30]}”" in out and "新增 第" in out and "删除 原第" in out
    assert "批注（张科长，针对“隐患就是事故，要坚持问题导向。”）：这句再有力一些。" in out
    assert [v.number for v in ws.versions(pid)] == [1, 2]
    # The 送审稿 of version 2 carries the two 批注 back to their sentences.
    review = tmp_path / "送审.docx"
    assert main(["export", pid, "--kind", "送审稿", "--out", str(review)]) == 0
    authors = sorted(c.author for c in Document(str(review)).comments if c.author != "文稿助手")
    assert authors == ["张科长", "李主任"]
    assert main(["import-edited", pid, str(edited), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"]["number"] == 3 and data["base"] == 1
    assert data["comments"] == []  # the same 批注 imported again are not duplicated
    assert any(c["kind"] == "新增" and c["new"] == ADDED for c in data["changes"])
    assert any("第1稿导出" in n for n in data["notes"])


def test_import_edited_bad_input_is_a_clear_error(project, tmp_path, capsys):
    _, pid = project
    assert main(["import-edited", pid, str(tmp_path / "none.docx")]) == 2
    assert "找不到文件" in capsys.readouterr().err
    bad = tmp_path / "bad.docx"
    bad.write_text("不是Word", encoding="utf-8")
    assert main(["import-edited", pid, str(bad)]) == 2
    assert "读不了这个Word文档" in capsys.readouterr().err
    assert main(["import-edited", "nope", str(bad)]) == 2
    assert "找不到文稿项目" in capsys.readouterr().err


def test_lint_exit_codes_errors_warnings_and_strict(tmp_path, capsys):
    warn = tmp_path / "warn.txt"
    warn.write_text(
        "关于申请资金的请示\n江川市人民政府：\n恳请拨付资金500万元。\n我们将管好用好资金。", encoding="utf-8"
    )
    assert main(["lint", str(warn), "--genre", "请示"]) == 0
    assert "[警告]" in capsys.readouterr().out
    assert main(["lint", str(warn), "--genre", "请示", "--strict"]) == 1
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("关于申请资金的请示\n江川市人民政府：\n一、甲\n三、乙\n特此请示。", encoding="utf-8")
    assert main(["lint", str(wrong), "--genre", "请示"]) == 1
    out = capsys.readouterr().out
    assert "[错误] 第3行：标题序号跳号" in out and "“三、乙”" in out


def test_lock_unlock_and_list_on_the_command_line(project, capsys):
    ws, pid = project
    assert main(["locks", pid]) == 0
    assert "没有锁定的句子" in capsys.readouterr().out
    assert main(["lock", pid, "要健全责任体系，做到层层有人抓。"]) == 0
    assert main(["locks", pid]) == 0
    assert "1. 要健全责任体系，做到层层有人抓。" in capsys.readouterr().out
    assert main(["unlock", pid, "要健全责任体系，做到层层有人抓。"]) == 0 and ws.locks(pid) == []
    assert main(["unlock", pid, "没锁过的话"]) == 2
    assert "没有锁定过" in capsys.readouterr().err
    assert main(["lock", "nope", "句子"]) == 2


def test_import_edited_reports_the_locked_paragraphs(project, tmp_path, capsys):
    ws, pid = project
    edited = tmp_path / "改过.docx"
    edited.write_bytes(edit_like_a_leader(export_docx(speech_draft())))
    assert main(["import-edited", pid, str(edited)]) == 0
    assert "已锁定领导改写或新增的2段" in capsys.readouterr().out
    assert main(["import-edited", pid, str(edited), "--no-lock"]) == 0
    assert "已锁定" not in capsys.readouterr().out


def _cite_everywhere(draft):
    """Each body paragraph cites a passage: what a model that cites well leaves (prompt-independent)."""
    passages = [c.passage for c in draft.citations]
    sections = [
        s.model_copy(
            update={
                "text": "\n".join(
                    L.CITATION_MARK.sub("", line).replace("。", f"[{i % len(passages) + 1}]。", 1)
                    for i, line in enumerate(s.text.splitlines())
                )
            }
        )
        for s in draft.sections
    ]
    return draft.model_copy(update={"sections": sections})


def test_acceptance_a_drafted_speech_exports_clean_and_its_review_copy_annotates_every_citation(
    fake_world,  # noqa: F811 - the fixture imported from test_cli
    tmp_path,
):
    """The README's 急稿 command (fake model, real corpus files): 定稿 by default, then 送审稿 of the project."""
    out, js = tmp_path / "讲话.docx", tmp_path / "讲话.json"
    request = "为县长起草在全县安全生产工作会议上的讲话，约1500字"
    assert main(["draft", "--request", request, "--mode", "urgent", "--out", str(out), "--json", str(js)]) == 0
    data = out.read_bytes()
    text = "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
    assert "[" not in text and "附件：参考范文" not in text
    assert main(["check-docx", str(out)]) == 0
    ws = Workspace(config.get_settings().workspace_path)
    pid = ws.list_projects()[0].id
    project = ws.load(pid)
    sources = {p.source for p in project.passages if p.source}
    assert sources  # the passages come from files on this disk ...
    assert not any(s in all_xml(data) or Path(s).name in all_xml(data) for s in sources)  # ... none leaves
    # However many [n] the fake writer left, make every paragraph cite, then export both kinds of the project.
    cited = [c for c in project.passages if c.source][:3]
    from drafting.domain import Citation

    draft = _cite_everywhere(
        project.latest.model_copy(update={"citations": [Citation(n=i + 1, passage=p) for i, p in enumerate(cited)]})
    )
    ws.add_version(pid, Version(number=2, draft=draft.model_copy(update={"version": 2}), mode=RevisionMode.URGENT))
    final, review = tmp_path / "定稿.docx", tmp_path / "送审.docx"
    assert main(["export", pid, "--out", str(final)]) == 0
    assert main(["check-docx", str(final)]) == 0
    final_text = "\n".join(p.text for p in Document(str(final)).paragraphs)
    assert "[" not in final_text and "附件" not in final_text
    assert main(["export", pid, "--kind", "送审稿", "--out", str(review)]) == 0
    marks = len(L.CITATION_MARK.findall(draft.body_text))
    assert marks >= 3
    cites = [c for c in Document(str(review)).comments if c.text.startswith("引用[")]
    assert len(cites) == marks
    for path in (final, review):
        xml = all_xml(path.read_bytes())
        assert not any(s in xml or Path(s).name in xml for s in sources)


def test_export_from_a_draft_json_file(tmp_path, capsys):
    from drafting.cli import _payload

    draft = speech_draft()
    js = tmp_path / "讲话.json"
    js.write_text(json.dumps(_payload(draft.brief, [], draft, None, []), ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "送审.docx"
    assert main(["export", str(js), "--kind", "送审稿", "--out", str(out)]) == 0
    assert sum(c.text.startswith("引用[") for c in Document(str(out)).comments) == 2
    assert main(["export", str(js), "--out", str(tmp_path / "x.md")]) == 0
    assert (tmp_path / "x.md").read_text(encoding="utf-8").startswith("# 在全县安全生产工作会议上的讲话")


def test_draft_with_placeholders_goes_out_as_a_review_copy(
    fake_world,  # noqa: F811
    tmp_path,
    capsys,
    monkeypatch,
):
    import drafting.writing.pipeline

    real = drafting.writing.pipeline.run_draft

    def with_gap(*args, **kwargs):  # the draft as the fact gate leaves it: one fact still to supply
        run = real(*args, **kwargs)
        sections = list(run.draft.sections)
        sections[-1] = sections[-1].model_copy(
            update={"text": sections[-1].text + "\n由〔待补：分管副县长姓名〕牵头。"}
        )
        run.draft = run.draft.model_copy(update={"sections": sections})
        return run

    monkeypatch.setattr(drafting.writing.pipeline, "run_draft", with_gap)
    out, js = tmp_path / "x.docx", tmp_path / "x.json"
    request = "为县长起草在全县安全生产工作会议上的讲话，约1000字"
    # A first draft with gaps is exported as a 送审稿: each gap is a Word comment, the JSON is kept.
    assert main(["draft", "--request", request, "--out", str(out), "--json", str(js), "--no-review"]) == 0
    err = capsys.readouterr().err
    assert "〔待补〕" in err and "送审稿" in err and "drafting export" in err
    assert js.exists() and out.exists()
    assert "送审稿" in Document(str(out)).sections[0].header.paragraphs[0].text
    # Asking for a 定稿 explicitly is refused while gaps remain, and names them.
    out.unlink()
    code = main(["draft", "--request", request, "--out", str(out), "--kind", "定稿", "--no-review"])
    assert code != 0 and "〔待补：分管副县长姓名〕" in capsys.readouterr().err and not out.exists()
    assert main(["draft", "--request", request, "--out", str(out), "--force", "--kind", "定稿", "--no-review"]) == 0
    assert out.exists()


def test_revise_lock_keeps_a_sentence_of_the_json_draft(fake_world, tmp_path):  # noqa: F811
    js, v2 = tmp_path / "x.json", tmp_path / "v2.json"
    request = "为县长起草在全县安全生产工作会议上的讲话，约1000字"
    assert main(["draft", "--request", request, "--json", str(js), "--no-review"]) == 0
    from drafting.cli import _load_payload
    from drafting.writing.revise import paragraph_sections

    _, _, draft, _ = _load_payload(js)
    section = draft.sections[paragraph_sections(draft)[1]]  # the fake reviewer comments on paragraph 2
    locked = L.CITATION_MARK.sub("", L.split_sentences(section.text.splitlines()[0])[0])
    # --accept-all: the reviewers' proposals are applied (a deliberate act), so the model does rewrite.
    assert main(["revise", str(js), "--mode", "slow", "--accept-all", "--out", str(v2), "--lock", locked]) == 0
    revised = json.loads(v2.read_text(encoding="utf-8"))
    assert "修改后要更接地气" in revised["text"]  # the fake rewrote sections ...
    assert locked in L.CITATION_MARK.sub("", revised["text"])  # ... but not the locked sentence
