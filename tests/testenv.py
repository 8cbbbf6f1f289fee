"""Imported first by every Python test: the device the tests run `vggcl` on is
named by VGGCL_TEST_DEVICE (as for the C suites), never by a VGGCL_DEVICE the
developer happens to have set, which could silently point the tests at the
reference backend. Unset: vggcl's default device (the first GPU, else the
first device). And a test stopped by SIGTERM or SIGHUP (ctest interrupted, a
CI job cancelled) ends like one stopped by Ctrl-C, so its temporary folders
are removed on the way out."""
import os
import re
import signal
import subprocess
import sys


def _stop(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _stop)

_device = os.environ.get("VGGCL_TEST_DEVICE", "")
if _device == "ref":
    sys.exit("VGGCL_TEST_DEVICE must name an OpenCL device, not ref (the tests compare the device with it)")
os.environ["VGGCL_DEVICE"] = _device


def two_devices(vggcl):
    """(environment, name) in which `vggcl` finds exactly two devices, both named name, as in a box of
    identical GPUs: PoCL's CPU device twice (POCL_DEVICES: "cpu" from PoCL 4, "pthread" before), where
    the tests run on PoCL alone; else None (VGGCL_TEST_DEVICE names a device, or another platform lists
    its devices too)."""
    if _device:
        return None
    for driver in ("cpu", "pthread"):
        env = {"POCL_DEVICES": f"{driver} {driver}"}
        r = subprocess.run([str(vggcl), "devices"], capture_output=True, text=True, env=dict(os.environ, **env),
                           timeout=120)
        # each device's first line: index, P:D, type, CUs, memory, max alloc, then "NAME (PLATFORM)"
        names = [m.group(1) for ln in r.stdout.splitlines() if ln[:1].isdigit()
                 for m in [re.search(r" GiB +[0-9.]+ GiB  (.*) \([^()]*\)$", ln)] if m]
        if r.returncode == 0 and len(names) == 2 and names[0] == names[1]:
            return env, names[0]
    return None


_mounts = None


def mount_namespace():
    """Whether this process may make a mount namespace and mount a tmpfs in it (root, util-linux's unshare, and a
    kernel or container that allows it): asked apart from the command a test runs there, so that the command's
    own failure (a crash, a message without the word looked for) is never taken for the namespace refused."""
    global _mounts
    if _mounts is None:
        import shutil
        import tempfile
        _mounts = False
        if os.geteuid() == 0 and shutil.which("unshare"):
            with tempfile.TemporaryDirectory() as d:
                _mounts = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=16k tmpfs "$0" && '
                                          'mount --bind -o ro "$0" "$0"', d], capture_output=True,
                                         timeout=60).returncode == 0
    return _mounts


# Run by run_peak in a new interpreter: forks (a real fork) and runs argv[1:] with stdout on /dev/null,
# then prints the child's exit status and ru_maxrss. A child that a large process (a test that has loaded
# torch) starts by vfork or fork carries that process's RSS into its ru_maxrss (the kernel keeps the old
# memory's high-water mark across exec): the test's own hundreds of MB were counted as vggcl's.
_PEAK = """
import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    try:
        os.execvp(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def run_peak(args, env=None, timeout=1800):
    """Runs args, its output thrown away: (exit status, stderr, the most memory it held, in kB (ru_maxrss),
    its own: started from a small process). Measured, not limited with RLIMIT_AS, under which
    AddressSanitizer cannot reserve its shadow memory."""
    # (its own session, so that a run past the timeout is killed with the interpreter that started it:
    # subprocess.run kills the interpreter alone, and the command ran on)
    with subprocess.Popen([sys.executable, "-c", _PEAK, *(str(a) for a in args)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, env=env, start_new_session=True) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise
    code, peak = (int(v) for v in out.split())
    return code, err, peak
