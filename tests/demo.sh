#!/bin/sh
# demo.sh BUILDDIR: the quick start's demonstration.
set -eu
build=$1
echo "meshca demo: nothing to show yet"
