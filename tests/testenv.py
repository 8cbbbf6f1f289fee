"""Imported first by every Python test: the device the tests run `vggcl` on is
named by VGGCL_TEST_DEVICE (as for the C suites), never by a VGGCL_DEVICE the
developer happens to have set, which could silently point the tests at the
reference backend. Unset: vggcl's default device (the first GPU, else the
first device). And a test stopped by SIGTERM or SIGHUP (ctest interrupted, a
CI job cancelled) ends like one stopped by Ctrl-C, so its temporary folders
are removed on the way out."""
import os
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
    """The environment in which `vggcl` finds two devices of one name, as in a box of identical GPUs:
    PoCL's CPU device twice (POCL_DEVICES), where the tests run on PoCL; else None (VGGCL_TEST_DEVICE
    names a device, or PoCL is not the first platform)."""
    if _device:
        return None
    env = dict(os.environ, POCL_DEVICES="pthread pthread")
    r = subprocess.run([str(vggcl), "devices"], capture_output=True, text=True, env=env, timeout=120)
    rows = [ln for ln in r.stdout.splitlines() if ln[:1].isdigit()]  # (each device's first line)
    if r.returncode or len(rows) < 2 or not all("  pthread-" in ln for ln in rows[:2]):
        return None
    return {"POCL_DEVICES": "pthread pthread"}
