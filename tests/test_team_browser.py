"""Team mode in real headless Chromium: two signed-in writers each see only their own projects;
a request without the sign-in header gets the sign-in notice and no data.

The sign-in proxy is played by the browser context itself, which sends the header on every
request (the page, its scripts and the WebSocket the app talks over). The scripted fake model
is enough: nothing here drafts.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from drafting.workspace import Workspace
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, _running_app

pytestmark = pytest.mark.browser


def test_two_writers_in_real_browsers_see_only_their_own(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"找不到 Chromium：{CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "data"
    ws = Workspace(data / "workspace.sqlite3")
    ws.for_writer("张三").create_project(name="张三的防汛讲话")
    ws.for_writer("李四").create_project(name="李四的招商报告")
    env = {
        **os.environ,
        "DRAFTING_DATA_DIR": str(data),
        "DRAFTING_FAKE_LLM": "1",
        "DRAFTING_TEAM": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    env.pop("DRAFTING_CHROMA_HOST", None)
    with _running_app(data, env) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            pages = {}
            for who, headers in (
                ("张三", {"X-Forwarded-User": "%E5%BC%A0%E4%B8%89"}),
                ("李四", {"X-Forwarded-User": "%E6%9D%8E%E5%9B%9B"}),
                ("nobody", {}),
            ):
                page = browser.new_context(extra_http_headers=headers, locale="zh-CN").new_page()
                page.goto(url)
                pages[who] = page
            for who, mine, theirs in (("张三", "张三的防汛讲话", "李四"), ("李四", "李四的招商报告", "张三")):
                page = pages[who]
                expect(page.get_by_text(f"已登录：{who}")).to_be_visible(timeout=90_000)
                expect(page.get_by_text(mine).first).to_be_visible(timeout=30_000)
                assert theirs + "的" not in page.content()
            nobody = pages["nobody"]
            expect(nobody.get_by_text("请先登录")).to_be_visible(timeout=90_000)
            html = nobody.content()
            assert "防汛讲话" not in html and "招商报告" not in html and "已登录：" not in html
        finally:
            browser.close()
