"""`scripts/e2e`: the demo driven in headless Chromium, the way a new user goes through it.

Log in, add the integration in the UI, see the QR in the config flow dialog, scan it on the
phone page, see the entry and its entities, write "ping" and get "pong", send a file. Then add
an account of every other simulated gateway the same way, and a second wuzapi account linked by
typing the pairing code into the phone page; each answers "ping" with "pong". The first
account's steps save screenshots under docs/images/ for the README. Chromium is the system's
(Debian's package); Playwright only drives it and never downloads a browser.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
import os
from pathlib import Path
import re
import shutil
import sys
import tempfile
import time

from playwright.sync_api import (
    Browser,
    Error as PlaywrightError,
    Locator,
    Page,
    expect,
    sync_playwright,
)

from .stack import (
    PASSWORD,
    ROOT,
    USERNAME,
    Demo,
    DemoError,
    fresh_config,
    http,
    log_problems,
)

IMAGES = ROOT / "docs" / "images"
CHROMIUM_FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine has no internet: keep Chromium from trying to reach Google at start.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = "491700000001"
CONTACT = "491700000002"
# The further accounts: the gateway's menu entry, how its phone links, and its number.
FURTHER_ACCOUNTS = (
    ("maytapi", "Maytapi (cloud service)", "491700000011"),
    ("chatapi", "Chat-API compatible instance", "491700000012"),
    ("waabot", "Waabot (cloud service)", "491700000013"),
    ("waha", "WAHA (self-hosted)", "491700000015"),
    ("evolution", "Evolution API (self-hosted)", "491700000016"),
    ("greenapi", "GREEN-API (cloud service)", "491700000017"),
    # A registered number: no phone to link; its number is the simulated Meta number.
    ("cloudapi", "WhatsApp Cloud API (Meta, business numbers)", "15550953877"),
    ("wuzapi", "wuzapi (self-hosted)", "491700000014"),
)
# Which of the forms after the credentials picks an account of the login, by its title.
PICKER_TITLES = {"maytapi": "Choose the phone", "waabot": "Choose the WhatsApp instance"}
TIMEOUT_MS = 30_000


def chromium() -> str:
    """The system's Chromium: $CHROMIUM, else the first one on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    raise DemoError("no Chromium found; install Debian's `chromium` package or set $CHROMIUM")


class Steps:
    """The user's way through the demo, one method per step, screenshots on the way."""

    def __init__(self, demo: Demo, browser: Browser, token: str) -> None:
        """Open Home Assistant and the phone page side by side."""
        self.demo = demo
        self.token = token
        self.ha = browser.new_page(viewport={"width": 1280, "height": 800})
        self.phone = browser.new_page(viewport={"width": 480, "height": 800})
        self.timings: list[tuple[str, float]] = []
        for page in (self.ha, self.phone):
            page.set_default_timeout(TIMEOUT_MS)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a step; when it fails, keep what both pages showed next to the logs."""
        start = time.monotonic()
        print(f"e2e: {name} …", flush=True)
        try:
            yield
        except (PlaywrightError, AssertionError, DemoError):
            self.ha.screenshot(path=self.demo.config / "failed-home-assistant.png")
            self.phone.screenshot(path=self.demo.config / "failed-phone.png")
            raise
        self.timings.append((name, time.monotonic() - start))

    def visit(self, page: Page, url: str) -> None:
        """Open a page; once more when a navigation of the frontend's own aborted it.

        The frontend reloads itself once on a first visit and may move on while a page still
        loads; a goto at that moment fails with net::ERR_ABORTED, though nothing is wrong.
        """
        try:
            page.goto(url)
        except PlaywrightError as err:
            if "ERR_ABORTED" not in str(err):
                raise
            page.wait_for_load_state()
            page.goto(url)

    def shot(self, page: Page, name: str) -> None:
        """Save a screenshot for the README."""
        page.screenshot(path=IMAGES / f"{name}.png", animations="disabled")

    def log_in(self) -> None:
        """The login page, with the demo user that scripts/develop created."""
        self.visit(self.ha, self.demo.ha_url)
        self.ha.get_by_role("textbox", name="Username").fill(USERNAME)
        self.ha.get_by_role("textbox", name="Password").fill(PASSWORD)
        self.ha.get_by_role("button", name="Log in").click()
        expect(self.ha.get_by_text("Overview").first).to_be_visible()

    def add_integration(self) -> None:
        """Settings > Devices & services > Add integration > WhatsApp Gateway > wuzapi."""
        self.open_gateway_menu()
        self.shot(self.ha, "1-choose-gateway")
        self.ha.get_by_text("wuzapi (self-hosted)").click()
        fields = self.demo.sign_in["wuzapi"]
        self.fill_form({label: fields[label] for label in ("Server URL", "User token")})
        self.shot(self.ha, "2-connect-wuzapi")
        self.ha.get_by_role("button", name="Submit").click()
        self.ha.get_by_text("Scan a QR code").click()

    def open_gateway_menu(self) -> None:
        """The integration's first step: which gateway."""
        self.visit(self.ha, f"{self.demo.ha_url}/config/integrations/dashboard")
        self.ha.get_by_role("button", name="Add integration").click()
        self.ha.get_by_placeholder("Search for a brand name").fill("WhatsApp")
        self.ha.get_by_role("button", name="WhatsApp Gateway").click()
        expect(self.ha.get_by_text("Choose your WhatsApp gateway")).to_be_visible()

    def fill_form(self, fields: dict[str, str]) -> None:
        """Type into the dialog's text fields, by label."""
        for label, value in fields.items():
            self.ha.get_by_role("textbox", name=label).fill(value)

    def see_qr(self) -> None:
        """The QR code is rendered in the dialog (a loaded image, not a broken one)."""
        expect(self.ha_qr).to_be_visible()
        self.ha.wait_for_function(
            "img => img.complete && img.naturalWidth > 100", arg=self.ha_qr.element_handle()
        )
        self.shot(self.ha, "3-scan-qr")

    @property
    def ha_qr(self) -> Locator:
        """The QR image in the config flow dialog (inline, from the step's description)."""
        return self.ha.locator('img[src^="data:image/"]')

    def scan(self) -> None:
        """The phone page shows the same code; Scan links the phone; the dialog moves on."""
        self.scan_on_phone("wuzapi", PHONE, screenshot=True)
        self.shot(self.ha, "5-linked")
        self.finish()

    def scan_on_phone(self, product: str, number: str, *, screenshot: bool = False) -> None:
        """Play the phone of the product's account that shows a QR code, and scan it."""
        self.visit(self.phone, f"{self.demo.phone_url}?phone={self.phone_showing(product, 'qr')}")
        phone_qr = self.phone.get_by_role("img", name="QR code to link this phone")
        expect(phone_qr).to_be_visible()
        # The code rotates every 20 s on both sides; they agree within one rotation.
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while phone_qr.get_attribute("src") != self.ha_qr.get_attribute("src"):
            if time.monotonic() > deadline:
                raise DemoError("the phone page and Home Assistant show different QR codes")
            self.phone.wait_for_timeout(200)
        if screenshot:
            self.shot(self.phone, "4-phone-scan")
        self.phone.get_by_label("Phone number").fill(number)
        self.phone.get_by_role("button", name="Scan").click()
        self.see_linked(number)

    def phone_showing(self, product: str, what: str) -> str:
        """The phone page's key of the product's phone that shows a QR code or awaits a code."""
        for phone in http("GET", f"{self.demo.simulator_url}/__emulator/phones"):
            if phone["product"] == product and phone[what]:
                return f"{product}/{phone['id']}"
        raise DemoError(f"no {product} phone on the phone page shows {what}")

    def see_linked(self, number: str) -> None:
        """Both sides say the phone is linked; the dialog offers the account's name."""
        expect(self.phone.get_by_text(f"Linked to Home Assistant as +{number}")).to_be_visible()
        device_name = self.ha.get_by_role("textbox", name="Device name")
        expect(device_name).to_have_value(f"WhatsApp +{number}")

    def finish(self) -> None:
        """The dialog's last button."""
        self.ha.get_by_role("button", name=re.compile("finish", re.IGNORECASE)).click()
        expect(
            self.ha.get_by_role("button", name=re.compile("finish", re.IGNORECASE))
        ).to_be_hidden()

    def see_entry(self) -> None:
        """The account's entry and its entities."""
        self.visit(self.ha, f"{self.demo.ha_url}/config/integrations/integration/whatsapp_gateway")
        expect(self.ha.get_by_text(f"+{PHONE}").first).to_be_visible()
        self.shot(self.ha, "6-entry")
        self.ha.get_by_text("WhatsApp account").first.click()
        expect(self.ha.get_by_text("Last message").first).to_be_visible()
        expect(self.ha.get_by_text("Connected").first).to_be_visible()
        self.shot(self.ha, "7-device")

    def ping_pong(self) -> None:
        """A contact writes "ping"; the demo automation answers "pong" in the chat."""
        self.write_ping()
        self.shot(self.phone, "8-ping-pong")
        # The device page shows the message on the last-message sensor.
        expect(self.ha.get_by_text("ping").first).to_be_visible()
        self.shot(self.ha, "9-last-message")
        # The second demo automation turned the message into a notification.
        self.ha.get_by_role("button", name="Notifications").click()
        drawer = self.ha.locator("notification-drawer")
        expect(drawer.get_by_text("WhatsApp from Alice")).to_be_visible()
        expect(drawer.get_by_text("ping", exact=True)).to_be_visible()
        self.shot(self.ha, "9b-notification")
        self.ha.keyboard.press("Escape")

    def write_ping(self) -> None:
        """On the phone page: write "ping", see the automation's "pong" arrive."""
        self.phone.get_by_label("Message to Home Assistant").fill("ping")
        self.phone.get_by_role("button", name="Send").click()
        expect(self.phone.locator(".message.out", has_text="pong")).to_be_visible()

    def further_accounts(self) -> None:
        """An account of every other gateway, and a second wuzapi one by pairing code."""
        for product, title, number in FURTHER_ACCOUNTS:
            with self.step(f"add a {product} account"):
                self.open_gateway_menu()
                self.ha.get_by_text(title).click()
                fields = dict(self.demo.sign_in[product])
                if product == "wuzapi":
                    # No user token: the admin token makes a new user for the new account.
                    del fields["User token"]
                self.fill_form(fields)
                self.ha.get_by_role("button", name="Submit").click()
                if product in PICKER_TITLES:
                    expect(self.ha.get_by_text(PICKER_TITLES[product])).to_be_visible()
                    self.ha.get_by_role("radio").first.check()
                    self.ha.get_by_role("button", name="Submit").click()
                if product == "wuzapi":
                    self.link_by_code(number)
                elif product == "cloudapi":
                    self.finish()
                    self.enter_webhook_in_meta_dashboard(number)
                    self.write_ping()
                    continue
                else:
                    if product in ("waha", "evolution", "greenapi"):  # or a pairing code
                        self.ha.get_by_text("Scan a QR code").click()
                    expect(self.ha_qr).to_be_visible()
                    self.scan_on_phone(product, number)
                self.finish()
                self.write_ping()
        self.visit(self.ha, f"{self.demo.ha_url}/config/integrations/integration/whatsapp_gateway")
        for number in (PHONE, *(number for _, _, number in FURTHER_ACCOUNTS)):
            expect(self.ha.get_by_text(f"WhatsApp +{number}").first).to_be_visible()

    def enter_webhook_in_meta_dashboard(self, number: str) -> None:
        """The repair issue says what to enter in Meta's app; entered there, it goes."""
        self.visit(self.ha, f"{self.demo.ha_url}/config/repairs")
        self.ha.get_by_text(f"Finish connecting WhatsApp +{number} in Meta's app").click()
        expect(self.ha.get_by_text("Verify token")).to_be_visible()
        shown = [code.inner_text().strip() for code in self.ha.locator("code").all()]
        urls = [text for text in shown if "/api/webhook/" in text]
        tokens = [text for text in shown if re.fullmatch(r"[0-9a-f]{32,}", text)]
        if len(urls) != 1 or len(tokens) != 1:
            raise DemoError(f"the repair issue does not say what to enter: {shown}")
        self.shot(self.ha, "11-cloud-api-webhook")
        answer = http(
            "POST",
            f"{self.demo.simulator_url}/__emulator/cloudapi/dashboard",
            json_body={"callback_url": urls[0], "verify_token": tokens[0], "verify": True},
        )
        if answer != {"verified": True}:
            raise DemoError(f"Meta's check of the webhook failed: {answer}")
        self.ha.keyboard.press("Escape")
        self.visit(
            self.phone, f"{self.demo.phone_url}?phone={self.phone_showing('cloudapi', 'number')}"
        )

    def link_by_code(self, number: str) -> None:
        """Link with phone number instead: the dialog shows a code, typed on the phone page."""
        self.ha.get_by_text("Link with phone number instead").click()
        self.fill_form({"Phone number": f"+{number}"})
        self.ha.get_by_role("button", name="Submit").click()
        shown = self.ha.get_by_text(re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$"))
        expect(shown).to_be_visible()
        code = shown.inner_text().strip()
        self.visit(
            self.phone,
            f"{self.demo.phone_url}?phone={self.phone_showing('wuzapi', 'awaiting_code')}",
        )
        self.phone.get_by_label("Pairing code").fill(code)
        self.shot(self.phone, "4b-phone-pairing-code")
        self.phone.get_by_role("button", name="Link").click()
        self.see_linked(number)

    def send_file(self) -> None:
        """The send_file action with an image by URL (config/www is served under /local/)."""
        answer = http(
            "POST",
            f"{self.demo.ha_url}/api/services/whatsapp_gateway/send_file?return_response",
            json_body={
                "config_entry_id": self._entry_id(),
                "target": CONTACT,
                "url": f"{self.demo.ha_url}/local/whatsapp-gateway.png",
                "caption": "Sent by send_file",
            },
            token=self.token,
        )
        sent = answer["service_response"]["messages"]
        if not sent or not sent[0]["message_id"]:
            raise DemoError(f"send_file answered {answer}")
        picture = self.phone.locator(".message.out", has_text="Sent by send_file").locator("img")
        expect(picture).to_be_visible()
        self.phone.wait_for_function(
            "img => img.complete && img.naturalWidth === 256", arg=picture.element_handle()
        )
        self.shot(self.phone, "10-send-file")

    def _entry_id(self) -> str:
        entries = http(
            "GET",
            f"{self.demo.ha_url}/api/config/config_entries/entry?domain=whatsapp_gateway",
            token=self.token,
        )
        entry_id: str = entries[0]["entry_id"]
        return entry_id


def run(demo: Demo) -> list[tuple[str, float]]:
    """Bring the demo up and go through every step."""
    # A first start compiles and caches a lot; give every wait the same generous bound.
    expect.set_options(timeout=TIMEOUT_MS)
    IMAGES.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        try:
            start = time.monotonic()
            demo.start()
            token = demo.onboard()
            steps = Steps(demo, browser, token)
            steps.timings.append(("start and onboard the demo", time.monotonic() - start))
            for name, action in (
                ("log in", steps.log_in),
                ("add the integration", steps.add_integration),
                ("see the QR code", steps.see_qr),
                ("scan it on the phone", steps.scan),
                ("see the entry and entities", steps.see_entry),
                ("ping, pong", steps.ping_pong),
                ("send_file", steps.send_file),
                ("further accounts", steps.further_accounts),
            ):
                with steps.step(name):
                    action()
            problems = log_problems(demo.config / "home-assistant.log")
            if problems:
                raise DemoError("the integration logged problems:\n" + "\n".join(problems))
            return steps.timings
        finally:
            browser.close()


def main() -> int:
    """Run the browser test against a fresh copy of the demo configuration."""
    parser = argparse.ArgumentParser(prog="scripts/e2e", description=__doc__)
    parser.add_argument("--simulator-port", type=int, default=8081)
    parser.add_argument("--keep", action="store_true", help="keep the configuration folder")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="whatsapp-gateway-e2e-"))
    demo = Demo(
        config=fresh_config(workdir / "config"),
        simulator_port=args.simulator_port,
    )
    try:
        timings = run(demo)
    except (DemoError, PlaywrightError, AssertionError, OSError) as err:
        print(f"e2e: FAILED: {err}", file=sys.stderr)
        print(f"e2e: logs in {demo.config}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        demo.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    for name, seconds in timings:
        print(f"e2e: {seconds:6.1f} s  {name}")
    print(f"e2e: passed; screenshots in {IMAGES.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
