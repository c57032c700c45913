"""The CLI against a fault-injecting fake OpenAI server: exit code, message, and what the workspace holds.

Every case runs ``python -m drafting draft ...`` in a subprocess with ``DRAFTING_LLM_BASE_URL`` pointing
at a fake server on 127.0.0.1 and its own data directory. The matrix runs its subprocesses in parallel
(module fixture) so the module stays well under a minute; deadlines are seconds, set through settings.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docx
import pytest

from tests.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
REQUEST = "为县长起草在全县安全生产工作会议上的讲话，强调保守国家秘密、守牢安全底线，约300字"
STORED_KEY = "sk-stored-in-the-app-7731"


@dataclass
class Case:
    fault: str
    request: str = REQUEST
    env: dict[str, str] = field(default_factory=dict)
    material: str | None = None  # text of a material file
    out_under_file: bool = False  # --out below a regular file: the export must fail
    store_key: bool = False


@dataclass
class Result:
    rc: int
    err: str
    out: str
    seconds: float
    home: Path
    docx: Path
    json: Path
    chat_calls: int
    requests: list[dict[str, Any]]
    fake: FakeOpenAI

    @property
    def data(self) -> Path:
        return self.home / "data"

    def versions(self) -> list[dict[str, Any]]:
        db = self.data / "workspace.sqlite3"
        if not db.exists():
            return []
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT project_id, number, body FROM versions ORDER BY number").fetchall()
        return [{"project": r[0], "number": r[1], "body": json.loads(r[2])} for r in rows]

    def projects(self) -> list[dict[str, Any]]:
        db = self.data / "workspace.sqlite3"
        if not db.exists():
            return []
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT id, working, outline FROM projects").fetchall()
        return [{"id": r[0], "working": json.loads(r[1]) if r[1] else None, "outline": r[2]} for r in rows]


def cli_env(base_url: str, home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTING_", "OPENAI_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / "cache"),
            "DRAFTING_LLM_BASE_URL": base_url,
            "DRAFTING_DATA_DIR": str(home / "data"),
            # Generous by default (the machine may be busy); the hang and trickle cases shorten them.
            "DRAFTING_LLM_TIMEOUT": "15",
            "DRAFTING_LLM_DEADLINE": "40",
            "DRAFTING_LLM_CONNECT_TIMEOUT": "5",
        }
    )
    env.update(extra or {})
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "drafting", *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        # A call that never ends is the failure we test for; report it as one.
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else str(exc.stderr or "")
        return -9, err, "", time.perf_counter() - started
    return proc.returncode, proc.stderr, proc.stdout, time.perf_counter() - started


def _run_case(case: Case, home: Path) -> Result:
    home.mkdir(parents=True)
    fake = FakeOpenAI(case.fault)
    env = cli_env(fake.base_url, home, case.env)
    if case.store_key:
        from drafting.secrets import save_api_key

        save_api_key(home / "data", STORED_KEY)
    out_dir = home / "out"
    out_dir.mkdir()
    if case.out_under_file:
        (out_dir / "blocker").write_text("a file, not a folder", encoding="utf-8")
        out_docx = out_dir / "blocker" / "x.docx"
    else:
        out_docx = out_dir / "x.docx"
    out_json = out_dir / "x.json"
    args = ["draft", "--request", case.request, "--mode", "urgent", "--no-review"]
    args += ["--out", str(out_docx), "--json", str(out_json)]
    if case.material is not None:
        m = out_dir / "通报.txt"
        m.write_text(case.material, encoding="utf-8")
        args += ["--material", str(m)]
    rc, err, out, seconds = run_cli(args, env)
    return Result(rc, err, out, seconds, home, out_docx, out_json, fake.chat_calls, list(fake.requests), fake)


MATRIX: dict[str, Case] = {
    # 【内部】 goes to 127.0.0.1 (trusted by default); 保守国家秘密 in prose is no marking.
    "ok": Case("ok", request="【内部】" + REQUEST, store_key=True),
    "rate_limit": Case("rate_limit_once"),
    "error_500": Case("error_500"),
    "hang": Case("hang", env={"DRAFTING_LLM_TIMEOUT": "2"}),
    # One token every 0.3 s never trips the 2 s read timeout; only the 4 s whole-call deadline ends it.
    "trickle": Case("trickle", env={"DRAFTING_LLM_TIMEOUT": "2", "DRAFTING_LLM_DEADLINE": "4"}),
    "drop_once": Case("drop_once"),
    "drop_always": Case("drop_always"),
    "empty": Case("empty"),
    # Broken JSON falls back to the skeleton outline; the .docx cannot be written, the JSON must still be.
    "broken_json": Case("broken_json", out_under_file=True),
    "surrogate": Case("surrogate_split"),
    "neibu_untrusted": Case("ok", request="内部\n" + REQUEST, env={"DRAFTING_TRUSTED_ENDPOINTS": "llm.example.org"}),
    "jimi_trusted": Case("ok", request="机密★1年\n" + REQUEST),
    "material_untrusted": Case(
        "ok",
        material="000123 内部资料\n关于安全生产大检查情况的通报\n各乡镇：……",
        env={"DRAFTING_TRUSTED_ENDPOINTS": "10.0.0.9"},
    ),
}


def _bad_files(folder: Path) -> None:
    """The bad-file set: each must be refused with a reason or cleaned, none may crash the folder."""
    import io
    import zipfile

    from tests.fake_openai import prose

    folder.mkdir(parents=True)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:t>" + "安" * 1_500_000 + "</w:t>")  # 4.5 MB of XML, tiny zipped
    (folder / "bomb.docx").write_bytes(buf.getvalue())
    # Text the fake model's prose overlaps, so the draft cites it; NUL and BEL used to break that export.
    body = "".join(prose(n) for n in range(1, 8))
    (folder / "nul.txt").write_text(
        f"关于安全生产工作的讲话\n一、压实责任\n{body[:300]}\x00\x07{body[300:]}", encoding="utf-8"
    )
    (folder / "secret.txt").write_text("000123 机密★1年\n关于某事项的通知\n" + body, encoding="utf-8")
    (folder / "not_really.docx").write_bytes(b"this is not a zip file at all")
    (folder / "truncated.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog")
    (folder / "empty.txt").write_bytes(b"")


def _run_bad_files(home: Path) -> Result:
    home.mkdir(parents=True)
    fake = FakeOpenAI("ok")
    env = cli_env(fake.base_url, home, {"DRAFTING_MAX_UNZIPPED_MB": "2"})
    folder = home / "bad"
    _bad_files(folder)
    rc, err, out, seconds = run_cli(["ingest", str(folder)], env)
    ingest = {"rc": rc, "err": err, "out": out}
    out_dir = home / "out"
    out_dir.mkdir()
    args = ["draft", "--request", REQUEST, "--mode", "urgent", "--no-review"]
    args += ["--out", str(out_dir / "x.docx"), "--json", str(out_dir / "x.json")]
    rc, err, out2, more = run_cli(args, env)
    result = Result(
        rc, err, out2, seconds + more, home, out_dir / "x.docx", out_dir / "x.json", fake.chat_calls, [], fake
    )
    result.ingest = ingest  # type: ignore[attr-defined]
    return result


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("matrix")
    with ThreadPoolExecutor(max_workers=3) as pool:
        bad = pool.submit(_run_bad_files, root / "bad_files")
        futures = {name: pool.submit(_run_case, case, root / name) for name, case in MATRIX.items()}
        results = {name: f.result() for name, f in futures.items()}
        results["bad_files"] = bad.result()
    yield results
    for r in results.values():
        r.fake.close()


def _no_traceback(r: Result) -> None:
    assert "Traceback" not in r.err and "Traceback" not in r.out, r.err


def _saved_for_resume(r: Result) -> str:
    projects = r.projects()
    assert len(projects) == 1
    pid = projects[0]["id"]
    assert f"项目 {pid}" in r.err and f"drafting resume {pid}" in r.err, r.err
    return pid


def test_normal_draft_uses_the_stored_key_and_keeps_files_private(matrix: dict[str, Result]) -> None:
    r = matrix["ok"]
    _no_traceback(r)
    assert r.rc == 0, r.err
    assert r.docx.exists() and r.json.exists()
    assert [v["number"] for v in r.versions()] == [1]
    chats = [q for q in r.requests if q["path"].endswith("/chat/completions")]
    # The CLI sends the key the app stored (encrypted), not "local".
    assert chats and all(q["headers"].get("authorization") == f"Bearer {STORED_KEY}" for q in chats)
    for name in (".secret.key", "api_key.enc"):
        assert stat.S_IMODE((r.data / name).stat().st_mode) == 0o600, name


def test_data_dir_and_database_are_private(matrix: dict[str, Result]) -> None:
    r = matrix["rate_limit"]  # a data directory the CLI created itself
    assert stat.S_IMODE(r.data.stat().st_mode) == 0o700
    assert stat.S_IMODE((r.data / "workspace.sqlite3").stat().st_mode) == 0o600


def test_429_is_retried(matrix: dict[str, Result]) -> None:
    r = matrix["rate_limit"]
    _no_traceback(r)
    assert r.rc == 0, r.err
    assert r.chat_calls == matrix["ok"].chat_calls + 1
    assert [v["number"] for v in r.versions()] == [1]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("error_500", "HTTP 500"),
        ("hang", "超时"),
        ("trickle", "时限"),
        ("drop_always", "断开"),
        ("empty", "空的回答"),
    ],
)
def test_failed_call_exits_non_zero_names_project_and_resume(matrix: dict[str, Result], name: str, says: str) -> None:
    r = matrix[name]
    _no_traceback(r)
    assert r.rc == 3, (r.rc, r.err)
    assert says in r.err, r.err
    assert "无法连接" not in r.err
    _saved_for_resume(r)
    assert r.versions() == []  # a failure is never saved as a version
    assert not r.docx.exists() and not r.json.exists()


def test_trickling_server_meets_the_whole_call_deadline(matrix: dict[str, Result]) -> None:
    r = matrix["trickle"]
    assert r.rc == 3 and r.seconds < 40, (r.rc, r.seconds)  # without a deadline it ran until killed


def test_dropped_stream_is_retried_once(matrix: dict[str, Result]) -> None:
    once, always = matrix["drop_once"], matrix["drop_always"]
    _no_traceback(once)
    assert once.rc == 0, once.err
    assert once.chat_calls == matrix["ok"].chat_calls + 1
    assert [v["number"] for v in once.versions()] == [1]
    assert always.chat_calls == 2  # the first call, and its one retry


def test_empty_answers_write_no_heading_only_docx(matrix: dict[str, Result]) -> None:
    r = matrix["empty"]
    assert not r.docx.exists()
    working = r.projects()[0]["working"]
    assert working is None or not any(s["text"].strip() for s in working["sections"])


def test_broken_json_falls_back_and_a_failing_export_keeps_the_json(matrix: dict[str, Result]) -> None:
    r = matrix["broken_json"]
    _no_traceback(r)
    assert r.rc == 2, r.err
    assert "导出" in r.err and "失败" in r.err
    data = json.loads(r.json.read_text(encoding="utf-8"))
    assert data["chars"] > 100 and len(data["outline"]["sections"]) >= 2
    assert [v["number"] for v in r.versions()] == [1]


def test_surrogate_split_and_control_characters_export_cleanly(matrix: dict[str, Result]) -> None:
    r = matrix["surrogate"]
    _no_traceback(r)
    assert r.rc == 0, r.err
    text = "\n".join(p.text for p in docx.Document(str(r.docx)).paragraphs)
    assert "\U0001f600" in text  # the two halves were joined, not dropped
    assert "\x00" not in text and "\x07" not in text
    data = json.loads(r.json.read_text(encoding="utf-8"))
    assert "\U0001f600" in data["text"]


@pytest.mark.parametrize(("name", "marking"), [("neibu_untrusted", "内部"), ("material_untrusted", "内部资料")])
def test_restricted_text_is_not_sent_to_an_untrusted_endpoint(
    matrix: dict[str, Result], name: str, marking: str
) -> None:
    r = matrix[name]
    _no_traceback(r)
    assert r.rc == 4, r.err
    assert marking in r.err and "受信任" in r.err
    assert r.requests == []  # not even the health check
    assert r.versions() == [] and not r.docx.exists()


def test_material_refusal_names_the_file_and_line(matrix: dict[str, Result]) -> None:
    r = matrix["material_untrusted"]
    assert "通报.txt" in r.err and "第 1 行" in r.err


def test_classified_text_is_refused_with_any_endpoint(matrix: dict[str, Result]) -> None:
    r = matrix["jimi_trusted"]
    _no_traceback(r)
    assert r.rc == 4, r.err
    assert "机密★1年" in r.err and "涉密" in r.err and "第 1 行" in r.err
    assert r.requests == []


def test_resume_finishes_into_a_version_and_never_overwrites_one(matrix: dict[str, Result]) -> None:
    r = matrix["error_500"]
    pid = _saved_for_resume(r)
    with FakeOpenAI("ok") as fake:
        env = cli_env(fake.base_url, r.home)
        out = r.home / "out" / "resumed.docx"
        rc, err, _, _ = run_cli(["resume", pid, "--out", str(out)], env)
        assert rc == 0, err
        versions = r.versions()
        assert [v["number"] for v in versions] == [1] and out.exists()
        first = versions[0]["body"]
        rc, err, _, _ = run_cli(["resume", pid], env)
        assert rc == 2 and "已有第1稿" in err, err
        assert r.versions()[0]["body"] == first and len(r.versions()) == 1


def test_bad_file_set_is_reported_file_by_file_and_drafts_export(matrix: dict[str, Result]) -> None:
    r = matrix["bad_files"]
    ingest = r.ingest  # type: ignore[attr-defined]
    assert "Traceback" not in ingest["err"] + ingest["out"], ingest["err"]
    assert ingest["rc"] == 0, ingest  # one good file was added
    report = ingest["out"]
    assert "新增 1 篇" in report and "失败 5 篇" in report, report
    for name, reason in [
        ("bomb.docx", "解压后过大"),
        ("secret.txt", "机密★1年"),
        ("not_really.docx", "不是有效的 .docx"),
        ("truncated.pdf", "PDF"),
        ("empty.txt", "空的"),
    ]:
        line = next((x for x in report.splitlines() if name in x), "")
        assert reason in line, (name, report)
    _no_traceback(r)
    assert r.rc == 0, r.err
    data = json.loads(r.json.read_text(encoding="utf-8"))
    assert all("\x00" not in p["text"] and "\x07" not in p["text"] for p in data["passages"])
    assert "\x00" not in data["text"] and "\x07" not in data["text"]
    assert r.docx.exists()
