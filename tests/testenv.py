"""Imported first by every Python test: the device the tests run `vggcl` on is
named by VGGCL_TEST_DEVICE (as for the C suites), never by a VGGCL_DEVICE the
developer happens to have set, which could silently point the tests at the
reference backend. Unset: vggcl's default device (the first GPU, else the
first device). And a test stopped by SIGTERM or SIGHUP (ctest interrupted, a
CI job cancelled) ends like one stopped by Ctrl-C, so its temporary folders
are removed on the way out."""
import os
import signal
import sys


def _stop(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _stop)

_device = os.environ.get("VGGCL_TEST_DEVICE", "")
if _device == "ref":
    sys.exit("VGGCL_TEST_DEVICE must name an OpenCL device, not ref (the tests compare the device with it)")
os.environ["VGGCL_DEVICE"] = _device
