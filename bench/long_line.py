"""Time and peak memory of ``pssgen check`` on one very long line (a manifest with no newline to cut at).

Reading used to wait for a newline before handing anything out, joining blocks
into one buffer: quadratic time and several times the line in memory. It now
streams the line and stops the document at the 3 MiB object limit.

    python bench/long_line.py --mib 300
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=300, help="length of the line, in MiB")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pssgen-bench-") as folder:
        path = Path(folder) / "line.yaml"
        with path.open("wb") as out:
            out.write(b"a: ")
            block = b"x" * (1 << 20)
            for _ in range(args.mib):
                out.write(block)
            out.write(b"\n")
        started = time.monotonic()
        command = [sys.executable, "-c", "import sys; from generator.cli import main; main(['check', sys.argv[1]])"]
        proc = subprocess.run([*command, str(path)], capture_output=True, text=True, check=False, timeout=3600)
        elapsed = time.monotonic() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{args.mib} MiB on one line: {elapsed:.1f} s, peak RSS {peak:.0f} MiB, exit {proc.returncode}")
    for line in proc.stderr.splitlines()[:2]:
        print(f"  {line[:160]}")


if __name__ == "__main__":
    main()
