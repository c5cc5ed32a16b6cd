"""The IVR editor: an author breaks the script (the error shows at its line), fixes it, tries it
in the simulator, diffs, publishes (new calls get it, a call in progress keeps its version) and
rolls back."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Page

from agent_desktop.ivr_editor import ScriptBook
from crm_core.services import contact_center
from ivr import interpreter, lookup, simulate
from ivr.events import CallStarted
from pbx.script_library import ScriptLibrary
from tests.desktop.live import LiveDesk, login, shot

pytestmark = pytest.mark.browser

OLD_GREETING = "Dzień dobry, tu Miejskie Centrum Kontaktu Warszawa dziewiętnaście sto piętnaście."
NEW_GREETING = "Dzień dobry, tu nowe powitanie centrum dziewiętnaście sto piętnaście."


async def edit(page: Page, old: str, new: str) -> None:
    """Select `old` in the editor and type `new` over it, as an author would (page.fill of a
    400-line text takes Chromium seconds; typing an edit does not)."""
    await page.evaluate("""([old]) => {
        const s = document.getElementById('source');
        const at = s.value.indexOf(old);
        if (at < 0) throw new Error('not in the editor: ' + old);
        s.focus();
        s.setSelectionRange(at, at + old.length);
    }""", [old])
    await page.keyboard.insert_text(new)


def greeting(lines: tuple[str, ...]) -> str:
    return next(line for line in lines if line.startswith("IVR [pl]"))


async def test_break_fix_simulate_publish_and_roll_back(desk: LiveDesk, page: Page) -> None:
    await login(page, desk.url, "autor")
    await page.wait_for_selector("#status.ok")
    original = await page.input_value("#source")
    assert OLD_GREETING in original
    lines = original.split("\n")
    bad_line = lines.index("    next: emergency") + 1

    # Break it: a typo in a node name is reported at its line, as you type: the root cause
    # first, then what it cuts off as one line (not one problem per node behind it).
    await edit(page, "    next: emergency", "    next: emergncy")
    problem = page.locator(f"#problems li.root[data-line='{bad_line}']")
    await problem.wait_for()
    assert "emergncy" in (await problem.text_content() or "")
    assert "emergency" in (await problem.text_content() or "")  # the hint names the right one
    assert await page.locator("#problems li").count() == 2
    folded = page.locator(f"#problems li.folded[data-line='{bad_line}']")
    # Everything behind the greeting (how many depends on the script of the day).
    assert re.search(r"\d\d nodes are unreachable because 'greeting' → 'emergncy' is not a "
                     r"node", await folded.text_content() or "")
    await folded.locator("summary").click()
    assert await folded.locator(".covers:has-text('language_menu')").is_visible()
    await page.wait_for_selector(f"#gutter .ln.err[data-line='{bad_line}']")
    assert await page.is_disabled("#btn-publish")
    await shot(page, "ivr-broken")
    await problem.locator("a").click()  # jumps to the line
    assert await page.evaluate("document.activeElement.id") == "source"

    # Fix it, with a new greeting.
    await edit(page, "    next: emergncy", "    next: emergency")
    await edit(page, OLD_GREETING, NEW_GREETING)
    await page.wait_for_selector("#status.ok")
    assert await page.locator("#problems li").count() == 0
    assert await page.locator("#graph g.gnode").count() > 10
    await page.wait_for_selector("#graph g.gnode.start[data-node='greeting']")

    # Simulate in the page: keys and a hostile utterance, shown as text.
    await page.fill("#sim-input", "1")
    await page.press("#sim-input", "Enter")
    await page.wait_for_selector("#sim-output li.sim-caller:has-text('presses 1')")
    assert NEW_GREETING in (await page.text_content("#sim-output") or "")
    await page.fill("#sim-input", "say:<img src=x onerror=alert(1)>")
    await page.press("#sim-input", "Enter")
    await page.wait_for_selector("#sim-output li:has-text('<img src=x onerror=alert(1)>')")
    assert await page.locator("#sim-output img").count() == 0

    await page.click("#btn-diff")
    await page.wait_for_selector("#diff .del:has-text('Miejskie Centrum Kontaktu')")
    assert await page.locator("#diff .add:has-text('nowe powitanie')").count() == 1
    await shot(page, "ivr-fixed-diff-sim")

    # Publish: a new immutable version, live for new calls; a call in progress keeps its own.
    old_script = desk.library.current("19115")
    in_progress, _ = interpreter.start(old_script, CallStarted("+48600100200", datetime.now(UTC)))
    await page.fill("#comment", "nowe powitanie")
    await page.click("#btn-publish")
    await page.wait_for_selector("#notice:has-text('Opublikowano wersję v1')")
    await page.wait_for_selector("#versions li[data-version='1'] .badge.ok")
    assert 'version: "v1"' in await page.input_value("#source")
    live = desk.library.current("19115")
    assert live.version == "v1"
    now = datetime.now(UTC)
    assert NEW_GREETING in greeting(simulate.run(live, [], "+48600100200", now,
                                                 lookup.StaticLookup()).lines)
    assert in_progress.script is old_script
    assert desk.library.version("19115", old_script.version) is old_script
    active = contact_center.active_script(desk.db, "19115")
    assert active is not None and (active.version, active.comment) == (1, "nowe powitanie")

    # A second version, then roll back to the first.
    await edit(page, NEW_GREETING, "Druga wersja powitania.")
    await page.wait_for_selector("#status.ok")
    await page.click("#btn-publish")
    await page.wait_for_selector("#versions li[data-version='2'] .badge.ok")
    assert desk.library.current("19115").version == "v2"
    await page.click("#versions li[data-version='1'] button.rollback")
    await page.wait_for_selector("#versions li[data-version='1'] .badge.ok")
    assert await page.locator("#versions li[data-version='2'] button.rollback").count() == 1
    assert desk.library.current("19115").version == "v1"
    assert NEW_GREETING in await page.input_value("#source")
    active = contact_center.active_script(desk.db, "19115")
    assert active is not None and active.version == 1
    assert [v.version for v in contact_center.script_versions(desk.db, "19115")] == [1, 2]
    await shot(page, "ivr-rolled-back")
    # After a restart the library starts from the files; the published version comes back.
    fresh = ScriptLibrary()
    fresh.load_dir()
    assert ScriptBook(desk.db, fresh, fresh.known_queues).restore_active() == ["19115 v1"]
    assert fresh.current("19115").version == "v1"
    assert page.dialogs == []  # type: ignore[attr-defined]


async def test_publish_refuses_a_broken_script_even_without_the_page(desk: LiveDesk,
                                                                     page: Page) -> None:
    await login(page, desk.url, "autor")
    await page.wait_for_selector("#status.ok")
    status = await page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/ivr/api/scripts/19115/publish', {method: 'POST',
          headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
          body: JSON.stringify({text: 'script: "19115"\\nnodes: {}\\n'})});
        return [r.status, (await r.json()).problems.length > 0];
    }""")
    assert status == [422, True]
    assert contact_center.script_versions(desk.db, "19115") == []
    assert desk.library.current("19115").version == "2026-12-01.1"
