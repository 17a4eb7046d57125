"""What every browser test shares: a real `kb serve` in a temporary instance with one
account per role and a few real documents, Debian's Chromium, and `check_page`, which looks
at a page as the issue asks (one main heading, no sideways scroll, axe-core's WCAG 2.1 A
and AA rules, a screenshot under build/screenshots/).

Use it from a test module:

    pytestmark = pytest.mark.browser
    site = site_fixture(seed=True)          # module-scoped: one server per test module

    def test_x(site: Site, browser: Browser) -> None:
        page = open_as(browser, site, "editor", "phone")
        page.goto("/")
        check_page(page, "home-editor")
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import PDF_SAMPLES, TEST_DATABASE_URL, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
KB = Path(sys.executable).parent / "kb"
PASSWORD = "correct horse battery staple"
ROLES = ("admin", "editor", "contributor", "reader")
# Laptop and phone (an iPhone 12 to 15 is 390 CSS pixels wide).
WIDTHS: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1366, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
# Where check_page saves its screenshots (git ignores /build/).
SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def email_of(role: str) -> str:
    return f"{role}@example.org"


def need_chromium() -> None:
    """Skip (or, under CI, fail) with the reason when Debian's Chromium is absent."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is absent: install Debian's chromium package to run browser tests"
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " (CI=true: a missing browser is a failure, not a skip)")
    pytest.skip(reason)


@dataclass
class Site:
    """A running `kb serve` in a temporary instance."""

    url: str
    root: Path
    env: dict[str, str]
    log: Path
    states: dict[str, Any] = field(default_factory=dict)  # role -> signed-in storage state

    def kb(self, *args: str, stdin: str = "", check: bool = True,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the kb command line against this instance."""
        done = subprocess.run([str(KB), *args], cwd=self.root, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=timeout)
        if check:
            assert done.returncode == 0, \
                f"kb {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError as e:
            return f"(no server log: {e})"
        return "\n".join(text.splitlines()[-lines:])

    def api(self, path: str, token: str | None = None) -> Any:
        """GET a JSON answer of the API (anonymous unless a token is given)."""
        request = urllib.request.Request(self.url + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.load(r)


# Documents every seeded site holds: (file name, text or None for a PDF from the corpora,
# manifest fields). Enough for facets with several values, a failed file and a PDF.
SEED: list[tuple[str, str | None, dict[str, str]]] = [
    ("moldova-remittances.txt",
     "Remittances from the Moldovan diaspora and their use for local development. "
     "Lessons learned on hometown associations and diaspora investment.",
     {"title": "Lessons learned: remittances and diaspora investment in Moldova",
      "type": "lessons-learned", "countries": "MDA", "agencies": "IOM;UNDP",
      "themes": "remittances;diaspora", "language": "en", "year": "2014"}),
    ("jamaica-policy.txt",
     "A national policy on international migration and development for Jamaica, "
     "mainstreaming migration into the Vision 2030 development plan.",
     {"title": "Jamaica national policy on international migration and development",
      "type": "policy-brief", "countries": "JAM", "agencies": "IOM",
      "themes": "policy coherence;mainstreaming", "language": "en", "year": "2017"}),
    ("tunisie-evaluation.txt",
     "Évaluation finale du programme conjoint: migration et développement en Tunisie, "
     "envois de fonds et mobilisation de la diaspora.",
     {"title": "Évaluation finale : migration et développement en Tunisie",
      "type": "evaluation", "countries": "TUN;MAR", "agencies": "UNDP;SDC",
      "themes": "evaluation;diaspora", "language": "fr", "year": "2018"}),
    ("ecuador-toolkit.txt",
     "Herramientas y metodología para integrar la migración en la planificación del "
     "desarrollo local en Ecuador: remesas y retorno.",
     {"title": "Herramienta: integrar la migración en la planificación local (Ecuador)",
      "type": "tool", "countries": "ECU", "agencies": "IOM",
      "themes": "mainstreaming;return", "language": "es", "year": "2016"}),
    ("kyrgyzstan-methodology.txt",
     "Методология оценки влияния миграции на развитие Кыргызстана; денежные переводы.",
     {"title": "Методология: миграция и развитие в Кыргызстане",
      "type": "methodology", "countries": "KGZ", "agencies": "UNDP",
      "themes": "remittances;data", "language": "ru", "year": "2019"}),
    ("crazyones-pdfa.pdf", None,
     {"title": "Serbia and Bangladesh: a one-page PDF about labour migration",
      "type": "report", "countries": "SRB;BGD", "agencies": "IOM;UNDP",
      "themes": "labour migration", "language": "en", "year": "2015"}),
]
SEED_PDF = PDF_SAMPLES / "021-pdfa" / "crazyones-pdfa.pdf"


def _seed(site: Site, folder: Path) -> None:
    folder.mkdir()
    rows = []
    for name, text, meta in SEED:
        if text is None:
            if not SEED_PDF.exists():
                continue  # the shared corpora are absent: the text documents suffice
            shutil.copyfile(SEED_PDF, folder / name)
        else:
            (folder / name).write_text(text, encoding="utf-8")
        rows.append({"file": name, **meta})
    columns = ["file", *dict.fromkeys(k for r in rows for k in r if k != "file")]
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    site.kb("import", str(folder), "--manifest", str(folder / "manifest.csv"),
            "--workers", "1", "--as", email_of("editor"))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group (gunicorn, its workers, the kb worker), then SIGKILL."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _database(root: Path) -> Iterator[str | None]:
    """A database of its own on KB_TEST_DATABASE_URL's server (dropped after), else None."""
    if not TEST_DATABASE_URL:
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(TEST_DATABASE_URL)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = f"kbsite_{os.getpid()}_{abs(hash(root)) % 10**8}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def running_site(root: Path, seed: bool = True, **config: str) -> Iterator[Site]:
    """`kb init`, one account per role, the seed documents (when asked), then `kb serve`
    with its worker (which also sends email) until the block ends. ``config``: extra KB_*
    settings (without the prefix), e.g. SMTP_URL="smtp://127.0.0.1:2525"; SITE_URL is
    the server's own address unless given."""
    root.mkdir(parents=True, exist_ok=True)
    databases = _database(root)
    database_url = next(databases)
    port = free_port()
    env = {**os.environ,
           "KB_INSTANCE_DIR": str(root / "instance"),
           "KB_UPLOAD_DIR": str(root / "uploads"),
           # Links in email point at this server.
           "KB_SITE_URL": f"http://127.0.0.1:{port}",
           # Browser tests sign in often from one address.
           "KB_LOGIN_LIMIT_PAIR": "1000 per minute",
           "KB_LOGIN_LIMIT_ADDRESS": "1000 per minute",
           "KB_LOGIN_LIMIT_ACCOUNT": "1000 per hour",
           "KB_SEARCH_TIME_LIMIT": "60",  # a loaded machine must not make searches 503
           **{f"KB_{k}": v for k, v in config.items()}}
    if database_url:
        env["KB_DATABASE_URL"] = database_url
    site = Site(f"http://127.0.0.1:{port}", root, env, root / "server.log")
    try:
        site.kb("init")
        for role in ROLES:
            site.kb("user", "add", email_of(role), "--role", role, "--password-stdin",
                    stdin=PASSWORD + "\n")
        if seed:
            _seed(site, root / "seed")
        with site.log.open("wb") as out:
            proc = subprocess.Popen(
                [str(KB), "serve", "--host", "127.0.0.1", "--port", str(port),
                 "--workers", "1"],
                cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            try:
                _wait_healthy(site, proc)
                yield site
            finally:
                _stop(proc)
    finally:
        with contextlib.suppress(StopIteration):
            next(databases)


def _wait_healthy(site: Site, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            pytest.fail(f"kb serve exited with {proc.returncode}:\n{site.log_tail()}")
        try:
            with urllib.request.urlopen(site.url + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"/healthz did not answer 200 within 30 s:\n{site.log_tail()}")
        time.sleep(0.2)


def site_fixture(seed: bool = True, **config: str) -> Callable[..., Iterator[Site]]:
    """A module-scoped fixture named `site`: one running instance per test module."""

    @pytest.fixture(scope="module")
    def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
        need_chromium()
        with running_site(tmp_path_factory.mktemp("site"), seed=seed, **config) as s:
            yield s

    return site


def new_context(browser: Browser, site: Site, width: str = "desktop",
                **options: Any) -> BrowserContext:
    """A fresh browser profile (no cookies) at `desktop` (1366 px) or `phone` (390 px)."""
    context = browser.new_context(base_url=site.url, accept_downloads=True,
                                  **WIDTHS[width], **options)
    context.set_default_timeout(10_000)
    return context


def sign_in(page: Page, role: str) -> None:
    """Sign in through the login form as the seeded account of ``role``."""
    from playwright.sync_api import expect

    page.goto("/login")
    page.get_by_label("Email").fill(email_of(role))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name=re.compile("Sign out"))).to_be_attached()


def open_as(browser: Browser, site: Site, role: str | None = None,
            width: str = "desktop") -> Page:
    """A page in a new context, signed in as ``role`` (None: an anonymous visitor). Each
    role signs in through the form once per site; later contexts reuse its cookies."""
    if role is not None and role not in site.states:
        context = new_context(browser, site, "desktop")
        sign_in(context.new_page(), role)
        site.states[role] = context.storage_state()
        context.close()
    context = new_context(browser, site, width,
                          storage_state=site.states[role] if role else None)
    return context.new_page()


def sideways_overflow(page: Page) -> list[str]:
    """What sticks out past the right edge of the viewport (empty when nothing does)."""
    return list(page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        if (document.documentElement.scrollWidth <= width) return [];
        const out = [];
        for (const el of document.body.querySelectorAll('*')) {
            const r = el.getBoundingClientRect();
            if (r.right > width + 1 && r.width > 0) {
                out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}` +
                         `${el.className && typeof el.className === 'string' ?
                            '.' + el.className.trim().replace(/\\s+/g, '.') : ''}` +
                         ` right=${Math.round(r.right)} > ${width}`);
                if (out.length >= 8) break;
            }
        }
        const sw = document.documentElement.scrollWidth;
        return out.length ? out : [`scrollWidth ${sw} > ${width}`];
    }"""))


def axe_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 A and AA violations of the page, one line each (every impact).
    The script is evaluated through the DevTools protocol, which the page's CSP does not
    govern, so kb's CSP stays as strict as in production."""
    from axe_playwright_python.base import AXE_SCRIPT

    page.evaluate(AXE_SCRIPT)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})", AXE_TAGS)
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + "; ".join(" ".join(n["target"]) for n in v["nodes"][:4])
            for v in result["violations"]]


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as build/screenshots/NAME-WIDTHpx.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = SCREENSHOTS / f"{name}-{width}px.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def check_page(page: Page, name: str, axe: bool = True) -> None:
    """The page has exactly one main heading, nothing past the right edge and no axe
    violation; a screenshot is saved under build/screenshots/ either way."""
    screenshot(page, name)
    headings = page.locator("h1").count()
    assert headings == 1, f"{name} ({page.url}): {headings} h1 elements, wanted 1"
    overflow = sideways_overflow(page)
    assert not overflow, f"{name} ({page.url}) scrolls sideways: {overflow}"
    if axe:
        violations = axe_violations(page)
        assert not violations, f"{name} ({page.url}) axe violations:\n" + "\n".join(violations)
