#!/usr/bin/python3
"""Start-up times of vggcl: the first `vggcl bench` result with every cache
empty (vggcl's program cache and PoCL's kernel cache in fresh folders), the
same again with those caches warm, and a new batch and image size with them.

    tools/cold_start.py [build/vggcl] [bench options...]

A random VGG16 unless the options name --weights.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tool_cli import run_main  # noqa: E402


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return
    # stopped by SIGTERM: the temporary folders (hundreds of MB) are removed on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/vggcl"
    extra = sys.argv[2:]
    # (--random unless the options give weights: bench refused the two together, and the script with it)
    model = [] if any(len(a.split("=")[0]) > 2 and "--weights".startswith(a.split("=")[0]) for a in extra) \
        else ["--random"]  # (as bench takes it: a unique start of the name, --weights=W too)
    with tempfile.TemporaryDirectory() as vc, tempfile.TemporaryDirectory() as pc:
        env = dict(os.environ, VGGCL_CACHE_DIR=vc, POCL_CACHE_DIR=pc)
        for label, opts in (("cold (every cache empty)", extra), ("warm", extra),
                            ("warm, batch 3 at 200x200", [*extra, "--batch", "3", "--size", "200"])):
            t0 = time.perf_counter()
            r = subprocess.run([binary, "bench", *model, "--iters", "1", "--json", *opts], env=env,
                               capture_output=True, text=True, check=True)
            wall = time.perf_counter() - t0
            j = json.loads(r.stdout)
            # (the first pass's time without the builds, as bench says it: with them it read as a second wait)
            print(f"{label:<26} {wall:6.2f} s in all; programs ready in {j['build_ms'] / 1e3:.2f} s "
                  f"({j['programs_compiled']} compiled); first pass {j['first_pass_without_builds_ms'] / 1e3:.2f} s "
                  "besides")


if __name__ == "__main__":
    run_main(main)
