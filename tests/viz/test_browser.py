"""The reports in a real browser: headless Chromium opens each page from disk, with no console error,
no request for anything outside the file, every image decoded and every expected section there; a
screenshot of each page is saved next to the test's files."""

from pathlib import Path

from selenium.webdriver.common.by import By

from vaelab.evaluation.compare import decode_for_page
from vaelab.viz.report import write_report


def check_page(browser, page: Path, sections: list[str], screenshot: Path) -> None:
    visit = browser.visit(page)
    assert visit.errors == []
    assert visit.requests == []
    assert visit.broken_images == 0
    assert [id for id in visit.section_ids if id in sections] == sections
    browser.screenshot(screenshot)
    assert screenshot.stat().st_size > 50_000


def test_run_sweep_and_comparison_reports_render_offline(browser, story, sweep, tmp_path):
    check_page(browser, write_report(story / "vae-beta0.1"),
               ["run", "questions", "beta", "losses", "reconstructions", "samples", "walks", "gradients",
                "latent-usage", "aggregate", "likelihood"], tmp_path / "run.png")
    check_page(browser, write_report(sweep),
               ["summary", "questions", "rate-distortion", "vs-beta", "reconstructions", "beta", "runs"],
               tmp_path / "sweep.png")
    check_page(browser, write_report(story, decode=decode_for_page),
               ["summary", "questions", "evaluation", "samples", "comparison", "beta", "runs"],
               tmp_path / "comparison.png")


def test_a_click_on_a_header_sorts_the_summary_table(browser, sweep):
    browser.visit(write_report(sweep))
    driver = browser.driver
    table = "(//section[@id='summary']//table)[1]"  # the key columns; the second, in <details>, has them all
    headers = driver.find_elements(By.XPATH, f"{table}//th")
    column = [h.text for h in headers].index("rate")
    header = headers[column]

    def rates():
        cells = driver.find_elements(By.XPATH, f"{table}//tbody/tr/td[{column + 1}]")
        return [float(cell.get_attribute("data-value")) for cell in cells]

    header.click()
    assert rates() == sorted(rates()) and header.get_attribute("aria-sort") == "ascending"
    header.click()
    assert rates() == sorted(rates(), reverse=True) and header.get_attribute("aria-sort") == "descending"


def test_the_checks_catch_console_errors_and_network_requests(browser, tmp_path):
    page = tmp_path / "leaky.html"
    page.write_text('<!doctype html><html><body><section id="x"></section>'
                    '<img src="http://127.0.0.1:9/pixel.png"><script>console.error("boom")</script></body></html>')
    visit = browser.visit(page)
    assert any("boom" in error for error in visit.errors)
    assert "http://127.0.0.1:9/pixel.png" in visit.requests
    assert visit.section_ids == ["x"]
