"""The sandbox pages as production serves them: DEBUG off, collectstatic with the manifest storage,
WhiteNoise serving only the collected (hashed) files. Every module loads under its hashed name and
no page logs a console error, at desktop and phone widths.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client, override_settings
from django.test.testcases import LiveServerThread
from playwright.sync_api import Browser, expect

from inference.models import LabJob, LabKind, RunStatus, SandboxRun
from tests.static_build import PRODUCTION_STORAGES, collectstatic

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HASHED_MODULE = re.compile(r"/static/js/.+\.[0-9a-f]{12}\.js$")


def _session_cookie(user, url: str) -> dict:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": url,
    }


@pytest.fixture
def production_server(tmp_path: Path) -> Iterator[str]:
    """A live server with no static files handler in front: WhiteNoise serves STATIC_ROOT, as in production."""
    collectstatic(tmp_path)
    with override_settings(
        DEBUG=False,
        STATIC_ROOT=tmp_path,
        STORAGES=PRODUCTION_STORAGES,
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
    ):
        shared = {c.alias: c for c in connections.all() if c.vendor == "sqlite" and c.is_in_memory_db()}
        thread = LiveServerThread("localhost", lambda app: app, connections_override=shared)
        thread.daemon = True
        thread.start()
        thread.is_ready.wait()
        if thread.error:
            raise thread.error
        yield f"http://localhost:{thread.port}"
        thread.terminate()


@pytest.mark.parametrize("width", [1280, 390])
def test_sandbox_pages_load_their_hashed_modules_without_errors(
    browser: Browser, production_server, world, smollm2, width
):
    run = SandboxRun.objects.create(
        membership=world.alice_membership,
        model=smollm2,
        status=RunStatus.DONE,
        request={"prompt": "Once upon a time"},
        params={"temperature": 0.8, "max_tokens": 1, "seed": 7},
        seed=7,
        tokens=[{"id": 1, "text": " there", "p_model": 0.5, "p_sampled": 0.6, "top_model": [], "top_sampled": []}],
        output_text=" there",
        finish_reason="length",
    )
    job = LabJob.objects.create(
        membership=world.alice_membership,
        model=smollm2,
        kind=LabKind.SWEEP,
        input={"request": {"prompt": "x"}, "temperatures": [0, 1], "seeds": 1, "max_tokens": 4, "step": 0},
        status=RunStatus.FAILED,
        error="x",
    )
    context = browser.new_context(base_url=production_server, viewport={"width": width, "height": 900})
    context.add_cookies([_session_cookie(world.alice, production_server)])
    page = context.new_page()
    errors: list[str] = []
    modules: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
    page.on("request", lambda r: r.resource_type == "script" and "/static/js/" in r.url and modules.append(r.url))

    pages = {
        "/sandbox/": (page.locator("#sb-prompt-count"), re.compile(r"^\d+ tokens")),
        f"/sandbox/runs/{run.pk}/": (page.locator("#sb-output-tokens .chip"), re.compile("there")),
        "/sandbox/labs/": (page.locator("#tree-status"), re.compile(rf"Run #{run.pk}: 1 run")),
        f"/sandbox/labs/{job.pk}/": (page.locator("#lab-result"), re.compile("The lab failed: x")),
        f"/sandbox/models/{smollm2.slug}/inspect/": (page.locator("#tensor-count"), re.compile(r"tensors")),
    }
    for path, (locator, text) in pages.items():
        modules.clear()
        page.goto(path)
        expect(locator.first).to_contain_text(text)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        # One round trip: every module the page needs was announced in its head (the entry or a preload).
        announced = page.eval_on_selector_all(
            "script[src], link[rel=modulepreload]", "nodes => nodes.map(n => n.src || n.href)"
        )
        assert modules and set(modules) <= set(announced), path
        assert [url for url in modules if not HASHED_MODULE.search(url)] == [], path
    page.get_by_label("Filter by name or type").fill("blk.0")
    expect(page.locator("#tensor-count")).to_contain_text("of")
    context.close()

    assert errors == []
