"""The writer's API key and provider choice, persisted without the key ever being in clear text.

The key is encrypted with Fernet; the Fernet key lives in ``<data_dir>/.secret.key`` and the
ciphertext in ``<data_dir>/api_key.enc``, both readable by the owner only (0600). This keeps the
key out of ``settings.toml``, logs, screenshots and casual backups of the settings; it does not
protect against someone who can read the whole data directory as the same user.

Provider choice (base URL, model name) goes to ``<data_dir>/settings.toml``, which
:func:`drafting.config.load_settings` reads; environment variables still take precedence.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import tomllib
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from drafting.config import Settings, private_dir, private_file
from drafting.errors import ConfigError

__all__ = [
    "save_api_key",
    "load_api_key",
    "clear_api_key",
    "mask_key",
    "save_provider",
    "effective_settings",
    "KEY_FILE",
    "CIPHER_FILE",
]

log = logging.getLogger(__name__)

KEY_FILE = ".secret.key"
CIPHER_FILE = "api_key.enc"
SETTINGS_FILE = "settings.toml"
# Keys the settings page may write; the API key is never one of them.
_PROVIDER_FIELDS = ("llm_base_url", "llm_model")


def _write_private(path: Path, data: bytes) -> None:
    """Create the file with mode 0600 from the start (no window where it is world-readable)."""
    private_dir(path.parent)
    # mkstemp: mode 0600 and a unique name, so two processes saving at once do not collide.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fernet(data_dir: Path) -> Fernet:
    key_path = data_dir / KEY_FILE
    if not key_path.exists():
        _write_private(key_path, Fernet.generate_key())
    return Fernet(key_path.read_bytes().strip())


def save_api_key(data_dir: Path, api_key: str) -> None:
    """Encrypt and store the key; an empty key removes the stored one."""
    if not api_key.strip():
        clear_api_key(data_dir)
        return
    token = _fernet(data_dir).encrypt(api_key.strip().encode("utf-8"))
    _write_private(data_dir / CIPHER_FILE, token)
    log.info("API key stored (encrypted)")


def load_api_key(data_dir: Path) -> str | None:
    """The stored key, or None when none is stored or it cannot be decrypted."""
    cipher = data_dir / CIPHER_FILE
    if not cipher.exists() or not (data_dir / KEY_FILE).exists():
        return None
    try:
        return _fernet(data_dir).decrypt(cipher.read_bytes()).decode("utf-8")
    except (InvalidToken, ValueError):
        log.warning("stored API key cannot be decrypted; ignoring it")
        return None


def clear_api_key(data_dir: Path) -> None:
    (data_dir / CIPHER_FILE).unlink(missing_ok=True)


def mask_key(api_key: str | None) -> str:
    """For display: the last four characters only."""
    if not api_key:
        return "（未设置）"
    return "•" * 8 + api_key[-4:] if len(api_key) > 8 else "•" * 8


def save_provider(data_dir: Path, *, base_url: str, model: str) -> None:
    """Write the provider choice into settings.toml, keeping the file's other keys."""
    path = data_dir / SETTINGS_FILE
    current: dict[str, object] = {}
    if path.exists():
        try:
            current = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"配置文件 {path} 格式错误，请修正或删除后重试：{exc}") from exc
    current.pop("llm_api_key", None)  # never in clear text on disk
    current.update({"llm_base_url": base_url.strip(), "llm_model": model.strip()})
    lines = [f"{k} = {_toml_value(v)}" for k, v in current.items()]
    private_dir(path.parent)
    private_file(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    # A JSON string is a valid TOML basic string for everything we write (escapes included).
    return json.dumps(str(value), ensure_ascii=False)


def effective_settings(settings: Settings) -> Settings:
    """Settings with the stored key applied, unless the environment supplied one."""
    if os.environ.get("DRAFTING_LLM_API_KEY"):
        return settings
    stored = load_api_key(settings.data_dir)
    if stored and not settings.is_local:
        return settings.replace(llm_api_key=stored)
    return settings
