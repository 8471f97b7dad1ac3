#!/bin/sh
# Real clients (/usr/bin/kubectl, python3-kubernetes) against the emulator
# (fidelity.py), run by Debian's python3 ($PYTHON3 from configure, else
# /usr/bin/python3): python3-kubernetes is importable only there.
here=$(dirname "$0")
py=${PYTHON3:-/usr/bin/python3}
case $py in "" | no) py=/usr/bin/python3 ;; esac
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
exec "$py" "$here/fidelity.py"
