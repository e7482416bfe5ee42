"""Offline stand-in for the pip bootstrap script ansible-test downloads for its sanity venvs.

ansible-test creates each sanity test's virtual environment without pip, then runs
``~/.ansible/test/cache/get_pip_<version>.py`` (fetched from a CI host of the Ansible project, which
is not reachable here) with the arguments of pypa's get-pip.py, e.g.
``--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel``.
hack/ansible-test.sh copies this file to that path when it is missing. It does the same job with what
is reachable: pip from the interpreter's own ``ensurepip``, then the exact versions asked for from PyPI.
"""

from __future__ import annotations

import subprocess
import sys

# get-pip.py options that pip install does not know: they say what not to install.
SKIP_FLAGS = {"--no-setuptools": "setuptools", "--no-wheel": "wheel"}


def split_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Return (pip install arguments, packages to leave out) from get-pip.py's arguments."""
    install = [arg for arg in argv if arg not in SKIP_FLAGS]
    unwanted = [SKIP_FLAGS[arg] for arg in argv if arg in SKIP_FLAGS]
    return install, unwanted


def main() -> None:
    install, unwanted = split_args(sys.argv[1:])
    python = sys.executable
    subprocess.run([python, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    # ensurepip of Python < 3.12 also brings setuptools; get-pip.py would not have when told so.
    for name in unwanted:
        shown = subprocess.run([python, "-m", "pip", "show", "-q", name], capture_output=True, check=False)
        if shown.returncode == 0:
            subprocess.run([python, "-m", "pip", "uninstall", "-q", "-y", name], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", *install], check=True)


if __name__ == "__main__":
    main()
