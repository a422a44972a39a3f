"""What the benchmarks share: the query set, the machine's description, percentiles."""

from __future__ import annotations

import os
import platform
import subprocess
import time

# Questions a researcher of this corpus asks; none is copied from a passage.
QUERIES = [
    "Power of Siberia gas pipeline price negotiations",
    "Russia's turn to the East after Ukraine sanctions",
    "Chinese investment in the Russian Far East",
    "Shanghai Cooperation Organisation security role in Central Asia",
    "arms sales S-400 and Su-35 to China",
    "Belt and Road and the Eurasian Economic Union",
    "trade between China and Russia in 2015",
    "Rosneft oil supply contracts with CNPC",
    "how Chinese scholars see the partnership with Moscow",
    "asymmetry in the relationship, junior partner",
    "Arctic shipping and Yamal LNG",
    "the Five-Year Plan priorities for science and technology",
    "export controls on semiconductors",
    "joint military exercises in the Pacific",
    "public opinion in Russia about China",
    "currency swap and trade in national currencies",
    "Central Asia as a zone of competition",
    "Taiwan and cross-strait tensions",
    "agricultural land leases to Chinese farmers",
    "nuclear energy cooperation Rosatom",
]
# Different words, so warm-up caches nothing the measured queries use.
WARMUP = ["sanctions on banks", "border demarcation agreement", "visa regime for tourists"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    k = max(0, min(len(xs) - 1, int(round(q / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def machine() -> dict:
    """nproc, CPU, memory and the load average now (other people's tests share this machine)."""
    cpu = "unknown"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = float("nan")
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_gb, 1),
        "python": platform.python_version(),
        "load": [round(x, 2) for x in os.getloadavg()],
        "uptime": uptime,
        "time": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def emit(data: dict, json_path: str | None) -> None:
    """Print one result line and append it to the results file (one JSON object a line)."""
    import json

    line = json.dumps(data)
    print(line)
    if json_path:
        with open(json_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def copy_index(index, out):
    """A copy of an index's current generation for an A/B benchmark: (source generation, copy's generation).

    Large read-only files are hard links (so a tool must unlink one before rewriting it), the store a
    real copy (SQLite may write to it); the caller writes its files, then re-keys the manifest.
    """
    import shutil

    from corpus_search import generations

    src = generations.Generations(index).current()
    if src is None:
        raise SystemExit(f"{index} has no current generation")
    if out.exists():
        raise SystemExit(f"{out} exists; remove it first")
    gen = out / src.name
    shutil.copytree(src, gen, copy_function=os.link, ignore=shutil.ignore_patterns("store.sqlite*", "manifest.json"))
    shutil.copy2(src / "store.sqlite", gen / "store.sqlite")
    for name in ("CURRENT", "PUBLISHED"):
        shutil.copy2(index / name, out / name)
    return src, gen
