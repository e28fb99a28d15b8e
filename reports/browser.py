"""Headless Chromium helpers: screenshot a report (README picture) and render its DOM (tests).

The browser runs with the network off (every host resolves to nothing, proxy to a closed port), so
a page that needs the network shows it as missing figures or console errors.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

__all__ = ["find_chromium", "screenshot", "render_dom", "ChromiumNotFound"]


class ChromiumNotFound(RuntimeError):
    pass


_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome binary: $REPORTS_CHROMIUM, /usr/bin/chromium, or one on PATH."""
    env = os.environ.get("REPORTS_CHROMIUM")
    if env and Path(env).is_file() and os.access(env, os.X_OK):
        return env
    if Path("/usr/bin/chromium").is_file() and os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in _CANDIDATES:
        p = shutil.which(name)
        if p:
            return p
    return None


def _base_args(binary: str, profile: str, budget_ms: int) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-dev-shm-usage",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
    ]


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, errors="replace", timeout=timeout, check=False)


def _url(path) -> str:
    return Path(path).resolve().as_uri()


def render_dom(html_path, *, width: int = 1400, height: int = 1000, budget_ms: int = 10_000,
               timeout: float = 120) -> tuple[str, list[str]]:
    """Load a page (file:// URL, network off) in a `width` x `height` window and return (the DOM after
    scripts ran, console lines); figures lay out at that width, as a reader's window shows them."""
    binary = find_chromium()
    if binary is None:
        raise ChromiumNotFound("no Chromium found (looked at $REPORTS_CHROMIUM, /usr/bin/chromium, PATH)")
    with tempfile.TemporaryDirectory(prefix="reports-chromium-") as profile:
        args = _base_args(binary, profile, budget_ms) + [
            "--enable-logging=stderr", "--v=0", f"--window-size={int(width)},{int(height)}", "--dump-dom",
            _url(html_path),
        ]
        cp = _run(args, timeout)
    console = [line for line in cp.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    if cp.returncode != 0 and not cp.stdout:
        raise RuntimeError(f"chromium exited {cp.returncode}: {cp.stderr.strip().splitlines()[-1:]}")
    return cp.stdout, console


def screenshot(html_path, png_path, width: int = 1280, height: int = 2400, *, budget_ms: int = 10_000,
               timeout: float = 120) -> Path:
    """Screenshot `html_path` (headless Chromium, network off) into `png_path`; return its Path.

    Raises ChromiumNotFound when no browser is installed and RuntimeError when no PNG was written.
    """
    binary = find_chromium()
    if binary is None:
        raise ChromiumNotFound("no Chromium found (looked at $REPORTS_CHROMIUM, /usr/bin/chromium, PATH)")
    out = Path(png_path).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    with tempfile.TemporaryDirectory(prefix="reports-chromium-") as profile:
        args = _base_args(binary, profile, budget_ms) + [
            "--hide-scrollbars",
            f"--window-size={int(width)},{int(height)}",
            f"--screenshot={out}",
            _url(html_path),
        ]
        cp = _run(args, timeout)
    if not out.is_file() or out.stat().st_size == 0:
        tail = cp.stderr.strip().splitlines()[-1:] if cp.stderr else []
        raise RuntimeError(f"chromium wrote no screenshot to {out} (exit {cp.returncode}) {tail}")
    return out
