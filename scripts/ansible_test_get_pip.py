"""Offline stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test builds its sanity virtualenvs without pip, then runs a get-pip script fetched from a
host this machine cannot reach. This stand-in does the same job with what Python ships: ensurepip
installs the bundled pip, then pip installs what ansible-test asked for (from PyPI, which is
reachable). scripts/sanity.sh puts it where ansible-test looks for its cached copy.
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
# get-pip's own options (--no-setuptools, --no-wheel) are not pip options: they mean "do not add those".
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
