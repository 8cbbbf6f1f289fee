"""Runs a command slowed down: stopped (SIGSTOP) for all but SHARE of each 50 ms, so that it gets at most that
share of the time a core would give it, whatever else the machine runs. Exits as the command does; SIGTERM,
SIGINT and SIGHUP are passed on to it, after which it runs on unstopped until it ends. test_mpi's slow rank: a
rank niced under a busy process per core (as it was) took ~60 CPU-seconds of the suite's and slowed whatever ran
beside it.

    throttled.py SHARE COMMAND [ARGS...]
"""
import os
import resource
import signal
import subprocess
import sys
import time

PERIOD = 0.05
PASSED_ON = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def main():
    share, cmd = float(sys.argv[1]), sys.argv[2:]
    if not 0 < share <= 1 or not cmd:
        sys.exit(__doc__)
    child, told = None, []

    def forward(sig, _frame):
        told.append(sig)
        if child is not None:
            child.send_signal(signal.SIGCONT)
            child.send_signal(sig)

    # (the handlers before the child: a signal between its start and theirs left it running on alone)
    for sig in PASSED_ON:
        signal.signal(sig, forward)
    child = subprocess.Popen(cmd)
    if told:  # (one came before the child was there to take it)
        child.send_signal(told[0])
    try:
        while not told and child.poll() is None:
            time.sleep(PERIOD * share)
            child.send_signal(signal.SIGSTOP)
            time.sleep(PERIOD * (1 - share))
            child.send_signal(signal.SIGCONT)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGCONT)
    rc = child.wait()
    if rc < 0:  # (ended by a signal: this process too, as a shell's exit status shows it; no second core file)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if -rc not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-rc, signal.SIG_DFL)
        os.kill(os.getpid(), -rc)
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
