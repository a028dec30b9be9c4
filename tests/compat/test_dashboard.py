"""The dashboard (/ui) in a real browser: Debian's headless Chromium driven by Playwright against
the running gateway, after real traffic from the official OpenAI SDK.

The browser is the system's `chromium` (Debian package; `.ci/run` and `scripts/test` install it):
Playwright's own browser download is never used. A missing chromium fails the test.

Full-page screenshots go to $SWITCHYARD_SCREENSHOTS (the README's come from
`SWITCHYARD_SCREENSHOTS=docs/screenshots scripts/test -k dashboard`), else to a temporary folder.
"""
import os
import pathlib
import re
import shutil

import httpx
import openai
import pytest
from playwright.sync_api import expect, sync_playwright

ROOT = pathlib.Path(__file__).resolve().parents[2]


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("the dashboard test needs Debian's chromium (apt-get install chromium); .ci/run installs it")
    return path


@pytest.fixture
def shots(tmp_path) -> pathlib.Path:
    folder = os.environ.get("SWITCHYARD_SCREENSHOTS")
    path = (ROOT / folder) if folder and not os.path.isabs(folder) else pathlib.Path(folder) if folder else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_traffic(gateway, client: openai.OpenAI) -> None:
    for question in ["What is a switchyard?", "Route me", "Hello"]:
        client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": question}])
    for _ in client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "stream"}], stream=True):
        pass
    client.embeddings.create(model="mock-embedding", input="hello")
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "fail"}], extra_body={"mock": {"status": 500}})
    admin = httpx.Client(base_url=gateway.base_url, headers=gateway.auth, timeout=10)
    team = admin.post("/admin/teams", json={"id": "research", "name": "Research", "budget": {"amount": 50, "period": "monthly"}})
    assert team.status_code == 201, team.text
    key = admin.post("/admin/keys", json={"name": "dashboard-demo", "team_id": "research", "budget": {"amount": 10, "period": "monthly"}})
    assert key.status_code == 201, key.text
    demo = openai.OpenAI(base_url=gateway.api_url, api_key=key.json()["key"], max_retries=0, timeout=30)
    demo.chat.completions.create(model="mock-gpt", messages=[{"role": "user", "content": "from the demo key"}])


def test_dashboard_in_a_real_browser(gateway, client, shots):
    make_traffic(gateway, client)
    origin = gateway.base_url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            requested = []
            page.on("request", lambda request: requested.append(request.url))
            problems = []
            # The refused login answers 401, which Chromium logs; anything else (a CSP violation, a
            # script error) is a problem.
            expected = "Failed to load resource: the server responded with a status of 401"
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" and not message.text.startswith(expected) else None)
            page.on("pageerror", lambda error: problems.append(str(error)))

            # Not signed in: every page leads to the login form.
            page.goto(origin + "/ui/requests")
            expect(page).to_have_url(re.compile(r"/ui/login\?next="))
            expect(page.locator("h1")).to_have_text("Sign in")
            page.screenshot(path=str(shots / "login.png"), full_page=True)

            page.fill("#key", "not-the-key")
            page.click("button[type=submit]")
            expect(page.locator(".notice.bad")).to_contain_text("That key was not accepted.")

            page.fill("#key", gateway.key)
            page.click("button[type=submit]")
            expect(page).to_have_url(origin + "/ui/requests")
            cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
            session = cookies["switchyard_session"]
            assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/ui"
            assert gateway.key not in session["value"]

            # Overview: numbers and charts.
            page.get_by_role("link", name="Overview").click()
            expect(page.locator("h1")).to_have_text("Overview")
            requests = int(page.locator("[data-stat=requests] strong").inner_text().replace(",", ""))
            assert requests >= 7
            assert int(page.locator("[data-stat=errors] strong").inner_text().replace(",", "")) >= 2
            assert page.locator("[data-stat=p99] strong").inner_text().endswith(("ms", " s"))
            for chart in ["requests", "latency", "tokens", "spend", "models"]:
                expect(page.locator(f"svg[data-chart={chart}]")).to_be_visible()
            assert page.locator("svg[data-chart=requests] circle").count() >= 1
            assert page.locator("svg[data-chart=models] rect[data-series=mock-gpt]").count() == 1
            page.screenshot(path=str(shots / "overview.png"), full_page=True)

            # Models: deployments with breaker state and provider health.
            page.get_by_role("link", name="Models").click()
            row = page.locator("table[data-table=deployments] tr", has=page.locator("td[data-deployment='mock/mock-gpt']"))
            expect(row).to_contain_text("closed")  # conftest turns breakers off for the suite
            expect(page.locator("table[data-table=providers]")).to_contain_text("mock")
            page.screenshot(path=str(shots / "models.png"), full_page=True)

            # Keys and teams with usage and budgets.
            page.get_by_role("link", name="Keys & teams").click()
            keys = page.locator("table[data-table=keys]")
            expect(keys).to_contain_text("dashboard-demo")
            expect(page.locator("table[data-table=teams]")).to_contain_text("research")
            expect(page.locator("table[data-table=budgets]")).to_contain_text("team")
            page.screenshot(path=str(shots / "keys.png"), full_page=True)

            # The request log: filters, then one request in detail.
            page.get_by_role("link", name="Requests").click()
            rows = page.locator("table[data-table=requests] tbody tr")
            assert rows.count() >= 7
            page.check("input[name=errors]")
            page.get_by_role("button", name="Filter").click()
            expect(page).to_have_url(re.compile(r"errors=true"))
            # An error is a 4xx/5xx, or a 200 whose stream failed or whose client hung up.
            cells = page.locator("table[data-table=requests] tbody tr td[data-outcome]")
            failures = [(cells.nth(i).locator(".badge").inner_text(), cells.nth(i).get_attribute("data-outcome")) for i in range(cells.count())]
            assert failures and all(int(status) >= 400 or outcome != "success" for status, outcome in failures), failures
            page.fill("input[name=model]", "mock-gpt")
            page.uncheck("input[name=errors]")
            page.get_by_role("button", name="Filter").click()
            expect(page).to_have_url(re.compile(r"model=mock-gpt"))
            page.screenshot(path=str(shots / "requests.png"), full_page=True)
            first = page.locator("table[data-table=requests] tbody tr a").first
            request_id = first.inner_text()
            first.click()
            expect(page.locator("h1")).to_have_text(f"Request {request_id}")
            expect(page.locator("dl[data-request]")).to_contain_text("mock-gpt")
            expect(page.locator("table[data-table=attempts]")).to_contain_text("success")
            expect(page.locator("svg[data-chart=request-latency]")).to_be_visible()
            page.screenshot(path=str(shots / "request-detail.png"), full_page=True)

            # The audit trail, verified.
            page.get_by_role("link", name="Audit").click()
            expect(page.locator("[data-verification]")).to_have_attribute("data-verification", "intact")
            expect(page.locator("table[data-table=audit]")).to_contain_text("dashboard.login")
            expect(page.locator("table[data-table=audit]")).to_contain_text("key.create")
            page.screenshot(path=str(shots / "audit.png"), full_page=True)

            # The configuration, redacted.
            page.get_by_role("link", name="Config").click()
            config = page.locator("pre[data-config]")
            expect(config).to_contain_text("mock-gpt")
            expect(config).to_contain_text("master_key: <redacted env:SWITCHYARD_COMPAT_KEY>")
            assert gateway.key not in page.content()
            page.screenshot(path=str(shots / "config.png"), full_page=True)

            # Log out: the session is over, on the server too.
            page.get_by_role("button", name="Log out").click()
            expect(page).to_have_url(origin + "/ui/login")
            page.goto(origin + "/ui")
            expect(page).to_have_url(re.compile(r"/ui/login"))

            outside = [url for url in requested if not url.startswith(origin + "/") and not url.startswith("data:")]
            assert outside == [], f"the dashboard loaded something from elsewhere: {outside}"
            assert problems == [], f"errors in the browser console: {problems}"
        finally:
            browser.close()
