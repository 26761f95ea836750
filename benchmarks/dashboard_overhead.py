"""How much slower training runs while a browser watches it in the dashboard.

    python benchmarks/dashboard_overhead.py [--rounds 2] [--images 2560] [--epochs 2]

The same run (`dcgan-paper`, 64 px, centre crop, ``--images`` CelebA JPEGs from ../shared/data or built-in
faces when it is absent, ``--epochs`` epochs) is trained in two ways, alternating, ``--rounds`` times each:

- **headless**: ``python -m facegan train`` in a process of its own;
- **dashboard**: ``streamlit run app.py`` (one server for all rounds), the Train page opened in Debian's
  Chromium through Playwright, the settings typed into its form, Start pressed, and the page left open
  with its live panel refreshing until the run's log says it ended.

Both read the same prepared cache (built before the first round). A run's rate is its last epoch's
images / seconds from its own metrics.jsonl (the epoch record's ``epoch_seconds``), so start-up is left
out of both. Also printed: the CPU seconds the server process used during each dashboard round against
the headless process's for the same run (the difference is serving and drawing the page), and that of
Chromium with Playwright's driver. The last line is JSON: ``{"headless": …, "dashboard": …, "ratio": …}``
(images/s, means over the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from data_pipeline import make_images
from train_throughput import process_tree

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and all its descendants so far."""
    total = 0.0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except OSError:
            pass
    return total


def last_epoch_rate(run: Path) -> float:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    start = next(r for r in records if r["kind"] == "start")
    epochs = [r for r in records if r["kind"] == "epoch"]
    return start["steps_per_epoch"] * 128 / epochs[-1]["epoch_seconds"]


def ended(run: Path) -> bool:
    log = run / "metrics.jsonl"
    return log.is_file() and '"kind": "end"' in log.read_text()


def headless(source: str, run: Path, epochs: int, env: dict) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "facegan", "train", "--data", source, "--preset", "dcgan-paper",
                             "--crop", "center", "--epochs", str(epochs), "--run-dir", str(run)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = 0.0
    while proc.poll() is None:
        cpu = max(cpu, cpu_seconds(proc.pid))
        time.sleep(0.2)
    if proc.returncode:
        raise SystemExit(f"headless training failed ({proc.returncode})")
    return {"rate": last_epoch_rate(run), "cpu_s": cpu, "wall_s": time.perf_counter() - t0}


def settle(page, ms: int = 500) -> None:
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=stStatusWidget] [data-testid=stSpinner]')",
                           timeout=60_000)
    page.wait_for_timeout(ms)


def fill(page, key: str, value) -> None:
    box = page.locator(f".st-key-{key.replace('.', '-')} input")
    box.fill(str(value))
    box.press("Enter")
    settle(page, 200)


def dashboard(browser, url: str, server_pid: int, browser_pid: int | None, source: str, run: Path,
              epochs: int) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # a new session: the form as it starts
    page.goto(f"{url}/train", wait_until="domcontentloaded")
    page.get_by_role("heading", name="Train", exact=True).first.wait_for(timeout=60_000)
    settle(page)
    for attempt in range(3):  # the list sometimes opens before the page's last rerun redraws it away
        page.locator(".st-key-train_preset").click()
        try:
            page.get_by_role("option", name="dcgan-paper", exact=True).click(timeout=10_000)
            break
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")
            settle(page)
    settle(page)
    page.get_by_role("tab", name="Data").click()
    page.locator(".st-key-cfg-data-source input").fill(source)
    page.locator(".st-key-cfg-data-source input").press("Enter")
    settle(page, 200)
    page.locator(".st-key-cfg-data-crop").click()
    page.get_by_role("option", name="center", exact=True).click()
    settle(page, 200)
    page.get_by_role("tab", name="Run").click()
    fill(page, "cfg.run.epochs", epochs)
    page.locator(".st-key-train_run_name input").fill(run.name)
    page.locator(".st-key-train_run_name input").press("Enter")
    settle(page, 200)
    server0, browser0, t0 = cpu_seconds(server_pid), cpu_seconds(browser_pid) if browser_pid else 0.0, \
        time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    while not ended(run):
        page.wait_for_timeout(500)  # the page stays open; its live panel refreshes itself
        if time.perf_counter() - t0 > 1800:
            raise SystemExit("the dashboard's run did not end within 30 minutes")
    out = {"rate": last_epoch_rate(run), "cpu_s": cpu_seconds(server_pid) - server0,
           "browser_cpu_s": (cpu_seconds(browser_pid) - browser0) if browser_pid else None,
           "wall_s": time.perf_counter() - t0}
    page.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--images", type=int, default=2560)
    ap.add_argument("--epochs", type=int, default=2)
    args = ap.parse_args()
    if not os.path.exists(CHROMIUM):
        print("needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="facegan-overhead-") as tmp:
        tmp = Path(tmp)
        what = make_images(tmp / "data", args.images)
        source = str(tmp / "data" / "faces")
        env = {**os.environ, "FACEGAN_CACHE_DIR": str(tmp / "cache"), "FACEGAN_RUNS_ROOT": str(tmp / "runs")}
        subprocess.run([sys.executable, "-m", "facegan", "prepare", "--data", source, "--crop", "center"],
                       cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                   "--server.headless", "true", "--server.fileWatcherType", "none"],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    time.sleep(0.3)
            print(f"{what}; {args.epochs} epochs of dcgan-paper at 64 px per run; {os.cpu_count()} CPU cores; "
                  f"{args.rounds} rounds, arms alternating", flush=True)
            rows: dict[str, list[dict]] = {"headless": [], "dashboard": []}
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                    "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                # Playwright's driver, Chromium below it: every child of this process but the server
                browser_pid = next((int(c) for c in _children(os.getpid()) if int(c) != server.pid), None)
                for r in range(args.rounds):
                    h = headless(source, tmp / "runs" / f"headless-{r}", args.epochs, env)
                    rows["headless"].append(h)
                    print(f"  round {r + 1} headless:  {h['rate']:.1f} images/s, {h['cpu_s']:.1f} CPU s", flush=True)
                    d = dashboard(browser, url, server.pid, browser_pid, source, tmp / "runs" / f"dashboard-{r}",
                                  args.epochs)
                    rows["dashboard"].append(d)
                    print(f"  round {r + 1} dashboard: {d['rate']:.1f} images/s, server {d['cpu_s']:.1f} CPU s, "
                          f"Chromium and its driver {d['browser_cpu_s'] or 0:.1f} CPU s", flush=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    mean = {k: sum(r["rate"] for r in v) / len(v) for k, v in rows.items()}
    cpu = {k: sum(r["cpu_s"] for r in v) / len(v) for k, v in rows.items()}
    ratio = mean["dashboard"] / mean["headless"]
    share = (cpu["dashboard"] - cpu["headless"]) / cpu["dashboard"]
    print(f"headless {mean['headless']:.1f} images/s, dashboard {mean['dashboard']:.1f} images/s: ratio {ratio:.3f} "
          f"(goal >= 0.9: {'met' if ratio >= 0.9 else 'NOT met'}); the server used {cpu['dashboard']:.1f} CPU s a run "
          f"against {cpu['headless']:.1f} headless: {100 * share:.1f}% of its CPU went to serving and drawing")
    print(json.dumps({"headless": mean["headless"], "dashboard": mean["dashboard"], "ratio": ratio,
                      "server_cpu_share": share, "rounds": rows}))
    return 0


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


if __name__ == "__main__":
    sys.exit(main())
