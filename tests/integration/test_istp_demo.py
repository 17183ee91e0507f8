"""Every CDF the demo chain archives passes the ISTP check SPDF requires of a delivery."""

from __future__ import annotations

from pathlib import Path

from socstack.export.istp import check_istp


def test_every_archived_demo_cdf_passes_istp(processed_archive: Path) -> None:
    files = sorted((processed_archive / "archive").glob("**/*.cdf"))
    assert len(files) >= 10, f"expected the demo chain's CDFs, found {len(files)}"
    failures = {
        f.relative_to(processed_archive).as_posix(): [str(p) for p in check_istp(f)] for f in files
    }
    assert {name: problems for name, problems in failures.items() if problems} == {}
