"""The local model server's command line (the server itself is exercised by the e2e tests)."""

from __future__ import annotations

from drafting.config import get_settings
from drafting.llm.local_server import server_command


def test_server_keeps_only_the_last_batch_of_logits() -> None:
    # llama_cpp.server's default (logits_all=True) keeps n_ctx x n_vocab floats, 4.6 GiB at 8192 x 151936:
    # the server's memory grew with use. The command turns it off.
    cmd = server_command(get_settings())
    assert cmd[cmd.index("--logits_all") + 1] == "False"
    assert cmd[cmd.index("--interrupt_requests") + 1] == "False"
