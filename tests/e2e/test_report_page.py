"""The HTML report as a person sees it: opened in headless Chromium, looked at through a screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from processor.history.page import COLOURS, write_report
from processor.history.stats import IncidentClass
from tests.unit.history.test_report import _context, traffic_report

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH, HEIGHT = 1280, 5600  # a laptop's page width


def screenshot(page: Path, shot: Path, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """``page`` as headless Chromium draws it in a ``width`` x ``height`` window: the pixels, RGB in 0..1."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    command += [f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()]
    subprocess.run(command, capture_output=True, timeout=120, check=True)
    picture = image.imread(shot)
    assert picture.shape[:2] == (height, width)
    return picture[:, :, :3]


def nothing_cut_at_the_right(picture: np.ndarray) -> bool:
    """The page fits its window: its last 20 columns are blank (a wider table or chart would be cut there)."""
    return bool((picture[:, -20:, :] > 0.95).all())


def _pixels_like(picture: np.ndarray, colour: str, tolerance: float = 0.04) -> int:
    wanted = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(picture[:, :, :3] - wanted).max(axis=2) < tolerance).sum())


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)")
def test_the_report_opened_in_a_browser_shows_every_chart_with_the_classes_in_their_colours(tmp_path):
    assert write_report(traffic_report(tmp_path), _context("month"), tmp_path / "out") == 7
    picture = screenshot(tmp_path / "out" / "incidence.html", tmp_path / "shot.png")
    # Every class has its colour on screen: the embedded PNGs were decoded and drawn (a broken image is an icon).
    for kind in IncidentClass:
        assert _pixels_like(picture, COLOURS[kind]) > 2_000, f"{kind.label}: its colour is not on the page"
    # The page is laid out within the window: no chart is cut at the right edge (its last columns are blank).
    assert nothing_cut_at_the_right(picture), "something is drawn at the page's right edge: wider than the page"
    # Charts fill the page from top to bottom rather than one block of colour: ink in most 200-pixel bands.
    ink = (picture[:, :, :3].min(axis=2) < 0.6).reshape(HEIGHT // 200, 200, WIDTH).any(axis=(1, 2))
    assert ink.mean() > 0.8, f"only {ink.mean():.0%} of the page's bands hold anything"
