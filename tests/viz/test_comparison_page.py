"""The page of several runs compared, as `vaelab report DIR` and `vaelab runs compare --html` write it: after
`vaelab evaluate`, each run's eval.json side by side, the paired differences against the beta = 1 run, the three
questions answered on these runs' numbers, their prior samples side by side; a folder of symbolic links to runs is
a folder of runs. Read from the HTML."""

import json
import re
from html import unescape

from vaelab.cli import main
from vaelab.evaluation.compare import decode_for_page
from vaelab.numbers import format_number
from vaelab.viz.noise import paired_difference
from vaelab.viz.report import write_report


def table_rows(html: str, section: str, index: int = 0) -> dict[str, list[str]]:
    """{first cell: the other cells} of the index-th table of a section, tags stripped."""
    body = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
    table = body.split("<table", index + 1)[index + 1].split("</table>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = [unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell.replace("<wbr>", "")))).strip()
                 for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def text(html: str, section: str) -> str:
    body = html.split(f'<section id="{section}">', 1)[1].split("</section>", 1)[0]
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body.replace("<wbr>", ""))))


def with_se(evaluation, key):
    return f"{format_number(evaluation[key])} ± {format_number(evaluation[key + '_se'], 2)}"


def test_the_folder_page_puts_the_evaluations_side_by_side(story):
    html = write_report(story, decode=decode_for_page).read_text()
    b1, b01 = (json.loads((story / name / "eval.json").read_text()) for name in ("vae-beta1", "vae-beta0.1"))
    rows = table_rows(html, "evaluation")
    assert rows["quantity"] == ["ae", "vae-beta0.1", "vae-beta1"]
    assert rows["evaluated"][0] == "not evaluated: vaelab evaluate RUN"
    assert rows["evaluated"][1] == f"last.pt, step 20, moving average; {b01['images']} validation images"
    assert list(rows)[2] == "ELBO at the shared sigma (beta = 1)"  # the like-for-like one leads
    assert rows["ELBO at the shared sigma (beta = 1)"] == ["n/a", with_se(b01, "elbo_shared_sigma"),
                                                          with_se(b1, "elbo_shared_sigma")]
    assert rows["PSNR, dB (posterior means)"][1:] == [with_se(b01, "psnr"), with_se(b1, "psnr")]
    # differences against the VAE at beta = 1, paired over the same validation images
    differences = table_rows(html, "evaluation", 1)
    assert differences["quantity"] == ["ae − vae-beta1", "vae-beta0.1 − vae-beta1"]
    d, se, n = paired_difference(b01, b1, "elbo_shared_sigma")
    verdict = "beyond" if abs(d) > 2 * se else "within"
    assert differences["ELBO at the shared sigma (beta = 1)"] == [
        "n/a", f"{format_number(d)} ± {format_number(se, 2)}, {verdict} noise (n = {n})"]
    # the three questions, answered on these numbers
    answers = text(html, "questions")
    assert answers.count("On these runs:") == 3
    higher = "vae-beta0.1" if b01["elbo_shared_sigma"] > b1["elbo_shared_sigma"] else "vae-beta1"
    assert f"{higher} has the higher ELBO" in answers
    assert f"(rate {format_number(b01['kl'])} against {format_number(b1['kl'])} nats)" in answers
    # prior samples of every run, decoded from its last.pt
    assert '<section id="samples">' in html and html.split('<section id="samples">')[1].split("</section>")[0].count("<img") == 1


def test_a_folder_of_symbolic_links_to_runs_is_a_folder_of_runs(story, tmp_path):
    folder = tmp_path / "chosen"
    folder.mkdir()
    for name in ("vae-beta1", "vae-beta0.1"):
        (folder / name).symlink_to(story / name, target_is_directory=True)
    html = write_report(folder).read_text()
    assert table_rows(html, "evaluation")["quantity"] == ["vae-beta0.1", "vae-beta1"]
    assert '<a href="vae-beta1/report.html">vae-beta1</a>' in html


def test_runs_compare_prints_the_evaluations_and_writes_the_page(story, tmp_path, capsys):
    page = tmp_path / "pages" / "compare.html"
    assert main(["runs", "compare", str(story / "vae-beta1"), str(story / "vae-beta0.1"), str(story / "ae"),
                 "--out", str(tmp_path / "compare.png"), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    b1 = json.loads((story / "vae-beta1" / "eval.json").read_text())
    assert "paired differences against vae-beta1" in out
    shared = next(line for line in out.splitlines() if line.startswith("ELBO at the shared sigma (beta = 1)"))
    assert with_se(b1, "elbo_shared_sigma") in shared and "n/a" in shared  # the AE has none
    assert "Is it sound to scale the KL term?" in out
    html = page.read_text()
    assert table_rows(html, "evaluation")["quantity"] == ["vae-beta1", "vae-beta0.1", "ae"]
    run_links = re.findall(r'<a href="([^"]+/report.html)">', html)
    assert run_links and all((page.parent / link).resolve().is_file() for link in run_links)
