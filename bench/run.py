"""Run the benchmarks: every ``bench/bench_*.py``, or those named on the command line.

    make bench                      # all of them
    make bench BENCH="import"       # only bench/bench_import.py

Each script is standalone, prints its own table and exits non-zero on failure.
Figures go into docs/performance.md by hand, with the command that made them.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = 0
    for script in scripts:
        print(f"\n=== {script.name}", flush=True)
        failed += subprocess.run([sys.executable, str(script)], check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
