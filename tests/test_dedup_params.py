"""LSH band parameters: computed without SciPy, equal to what datasketch's optimizer picks."""

from __future__ import annotations

import subprocess
import sys

import pytest
from datasketch import MinHashLSH

from augment_ft.dedup.near import _LSH_WEIGHTS, NearDeduper, _lsh_params


@pytest.mark.parametrize("num_perm", [16, 64, 128])
def test_band_parameters_equal_datasketchs_choice(num_perm: int) -> None:
    for percent in range(5, 100, 2):
        threshold = percent / 100
        try:
            lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, weights=_LSH_WEIGHTS)
            expected = (lsh.b, lsh.r)
        except ValueError:  # datasketch refuses a single band
            expected = (2, num_perm // 2)
        assert _lsh_params(threshold, num_perm) == expected, threshold


def test_a_near_deduper_does_not_import_scipy() -> None:
    code = (
        "import sys\n"
        "from augment_ft.dedup import NearDeduper\n"
        "NearDeduper(0.9).check_and_add('k', 'some text')\n"
        "print('scipy' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    assert NearDeduper(0.9).bands >= 2
