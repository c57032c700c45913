"""The 急稿 speed bench's reading of the local server's log."""

from __future__ import annotations

from pathlib import Path

from evals.bench_draft import ServerLog

LOG = """INFO:     127.0.0.1:1 - "POST /v1/chat/completions HTTP/1.1" 200 OK
Llama.generate: 3 prefix-match hit, remaining 500 prompt tokens to eval
llama_perf_context_print: prompt eval time =   10000.00 ms /   500 tokens (   20.00 ms per token,    50.00 tokens per second)
llama_perf_context_print:        eval time =   30000.00 ms /   600 runs   (   50.00 ms per token,    20.00 tokens per second)
Llama.generate: 1100 prefix-match hit, remaining 60 prompt tokens to eval
llama_perf_context_print: prompt eval time =    1200.00 ms /    60 tokens (   20.00 ms per token,    50.00 tokens per second)
"""


def test_server_log_counts_only_what_was_logged_after_it_was_opened(tmp_path: Path) -> None:
    path = tmp_path / "model-server.log"
    path.write_text("Llama.generate: 9 prefix-match hit, remaining 999 prompt tokens to eval\n", encoding="utf-8")
    log = ServerLog(path)
    with open(path, "a", encoding="utf-8") as f:
        f.write(LOG)
    got = log.since()
    assert got["requests"] == 2
    assert got["prompt_reused"] == 1103 and got["prompt_evaluated"] == 560
    assert abs(got["prompt_eval_s"] - 11.2) < 1e-6
    assert ServerLog(tmp_path / "missing.log").since() == {}
