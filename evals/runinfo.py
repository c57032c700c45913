"""The record of an eval run: settings without secrets, git commit, prompt versions, machine, thresholds."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import platform
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from drafting.config import Settings
from drafting.domain import now_iso
from drafting.llm.prompts import list_prompts, load_prompt
from drafting.writing.revise import COVERED

from . import scorers
from .casefile import Case

__all__ = ["settings_record", "git_commit", "prompt_versions", "machine", "build_meta", "new_run_dir"]

EVALS_DIR = Path(__file__).resolve().parent


def settings_record(settings: Settings) -> dict[str, Any]:
    """Settings without secrets, JSON-ready."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        if "api_key" in f.name:
            continue
        value = getattr(settings, f.name)
        out[f.name] = str(value) if isinstance(value, Path) else value
    return out


def git_commit() -> str:
    try:
        res = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=EVALS_DIR.parent, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    if res.returncode != 0:
        return ""
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=EVALS_DIR.parent, capture_output=True, text=True, timeout=10, check=False
    )
    return res.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def prompt_versions() -> dict[str, str]:
    """The prompt file each stage uses: ``stage.variant`` -> ``stage.variant.vN``."""
    return {name: load_prompt(name).name for name in list_prompts()}


def machine() -> str:
    """The machine and how busy it was when the run started (the shared 2-core machine's load changes timings)."""
    try:
        load = "，开跑时负载 " + " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = ""
    return (
        f"{platform.platform()}，{platform.machine()}，{os.cpu_count()} 个 CPU 核，Python {platform.python_version()}"
        + load
    )


def build_meta(settings: Settings, cases_file: Path, cases: Sequence[Case], systems: Sequence[str]) -> dict[str, Any]:
    judge_url = settings.judge_base_url or settings.llm_base_url
    versions = prompt_versions()
    used = (
        "outline.default",
        "draft.section",
        "draft.opening",
        "review.scores",
        "revise.comments",
        "revise.section",
        "baseline.oneshot",
    )
    return {
        "date": now_iso(),
        "writer_model": f"{settings.llm_model} @ {settings.llm_base_url}",
        "judge_model": f"{settings.judge_model or settings.llm_model} @ {judge_url}",
        "machine": machine(),
        "cases_file": str(cases_file),
        "cases_sha256": hashlib.sha256(cases_file.read_bytes()).hexdigest() if cases_file.is_file() else "",
        "n_cases": len(cases),
        "case_ids": [c.id for c in cases],
        "systems": list(systems),
        "prompt_versions": "、".join(versions[u] for u in used if u in versions),
        "prompts": versions,
        "heading_match": scorers.HEADING_MATCH,
        "grounding_threshold": scorers.GROUNDING_THRESHOLD,
        "coverage_threshold": COVERED,
        "counted_severities": sorted(scorers.COUNTED_SEVERITIES),
        "git_commit": git_commit(),
        "gate": scorers.gate_available(),
        "placeholder_pattern": scorers.PLACEHOLDER.pattern,
        "settings": settings_record(settings),
    }


def new_run_dir(out: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / stamp
    n = 1
    while path.exists():
        n += 1
        path = out / f"{stamp}-{n}"
    path.mkdir(parents=True)
    return path
