"""Runs a command slowed down: stopped (SIGSTOP) for all but SHARE of each 50 ms, so that it gets at most that
share of the time a core would give it, whatever else the machine runs. Exits as the command does; SIGTERM,
SIGINT and SIGHUP are passed on to it (continued first). test_mpi's slow rank: a rank niced under a busy
process per core (as it was) took ~60 CPU-seconds of the suite's and slowed whatever ran beside it.

    throttled.py SHARE COMMAND [ARGS...]
"""
import os
import signal
import subprocess
import sys
import time

PERIOD = 0.05


def main():
    share, cmd = float(sys.argv[1]), sys.argv[2:]
    if not 0 < share <= 1 or not cmd:
        sys.exit(__doc__)
    child = subprocess.Popen(cmd)

    def forward(sig, _frame):
        child.send_signal(signal.SIGCONT)
        child.send_signal(sig)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    try:
        while child.poll() is None:
            time.sleep(PERIOD * share)
            child.send_signal(signal.SIGSTOP)
            time.sleep(PERIOD * (1 - share))
            child.send_signal(signal.SIGCONT)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
    rc = child.wait()
    if rc < 0:  # (ended by a signal: this process too, as a shell's exit status shows it)
        signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
