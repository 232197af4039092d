"""Streaming memory: a large JSONL corpus through split + dedup + writer, peak RSS and MB/s.

Run: .venv/bin/python benchmarks/streaming_memory.py [--mb 1000] [--keep] [-- EXTRA CLI FLAGS]
     e.g. ... --mb 200 -- --no-near-dedup

It writes a synthetic corpus of ``--mb`` megabytes (documents of 4-8 made-up sentences,
each with a name and a year) into a temporary directory, runs ``augment-ft run --strategies
split --backend scripted`` on it in a child process (originals kept, exact and near
dedup on: the defaults), and deletes everything afterwards unless ``--keep``. The child's
RSS is sampled every second; printed are its peak (VmHWM), the input MB/s, and the RSS
growth per example written, from a straight-line fit of RSS against examples written
(the ``.ids`` files grow by one line per example), since what dedup and resume must
remember grows with the number of examples, not with the bytes read.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = 300
_WRAPPER = """
import sys
from augment_ft.cli import main
code = main(sys.argv[1:])
for line in open("/proc/self/status"):
    if line.startswith("VmHWM"):
        sys.stderr.write("PEAK_KB " + line.split()[1] + "\\n")
sys.exit(code)
"""


def generate(path: Path, megabytes: float, seed: int = 0) -> int:
    """Write about ``megabytes`` MB of JSONL documents; return how many."""
    rng = random.Random(seed)
    syllables = "zor bel quin dar ub rik fle mit dra xon tal ve lo mar sen ith ka rou pel nim"
    syl = syllables.split()
    vocab = ["".join(rng.choices(syl, k=rng.randint(1, 3))) for _ in range(30_000)]
    names = [w.capitalize() for w in vocab[:3000]]
    verbs = ["is larger than", "lives near", "is a kind of", "was founded by", "trades with"]
    target, written, count = int(megabytes * 1e6), 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while written < target:
            sentences = []
            for _ in range(rng.randint(4, 8)):
                words = " ".join(rng.choices(vocab, k=rng.randint(5, 12)))
                year = rng.randint(1000, 2025)
                sentences.append(f"{rng.choice(names)} {rng.choice(verbs)} {words} in {year}.")
            line = json.dumps({"id": f"d{count}", "text": " ".join(sentences)}) + "\n"
            handle.write(line)
            written += len(line)
            count += 1
    return count


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def lines_in(path: Path) -> int:
    """Examples written so far: ids are 20-byte lines (``ex-`` + 16 hex + newline)."""
    return path.stat().st_size // 20 if path.exists() else 0


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(
    corpus: Path, folder: Path, extra: list[str]
) -> tuple[float, int, list[tuple[float, int, int]]]:
    out = folder / "out" / "t.jsonl"
    command = [
        sys.executable, "-c", _WRAPPER, "run", str(corpus), "-o", str(out),
        "--strategies", "split", "--backend", "scripted", "--report", str(folder / "r.json"),
        "-q", *extra,
    ]  # fmt: skip
    ids = out.with_name(out.name + ".ids")
    samples: list[tuple[float, int, int]] = []
    start = time.perf_counter()
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as child:
        while child.poll() is None:
            samples.append((time.perf_counter() - start, rss_kb(child.pid), lines_in(ids)))
            time.sleep(1.0)
        err = child.stderr.read() if child.stderr else ""
    wall = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"augment-ft failed ({child.returncode}):\n{err}")
    peak = int(err.split("PEAK_KB ")[1].split()[0])
    return wall, peak, samples


def slope(samples: list[tuple[float, int, int]]) -> float:
    """Least-squares bytes of RSS per example written, over the second half of the run."""
    points = [(n, kb * 1024) for _, kb, n in samples[len(samples) // 2 :] if n > 0 and kb > 0]
    if len(points) < 3:
        return float("nan")
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else float("nan")


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=1000.0, help="corpus size in MB")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="augment-ft-stream-"))
    try:
        corpus = folder / "corpus.jsonl"
        began = time.perf_counter()
        docs = generate(corpus, args.mb)
        size = corpus.stat().st_size / 1e6
        made_in = time.perf_counter() - began
        print(f"corpus: {size:,.0f} MB, {docs:,} documents, made in {made_in:.0f} s")
        print(
            f"{os.cpu_count()} CPUs; {load()}; extra flags: {' '.join(extra) or 'none'}", flush=True
        )
        wall, peak_kb, samples = run(corpus, folder, extra)
        report = json.loads((folder / "r.json").read_text(encoding="utf-8"))
        made = sum(report["examples_by_kind"].values())
        written = sum(report["examples_written"].values())
        outputs = sum(p.stat().st_size for p in (folder / "out").iterdir()) / 1e6
        print(f"examples made {made:,}, written {written:,}, drops {report['drops']}")
        print(f"output files {outputs:,.0f} MB; wall {wall:.0f} s; {load()}")
        for t, kb, n in samples[:: max(1, len(samples) // 8)] + samples[-1:]:
            print(f"  t={t:6.0f} s  RSS {kb / 1024:7.0f} MB  examples written {n:>11,}")
        peak = peak_kb / 1024
        verdict = "meets" if peak < TARGET_MB else "MISSES"
        print(
            f"peak RSS {peak:,.0f} MB ({verdict} the {TARGET_MB} MB target); "
            f"{size / wall:.2f} MB/s input; {made / wall:,.0f} examples/s; "
            f"RSS growth {slope(samples):.0f} bytes per example written"
        )
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
