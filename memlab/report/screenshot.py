"""A PNG screenshot of a report page by headless Chromium (Debian's ``chromium`` package), made
small enough to keep in the repository (an adaptive 256-colour palette)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from memlab.core.errors import MemlabError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_chromium() -> str | None:
    """The path of a Chromium/Chrome executable on PATH (``MEMLAB_CHROMIUM`` first), else None."""
    env = os.environ.get("MEMLAB_CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def require_chromium() -> str:
    """The Chromium executable, or a one-line MemlabError saying how to install it."""
    exe = find_chromium()
    if exe is None:
        raise MemlabError("a screenshot needs Chromium; none of " + ", ".join(BROWSERS) + " is on PATH "
                          "(Debian: apt-get install chromium)")
    return exe


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 1600, timeout_s: float = 60.0) -> Path:
    """``png``: the top ``width`` × ``height`` pixels of ``page`` as rendered by headless Chromium,
    quantised to 256 colours. A missing browser or a failed render is one MemlabError line."""
    from memlab.core.io import atomic_write_bytes

    exe = require_chromium()
    with tempfile.TemporaryDirectory(prefix="memlab-shot-") as tmp:
        raw = Path(tmp) / "shot.png"
        cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
               "--no-first-run", "--no-default-browser-check", f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--window-size={width},{height}", f"--screenshot={raw}", Path(page).resolve().as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise MemlabError(f"{exe} did not render {page} within {timeout_s:g} s") from None
        if not raw.is_file():
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise MemlabError(f"{exe} wrote no screenshot of {page} (exit {proc.returncode}"
                              + (f": {err[-1][:160]}" if err else "") + ")")
        from io import BytesIO

        from PIL import Image

        with Image.open(raw) as im:
            buf = BytesIO()
            im.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(buf, "PNG", optimize=True)
    return atomic_write_bytes(png, buf.getvalue())
