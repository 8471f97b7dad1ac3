#!/bin/sh
# The emulator's HTTP-level conformance test (conformance.py), run by
# Debian's python3 ($PYTHON3 from configure, else /usr/bin/python3).
here=$(dirname "$0")
py=${PYTHON3:-/usr/bin/python3}
case $py in "" | no) py=/usr/bin/python3 ;; esac
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec "$py" "$here/conformance.py"
