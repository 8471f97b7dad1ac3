#!/bin/sh
# check_soak.sh: the soak's bounded variant under make check (about 35 s:
# bench/soak/soak.sh --quick), so the soak and its checker cannot rot.
# Exits 77 (skip) when openssl or python3 is missing.
exec "${SHELL:-/bin/sh}" "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/bench/soak/soak.sh" --quick
