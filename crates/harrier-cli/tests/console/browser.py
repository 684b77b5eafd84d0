"""Drives the console in Debian's Chromium through Playwright (nothing downloaded).

Usage: browser.py BASE_URL USER PASSWORD SCREENSHOT_DIR CHROMIUM
Exits non-zero, saying which step failed, when the console does not behave.
"""
import sys

from playwright.sync_api import expect, sync_playwright

base, user, password, shots, chromium = sys.argv[1:6]
csp_problems = []

with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=chromium,
        headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    )
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="en-US")
    page.on("console", lambda m: csp_problems.append(m.text) if "Content Security Policy" in m.text else None)

    # Log in.
    page.goto(base + "/")
    expect(page).to_have_url(base + "/login")
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(base + "/")
    expect(page.locator("h1")).to_have_text("Overview")
    page.screenshot(path=f"{shots}/overview.png", full_page=True)

    # The story's incident, across AWS, Kubernetes and containers.
    incident = page.locator("a[href^='/incidents/inc-']").first
    expect(incident).to_contain_text("across AWS, Kubernetes, containers")
    incident.click()
    expect(page.locator("h1")).to_contain_text("user/alice")
    page.screenshot(path=f"{shots}/incident.png", full_page=True)

    # An alert of the story with its raw CloudTrail event.
    page.locator("tr:has(td:text-is('aws_cloudtrail')) a[href^='/alerts/']").first.click()
    expect(page.locator("#raw-event")).to_contain_text('"eventName"')
    page.screenshot(path=f"{shots}/alert.png", full_page=True)

    # Posture: the score chart and a failing check's fix.
    page.goto(base + "/posture")
    expect(page.locator("svg.chart")).to_have_count(1)
    with_fix = page.locator("details.resource:has(pre.cli)").first
    with_fix.locator("summary").click()
    expect(with_fix.locator("text=Remediation").first).to_be_visible()
    expect(with_fix.locator("pre.cli").first).to_contain_text("aws ")
    page.screenshot(path=f"{shots}/posture.png", full_page=False)

    # The backdoored image's malware finding.
    page.goto(base + "/images")
    page.click("a[href^='/images/sha256:']")
    expect(page.locator("#malware")).to_contain_text("miner")
    page.screenshot(path=f"{shots}/image.png", full_page=True)

    # Japanese.
    page.click("#lang")
    expect(page.locator("header nav a").first).to_have_text("概要")
    page.goto(base + "/")
    expect(page.locator("h1")).to_have_text("概要")
    page.screenshot(path=f"{shots}/overview-ja.png", full_page=True)

    # Phone-sized: still one column that reads.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.context.add_cookies(page.context.cookies())
    phone.goto(base + "/alerts")
    expect(phone.locator("table.alerts")).to_be_visible()

    browser.close()

if csp_problems:
    print("CSP violations:", csp_problems, file=sys.stderr)
    sys.exit(1)
print("browser: ok")
