#!/bin/sh
# The interpreter `make` builds .venv with (override: `make PYTHON=/path/to/python3`).
#
# The first of these that is CPython >= 3.11 and can make a virtual environment:
#   1. /usr/bin/python3.11, the distribution's build. Debian's is linked statically and built
#      with profile-guided and link-time optimisation; a version manager's default build (pyenv:
#      a shared libpython, neither) ran an ensemble member of the flagship 9 % slower on average
#      (10 pairs run side by side, one per core, 2026-12-07: 298-337 ms against 308-383), with
#      every table of the 14 shipped scenarios identical (the numeric libraries are the same wheels).
#   2. python3.11 on PATH;
#   3. python3 on PATH.
for py in /usr/bin/python3.11 python3.11 python3; do
    if command -v "$py" >/dev/null 2>&1 &&
        "$py" -c 'import sys, platform, venv, ensurepip; sys.exit(not (sys.version_info >= (3, 11) and platform.python_implementation() == "CPython"))' >/dev/null 2>&1; then
        command -v "$py"
        exit 0
    fi
done
echo python3  # none qualified: let `python3 -m venv` say what is missing
