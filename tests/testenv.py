"""Imported first by every Python test: the device the tests run `vggcl` on is
named by VGGCL_TEST_DEVICE (as for the C suites), never by a VGGCL_DEVICE the
developer happens to have set, which could silently point the tests at the
reference backend. Unset: vggcl's default device (the first GPU, else the
first device)."""
import os
import sys

_device = os.environ.get("VGGCL_TEST_DEVICE", "")
if _device == "ref":
    sys.exit("VGGCL_TEST_DEVICE must name an OpenCL device, not ref (the tests compare the device with it)")
os.environ["VGGCL_DEVICE"] = _device
