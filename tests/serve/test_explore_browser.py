"""`vaelab explore` in a real browser: headless Chromium opens the page the command serves, moves a latent slider and
the beta slider, uploads an image and a file that is not one; and the server stops cleanly on Ctrl-C and SIGTERM."""

import base64
import io
import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import vaelab

WAIT = 60  # seconds a page may take to answer, on a busy machine


def decoded_pixels(driver) -> np.ndarray:
    src = driver.find_element(By.ID, "decoded").get_attribute("src")
    assert src.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))).astype(np.float32) / 255


def picture(path, seed=0, size=(40, 30)):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)).save(path)
    return path


def test_the_page_decodes_as_the_sliders_move_and_encodes_what_is_uploaded(browser, explore, trained_conditional,
                                                                          tmp_path):
    driver = browser.driver
    wait = WebDriverWait(driver, WAIT)
    text = lambda id: driver.find_element(By.ID, id).text  # noqa: E731
    src = lambda: driver.find_element(By.ID, "decoded").get_attribute("src")  # noqa: E731
    with explore(trained_conditional) as server:
        visit = browser.visit(server.local_url)
        wait.until(lambda d: "the reconstruction of digits/" in text("decoded-caption") and src())
        wait.until(lambda d: d.find_element(By.ID, "path").get_attribute("src"))  # the interpolation
        assert visit.requests == [] or all(url.startswith(server.local_url) for url in visit.requests)
        assert text("message") == ""

        before = src()  # the most informative dimension's slider, to its end: a new decode
        driver.find_element(By.CSS_SELECTOR, "#sliders input").send_keys(Keys.END)
        wait.until(lambda d: src() != before and text("decoded-caption") == "the code of the sliders")

        before = src()  # beta to the ends of the range: the chosen image encoded and decoded again
        driver.find_element(By.ID, "beta").send_keys(Keys.HOME)
        wait.until(lambda d: "at beta = 0.01 " in text("decoded-caption") and src() != before)
        at_low = src()
        driver.find_element(By.ID, "beta").send_keys(Keys.END)
        wait.until(lambda d: "at beta = 10 " in text("decoded-caption") and src() != at_low)

        mine = picture(tmp_path / "mine.png")
        driver.find_element(By.ID, "upload").send_keys(str(mine))
        wait.until(lambda d: "the reconstruction of mine.png at beta = 10 " in text("decoded-caption"))
        wait.until(lambda d: d.execute_script("return window.explorer.chosen.name === 'mine.png' && "
                                              "document.getElementById('decoded').dataset.beta === '10';"))
        expected = vaelab.load(trained_conditional, beta=10.0).reconstruct(mine)[0, 0].numpy()
        assert np.abs(decoded_pixels(driver) - expected).max() <= 2 / 255  # its code went through the URL, 4 decimals

        notes = tmp_path / "notes.txt"
        notes.write_text("not a picture")
        driver.find_element(By.ID, "upload").send_keys(str(notes))
        wait.until(lambda d: "notes.txt cannot be used: not an image" in text("message"))

        before = src()  # a click on the map decodes that point of the plane
        driver.find_element(By.ID, "map").click()
        wait.until(lambda d: "point (" in text("decoded-caption") and src() != before)

        errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert all("/api/images" in error and "400" in error for error in errors)  # only the refused upload
        browser.screenshot(tmp_path / "explore.png", width=1400)
        code, err = server.stop(signal.SIGTERM)  # with the page still open
    assert code == 128 + signal.SIGTERM and "Traceback" not in err


def test_ctrl_c_stops_it_cleanly_a_busy_port_and_a_large_upload_are_refused(explore, trained_vae):
    with explore(trained_vae, "--host", "0.0.0.0", "--max-upload", "0.001") as server:
        body = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (80, 80), dtype=np.uint8)).save(body, format="PNG")
        assert body.tell() > 1000  # a real image, over the 1,000-byte limit
        request = urllib.request.Request(server.local_url + "api/images", data=body.getvalue(),
                                         headers={"X-File-Name": "big.png"})
        try:
            urllib.request.urlopen(request, timeout=WAIT)
            raise AssertionError("the upload was accepted")
        except urllib.error.HTTPError as refused:
            assert refused.code == 413
            assert "big.png is larger than the upload limit of 0.001 MB" in json.loads(refused.read())["error"]

        busy = subprocess.run([sys.executable, "-m", "vaelab", "explore", "unused-run", "--host", "0.0.0.0",
                               "--port", str(server.port)], capture_output=True, text=True, timeout=WAIT)
        assert busy.returncode == 2
        assert busy.stderr.strip() == (f"vaelab: error: port {server.port} on 0.0.0.0 is in use (another vaelab "
                                       "explore?): give another with --port N, or --port 0 for any free one")
        code, err = server.stop(signal.SIGINT)
    assert code == 128 + signal.SIGINT
    assert "warning: listening on 0.0.0.0, beyond this machine" in err and "Traceback" not in err
    assert err.strip().endswith("vaelab explore: stopped")
    with socket.socket() as again:  # the port is free again: nothing listens (as servers do, a connection of the
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # upload's in TIME_WAIT does not count)
        again.bind(("0.0.0.0", server.port))
