"""Settings: read once from ``DRAFTING_*`` environment variables and an optional TOML file.

Precedence: environment > settings file > defaults. The settings file is
``$DRAFTING_SETTINGS`` or ``<data_dir>/settings.toml``; its keys are the field
names below (``llm_base_url = "https://api.deepseek.com/v1"``).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from drafting.errors import ConfigError

__all__ = [
    "Settings",
    "get_settings",
    "load_settings",
    "LOCAL_BASE_URL",
    "default_data_dir",
    "private_dir",
    "private_file",
]

LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 8088
LOCAL_BASE_URL = f"http://{LOCAL_HOST}:{LOCAL_PORT}/v1"


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "drafting"


def default_cache_dir() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "drafting"


@dataclass(frozen=True)
class Settings:
    # Writer model: any OpenAI-compatible endpoint. The default is the embedded local server.
    llm_base_url: str = LOCAL_BASE_URL
    llm_api_key: str = field(default="local", repr=False)
    llm_model: str = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    llm_timeout: float = 600.0  # per read: the longest wait for the first token or any next byte
    llm_connect_timeout: float = 10.0
    # Whole-call deadline (connect + first token + every token), so a server trickling a token
    # every few seconds cannot hold a call open for ever.
    llm_deadline: float = 1800.0
    llm_temperature: float = 0.4
    llm_max_retries: int = 1
    # Ask the endpoint for JSON mode on structured calls (llama.cpp, OpenAI, DeepSeek support it).
    llm_json_mode: bool = True
    # Context budget in tokens used for packing references and history.
    context_tokens: int = 4096
    # Judge model for evals; empty means "same as the writer".
    judge_base_url: str = ""
    judge_api_key: str = field(default="", repr=False)
    judge_model: str = ""
    # Storage.
    data_dir: Path = field(default_factory=default_data_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    chroma_host: str = ""
    chroma_port: int = 8000
    collection: str = "fanwen"
    # Team mode (README 团队模式). A PostgreSQL URL (postgresql://user:pass@host:5432/db): the 范文库's
    # documents, chunk texts and keyword (BM25) index live there instead of the local SQLite file, so
    # every writer's searches see every writer's documents. Empty = the local SQLite file (default).
    # With ``team`` on as well, the writers' projects and versions live there too (schema ``workspace``).
    team_db_url: str = field(default="", repr=False)
    # Sign-in and per-writer projects. Only when on is the sign-in header trusted; set it only behind
    # a reverse proxy that authenticates the writer and overwrites this header on every request.
    team: bool = False
    auth_header: str = "X-Forwarded-User"
    # The writer this process acts for outside the app (CLI ingest, drafts) in team mode; empty = the OS user.
    writer: str = ""
    # Characters of each chunk (after its heading path) that are embedded; 0 = the whole chunk.
    # The keyword index always covers the whole text. See docs/benchmarks/retrieval.md.
    embed_chars: int = 120
    # Hosts (comma-separated) trusted with text marked 内部/工作秘密/敏感; loopback by default.
    trusted_endpoints: str = "localhost,127.0.0.1,::1"
    # Extra markings the office treats like 内部 (comma-separated), besides 内部/工作秘密/敏感.
    restricted_markings: str = ""
    # Input bounds, checked before parsing (see drafting/readers.py).
    max_file_mb: float = 50.0
    max_unzipped_mb: float = 100.0  # sum of a .docx's declared uncompressed member sizes (memory)
    max_docx_xml_mb: float = 30.0  # of which XML, which is parsed (time: about 1 s per MB on a busy core)
    max_text_chars: int = 2_000_000
    max_chunks: int = 5000
    max_pdf_pages: int = 2000
    # Local model server.
    model_path: Path | None = None
    local_threads: int = 0
    local_ctx: int = 8192
    # Demo mode (DRAFTING_FAKE_LLM=1): the app answers with drafting.testing's scripted model, no server.
    fake_llm: bool = False

    @property
    def is_local(self) -> bool:
        return self.llm_base_url.rstrip("/") == LOCAL_BASE_URL

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def workspace_path(self) -> Path:
        return self.data_dir / "workspace.sqlite3"

    @property
    def workspace_location(self) -> Path | str:
        """Where projects live: the team database in team mode (with ``team_db_url``), else the local file."""
        return self.team_db_url if self.team and self.team_db_url else self.workspace_path

    @property
    def resolved_model_path(self) -> Path:
        return self.model_path or (self.cache_dir / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any) -> Any:
    f = {f.name: f for f in dataclasses.fields(Settings)}[name]
    typ = str(f.type)
    try:
        if "bool" in typ:
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if "int" in typ and "Path" not in typ:
            return int(raw)
        if "float" in typ:
            return float(raw)
        if "Path" in typ:
            return Path(str(raw)).expanduser() if str(raw) else None
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"配置项 {name} 的值无效：{raw!r}") from exc


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from an environment mapping (``os.environ`` by default)."""
    env = dict(os.environ if env is None else env)
    names = [f.name for f in dataclasses.fields(Settings)]
    values: dict[str, Any] = {}
    data_dir_raw = env.get("DRAFTING_DATA_DIR")
    data_dir = Path(data_dir_raw).expanduser() if data_dir_raw else default_data_dir()
    settings_file = Path(env.get("DRAFTING_SETTINGS") or data_dir / "settings.toml")
    if settings_file.is_file():
        try:
            file_values = tomllib.loads(settings_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"配置文件 {settings_file} 格式错误：{exc}") from exc
        for key, raw in file_values.items():
            if key not in names:
                raise ConfigError(f"配置文件 {settings_file} 中有未知配置项：{key}")
            values[key] = _coerce(key, raw)
    for name in names:
        raw = env.get(f"DRAFTING_{name.upper()}")
        if raw is not None and raw != "":
            values[name] = _coerce(name, raw)
    values.setdefault("data_dir", data_dir)
    return Settings(**values)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()


def private_dir(path: Path) -> Path:
    """Create ``path`` readable by its owner only (0700), and tighten it if it already exists.

    The data directory holds drafts, briefs and the encrypted key: other local users must not read it.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
    except OSError:  # not ours (a shared mount): leave it, the files inside are still 0600
        pass
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists with mode 0600 before anything (SQLite, its WAL files) writes to it."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError:
        pass
    return path
