"""The ``previous`` system: the 急稿 pipeline of an earlier commit, run through that commit's own CLI.

Once per eval run the commit is extracted (``git archive REV``) into a temporary folder and the
bundled corpus of that commit is indexed into its own temporary data dir
(``python -m drafting index-corpus`` with ``PYTHONPATH`` on the extracted tree). Each case is then
``python -m drafting draft BRIEF.yaml|--request … [--material FILE…] --mode urgent --no-review --json out.json``,
on the same model server as the other systems, and the JSON is read back into a Draft, tolerating
schema differences (only the title and ``sections[].heading/text`` are required).

Commands go through a ``Runner`` so tests can replace the subprocess with a fake.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drafting.config import Settings
from drafting.domain import Brief, Citation, Costs, Draft, DraftSection, Outline, OutlineSection, Passage, StageCost

__all__ = ["PreviousPipeline", "Runner", "run_command", "draft_from_json", "resolve_rev", "GENRE_FALLBACK"]

log = logging.getLogger("evals")

REPO = Path(__file__).resolve().parent.parent
Runner = Callable[[Sequence[str], Mapping[str, str], Path, float], "subprocess.CompletedProcess[str]"]
# When an older commit does not know a genre, the brief is retried with the closest genre it knows
# (the first of these it lists); the draft's genre then shows the older commit's pick.
GENRE_FALLBACK: dict[str, tuple[str, ...]] = {
    "表态发言": ("发言稿", "讲话稿"),
    "发言稿": ("讲话稿",),
    "经验交流发言": ("发言稿", "讲话稿"),
    "致辞": ("讲话稿",),
    "欢迎辞": ("致辞", "讲话稿"),
    "开幕辞": ("致辞", "讲话稿"),
    "主持词": ("讲话稿",),
    "演讲稿": ("讲话稿",),
    "宣讲稿": ("演讲稿", "讲话稿"),
    "先进事迹报告": ("演讲稿", "讲话稿"),
    "事迹材料": ("汇报材料",),
    "述职报告": ("工作报告", "总结", "报告"),
    "调研报告": ("报告",),
    "心得体会": ("总结",),
    "思想汇报": ("心得体会", "总结"),
}
BRIEF_FIELDS = ("title", "genre", "occasion", "speaker", "audience", "length", "key_points", "policy", "facts", "date")
_UNSUPPORTED = re.compile(r"不支持的文种“([^”]+)”，可选：([^\n]+)")


def run_command(
    cmd: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def resolve_rev(rev: str, repo: Path = REPO) -> str:
    """The full commit id of ``rev`` in ``repo``; ValueError with git's words when there is none."""
    res = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=repo, capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise ValueError(f"找不到提交 {rev}：{res.stderr.strip()}")
    return res.stdout.strip()


class PreviousPipeline:
    """One earlier commit, extracted and indexed once, drafting one case per call."""

    def __init__(
        self,
        rev: str,
        settings: Settings,
        *,
        repo: Path = REPO,
        runner: Runner = run_command,
        python: str = sys.executable,
        timeout: float = 3600.0,
        workdir: Path | None = None,
    ) -> None:
        self.rev = rev
        self.settings = settings
        self.repo = repo
        self.runner = runner
        self.python = python
        self.timeout = timeout
        self.workdir = workdir  # where the temporary tree and data dir go (default: the system's temp dir)
        self.commit = resolve_rev(rev, repo)
        self._root: Path | None = None
        self._ready = False
        self._failed = ""
        self._flags: set[str] = set()

    @property
    def tree(self) -> Path:
        assert self._root is not None
        return self._root / "tree"

    @property
    def data_dir(self) -> Path:
        assert self._root is not None
        return self._root / "data"

    def env(self) -> dict[str, str]:
        """The environment of every command: the extracted tree first, its own data dir, our model server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DRAFTING_")}
        s = self.settings
        env.update(
            PYTHONPATH=str(self.tree),
            DRAFTING_DATA_DIR=str(self.data_dir),
            DRAFTING_SETTINGS=str(self.data_dir / "settings.toml"),  # none: only what is set here counts
            DRAFTING_LLM_BASE_URL=s.llm_base_url,
            DRAFTING_LLM_API_KEY=s.llm_api_key,
            DRAFTING_LLM_MODEL=s.llm_model,
            DRAFTING_LLM_TIMEOUT=str(s.llm_timeout),
            DRAFTING_CONTEXT_TOKENS=str(s.context_tokens),
            DRAFTING_EMBED_CHARS=str(s.embed_chars),
            DRAFTING_CACHE_DIR=str(s.cache_dir),
        )
        return env

    def _run(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        cmd = [self.python, *args]
        res = self.runner(cmd, self.env(), self.tree, timeout or self.timeout)
        if res.returncode != 0:
            log.warning("previous %s: exit %d: %s", " ".join(args[:3]), res.returncode, res.stderr[-500:])
        return res

    def prepare(self) -> None:
        """Extract the commit and index its bundled corpus; once (later calls return at once)."""
        if self._ready:
            return
        if self._failed:
            raise RuntimeError(self._failed)
        if self.workdir is not None:
            self.workdir.mkdir(parents=True, exist_ok=True)
        self._root = Path(tempfile.mkdtemp(prefix=f"drafting-prev-{self.commit[:8]}-", dir=self.workdir))
        try:
            self._extract_and_index()
        except (RuntimeError, OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
            self._failed = str(exc)
            self.close()
            raise RuntimeError(self._failed) from exc
        self._ready = True

    def _extract_and_index(self) -> None:
        archive = subprocess.run(["git", "archive", "--format=tar", self.commit], cwd=self.repo, capture_output=True)
        if archive.returncode != 0:
            raise RuntimeError(f"git archive {self.commit} 失败：{archive.stderr.decode(errors='replace')}")
        self.tree.mkdir(parents=True)
        self.data_dir.mkdir()
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(self.tree, filter="data")
        check = self._run("-c", "import drafting; print(drafting.__file__)", timeout=120)
        where = check.stdout.strip()
        if check.returncode != 0 or not where.startswith(str(self.tree)):
            raise RuntimeError(f"旧版本的 drafting 没有从 {self.tree} 载入：{where or check.stderr[-300:]}")
        helptext = self._run("-m", "drafting", "draft", "--help", timeout=120).stdout
        self._flags = {f for f in ("--no-review", "--json", "--material") if f in helptext}
        log.info("previous %s: indexing its bundled corpus into %s", self.commit[:8], self.data_dir)
        res = self._run("-m", "drafting", "index-corpus")
        if res.returncode != 0:
            raise RuntimeError(f"旧版本索引范文失败：{res.stderr[-500:]}")

    def _draft_args(self, brief_path: Path | None, request: str, material: Sequence[Path], out: Path) -> list[str]:
        args = ["-m", "drafting", "draft"]
        args += [str(brief_path)] if brief_path is not None else ["--request", request]
        if material and "--material" in self._flags:
            args += ["--material", *map(str, material)]
        args += ["--mode", "urgent"]
        if "--no-review" in self._flags:
            args.append("--no-review")
        return [*args, "--json", str(out)]

    def draft(
        self, brief: Brief, *, request: str = "", material_files: Sequence[Path] = (), name: str = "case"
    ) -> tuple[Draft, list[Passage], str]:
        """(the draft, its passages, a note) for one case; RuntimeError when the old CLI fails."""
        self.prepare()
        assert self._root is not None
        work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self._root))
        out = work / "out.json"
        note = ""
        # Only the long-standing fields, and no empty ones, so an older Brief reads the file.
        dumped = brief.model_dump(mode="json", include=set(BRIEF_FIELDS))
        brief_data = {k: v for k, v in dumped.items() if v not in ("", [], None)}
        brief_path = None if request else work / "brief.yaml"
        if brief_path is not None:
            brief_path.write_text(yaml.safe_dump(brief_data, allow_unicode=True), encoding="utf-8")
        res = self._run(*self._draft_args(brief_path, request, material_files, out))
        m = _UNSUPPORTED.search(res.stderr + res.stdout)
        if res.returncode != 0 and m and brief_path is not None:
            known = [g.strip() for g in m.group(2).split("、") if g.strip()]
            substitute = next((g for g in GENRE_FALLBACK.get(m.group(1), ()) if g in known), known[0] if known else "")
            note = f"旧版本不支持文种“{m.group(1)}”，改用“{substitute}”"
            brief_path.write_text(
                yaml.safe_dump({**brief_data, "genre": substitute}, allow_unicode=True), encoding="utf-8"
            )
            res = self._run(*self._draft_args(brief_path, request, material_files, out))
        if res.returncode != 0 or not out.is_file():
            tail = (res.stderr or res.stdout).strip()[-400:]
            raise RuntimeError(f"旧版本 {self.commit[:8]} 起草失败（退出码 {res.returncode}）：{tail}")
        data = json.loads(out.read_text(encoding="utf-8"))
        draft = draft_from_json(data, brief)
        return draft, _passages(data), note

    def close(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        self._ready = False


def _passages(data: Mapping[str, Any]) -> list[Passage]:
    out = []
    for p in data.get("passages") or []:
        try:
            out.append(Passage.model_validate({k: v for k, v in p.items() if k in Passage.model_fields}))
        except (ValidationError, AttributeError):
            continue
    return out


def _brief(raw: Any, fallback: Brief) -> Brief:
    if not isinstance(raw, dict):
        return fallback
    known = {k: v for k, v in raw.items() if k in Brief.model_fields}
    try:
        return Brief.model_validate(known)
    except ValidationError:
        return fallback.model_copy(update={"genre": str(raw.get("genre") or fallback.genre)})


def _costs(raw: Any) -> Costs:
    if not isinstance(raw, dict):
        return Costs()
    stages = []
    for s in raw.get("stages") or []:
        try:
            stages.append(StageCost.model_validate({k: v for k, v in s.items() if k in StageCost.model_fields}))
        except (ValidationError, AttributeError):
            stages = []
            break
    if stages:
        return Costs(stages=stages)
    return Costs(
        stages=[
            StageCost(
                stage="previous",
                calls=int(raw.get("calls") or 0),
                tokens_in=int(raw.get("tokens_in") or 0),
                tokens_out=int(raw.get("tokens_out") or 0),
                seconds=float(raw.get("seconds") or 0.0),
            )
        ]
    )


def draft_from_json(data: Mapping[str, Any], brief: Brief) -> Draft:
    """A Draft from any version's ``draft --json`` output; ``brief`` fills what the JSON lacks.

    The draft's brief is the one the old CLI wrote (its genre is the old commit's pick).
    """
    raw = data.get("draft") if isinstance(data.get("draft"), dict) else data
    assert isinstance(raw, Mapping)
    sections = [
        DraftSection(
            heading=str(s.get("heading") or ""), kind=str(s.get("kind") or "body"), text=str(s.get("text") or "")
        )
        for s in raw.get("sections") or []
        if isinstance(s, dict)
    ]
    if not sections and data.get("text"):
        sections = [DraftSection(heading="", kind="opening", text=str(data["text"]))]
    title = str(raw.get("title") or data.get("title") or brief.title or brief.genre)
    try:
        outline = Outline.model_validate(data["outline"])
    except (KeyError, TypeError, ValidationError):
        outline = Outline(
            title=title, sections=[OutlineSection(heading=s.heading or s.kind, kind=s.kind) for s in sections]
        )
    citations = []
    for c in raw.get("citations") or []:
        try:
            citations.append(Citation.model_validate(c))
        except ValidationError:
            continue
    return Draft(
        title=title,
        brief=_brief(data.get("brief"), brief),
        outline=outline,
        sections=sections,
        citations=citations,
        costs=_costs(data.get("costs")),
    )
