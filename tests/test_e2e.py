"""End to end with the real local model server, real embeddings, a fresh chromadb and real .docx files.

Part of ``make test``. The local server is started here when it is not running yet
(and stopped again afterwards); the model file must have been prepared by ``make``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import docx
import pytest

from drafting import config
from drafting.cli import main
from drafting.docx.check import check_docx, conforms
from drafting.domain import count_chars
from drafting.llm.local_server import ensure_running, stop

pytestmark = pytest.mark.e2e
CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "docs"


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    settings = config.load_settings({"DRAFTING_DATA_DIR": str(tmp_path_factory.mktemp("server"))})
    started = ensure_running(settings, wait=300)
    yield
    if started:
        stop(settings)


def test_ingest_and_draft_a_short_speech(
    local_server: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "fanwen"
    docs.mkdir()
    for name in ("sa01.txt", "sc03.txt"):  # a safety speech and a safety report
        shutil.copy(CORPUS / name, docs / name)
    assert main(["ingest", str(docs)]) == 0
    capsys.readouterr()
    assert main(["search", "压实安全生产责任", "-k", "3", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and {h["title"] for h in hits} & {"在全县安全生产工作会议上的讲话"}

    brief = tmp_path / "brief.yaml"
    brief.write_text(
        "title: 在全镇安全生产工作会议上的讲话\ngenre: 讲话稿\nspeaker: 镇长\noccasion: 全镇安全生产工作会议\n"
        "length: 400\nkey_points:\n  - 压实安全生产责任\n  - 开展隐患排查整治\n",
        encoding="utf-8",
    )
    out, js = tmp_path / "speech.docx", tmp_path / "speech.json"
    # --force: a real model may leave a fact to supply (〔待补：…〕); this test is about the layout, not the facts.
    args = ["draft", str(brief), "--mode", "urgent", "--out", str(out), "--json", str(js), "--no-review", "--force"]
    assert main(args) == 0

    body = [p.text for p in docx.Document(str(out)).paragraphs if p.text.strip()]
    assert body[0].startswith("在全镇安全生产工作会议上的讲话") or "讲话" in body[0]
    text = "\n".join(body[1:])
    assert count_chars(text) >= 200
    assert any(p.startswith("一、") for p in body) and any(p.startswith("二、") for p in body)
    assert conforms(check_docx(out))

    payload = json.loads(js.read_text(encoding="utf-8"))
    assert payload["chars"] == count_chars(payload["text"]) and payload["chars"] >= 200
    assert payload["passages"], "no 范文 passage was retrieved"
    assert payload["costs"]["calls"] >= 1 and payload["costs"]["tokens_out"] > 0  # one call, follow-ups if short
    assert len(payload["outline"]["sections"]) >= 4


def test_model_server_down_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAFTING_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    config.get_settings.cache_clear()
    out = tmp_path / "x.docx"
    code = main(["draft", "--request", "为县长起草在全县安全生产工作会议上的讲话，约800字", "--out", str(out)])
    assert code == 3  # a model failure (exit codes in the README)
    assert "无法连接模型服务" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))
