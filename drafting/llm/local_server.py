"""The embedded local model: a llama.cpp server speaking the OpenAI API on 127.0.0.1.

``python -m drafting.llm.local_server --ensure`` starts it in the background when it is not
answering yet and waits until it is healthy; ``--foreground`` runs it in this process.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from drafting.config import LOCAL_HOST, LOCAL_PORT, Settings, get_settings
from drafting.errors import ProviderError
from drafting.llm.client import check_endpoint

__all__ = ["server_command", "is_up", "ensure_running", "stop", "main"]

log = logging.getLogger(__name__)


def server_command(settings: Settings) -> list[str]:
    model = settings.resolved_model_path
    threads = settings.local_threads or os.cpu_count() or 2
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        LOCAL_HOST,
        "--port",
        str(LOCAL_PORT),
        "--n_ctx",
        str(settings.local_ctx),
        "--n_threads",
        str(threads),
        "--model_alias",
        settings.llm_model,
        # By default llama.cpp's server cuts a running answer short when another request
        # arrives; the app, the CLI and evals may share one server, so queue instead.
        "--interrupt_requests",
        "False",
    ]


def is_up(settings: Settings, timeout: float = 2.0) -> bool:
    try:
        check_endpoint(settings, timeout=timeout)
    except ProviderError:
        return False
    return True


def _pid_file(settings: Settings) -> Path:
    return settings.data_dir / "model-server.pid"


def ensure_running(settings: Settings | None = None, *, wait: float = 180.0) -> bool:
    """Start the local server in the background unless it answers already. True if started here."""
    settings = settings or get_settings()
    if is_up(settings):
        return False
    model = settings.resolved_model_path
    if not model.is_file():
        raise ProviderError(f"找不到本地模型文件 {model}，请先运行 `make run`（会下载并校验模型）。")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "model-server.log"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed command
            server_command(settings), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    _pid_file(settings).write_text(str(proc.pid))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ProviderError(f"本地模型服务启动失败，请查看日志 {log_path}")
        if is_up(settings):
            return True
        time.sleep(1.0)
    proc.terminate()
    raise ProviderError(f"本地模型服务在 {wait:.0f} 秒内没有就绪，请查看日志 {log_path}")


def stop(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        return
    with contextlib.suppress(ProcessLookupError, ValueError):
        os.kill(int(pid_file.read_text()), 15)
    pid_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drafting.llm.local_server", description="本地模型服务")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--ensure", action="store_true", help="未运行则在后台启动，并等待就绪")
    group.add_argument("--stop", action="store_true", help="停止由 --ensure 启动的服务")
    group.add_argument("--foreground", action="store_true", help="在前台运行")
    args = parser.parse_args(argv)
    settings = get_settings()
    if args.stop:
        stop(settings)
        return 0
    if args.foreground:
        os.execv(sys.executable, server_command(settings))
    try:
        started = ensure_running(settings)
    except ProviderError as err:
        print(f"[model] 错误：{err}", file=sys.stderr)
        return 1
    print(f"[model] 本地模型服务{'已启动' if started else '已在运行'}：{settings.llm_base_url}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
