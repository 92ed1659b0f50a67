"""A SoftHSM2 token for the PKCS#11 custody tests, initialised by the fixture itself.

One token per test process (SoftHSM reads ``SOFTHSM2_CONF`` once, when the module is first
loaded): a private token folder under the session's temp dir, label ``domicile-test``, user
PIN ``PIN``. Tests give their keys distinct ``object`` labels. Missing ``softhsm2-util``
FAILS the test (apt-get install softhsm2), as a missing ``age`` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
)
LABEL = "domicile-test"
PIN = "246813"
SO_PIN = "97531864"


@dataclass(frozen=True)
class SoftHSM:
    module: str
    label: str
    pin: str

    def uri(self, obj: str, *, with_pin: bool = False) -> str:
        """A ``pkcs11:`` URI for root keys labelled ``obj`` in the test token."""
        pin = f"&pin-value={self.pin}" if with_pin else ""
        return f"pkcs11:token={self.label};object={obj}?module-path={self.module}{pin}"


_STATE: list[SoftHSM] = []


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHSM:
    """The test token. Memoized for the process, not only per fixture definition: the
    fixture is imported by several conftests and modules (each import is its own session
    fixture to pytest), and the PKCS#11 module reads ``SOFTHSM2_CONF`` once per process, so
    a second token would be one this process cannot see while subprocesses would."""
    if _STATE:
        return _STATE[0]
    util = shutil.which("softhsm2-util")
    module = next((m for m in MODULE_CANDIDATES if Path(m).exists()), None)
    if util is None or module is None:
        pytest.fail("SoftHSM2 is needed for the PKCS#11 custody tests: apt-get install softhsm2")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # for the whole process and its children
    subprocess.run(
        [util, "--init-token", "--free", "--label", LABEL, "--pin", PIN, "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
    )
    _STATE.append(SoftHSM(module, LABEL, PIN))
    return _STATE[0]
