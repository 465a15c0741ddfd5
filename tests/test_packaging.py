"""The distribution: every root folder ships as a ``quidam`` subpackage in a built wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("formats", "workloads", "rtl_gen", "testbenches", "characterize", "models", "pdk", "accuracy")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    (path,) = out.glob("quidam-*.whl")
    return path


def test_wheel_holds_every_subpackage(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("quidam", *(f"quidam/{sub}" for sub in SUBPACKAGES)):
        assert f"{package}/__init__.py" in names, package
    assert "quidam/rtl_gen/mac_signature.py" in names
    assert not any(name.startswith(("tests/", "rtl_gen/")) for name in names)


def test_subpackages_import_from_the_wheel_alone(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = "; ".join(f"import quidam.{sub}" for sub in SUBPACKAGES) + "; import quidam; print(quidam.__file__); print(quidam.rtl_gen.__file__)"
    # -I ignores the editable install and the working directory: only the unpacked wheel provides quidam.
    site = subprocess.run([sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True).stdout.strip()
    bootstrap = f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {site!r}]; " + code
    done = subprocess.run([sys.executable, "-I", "-c", bootstrap], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert all(line.startswith(str(tmp_path)) for line in done.stdout.split())
