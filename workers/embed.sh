#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Writes a C source file holding FILE's bytes, for a page the server
# answers from its own binary: NAME[] (the bytes and a NUL after them),
# NAME_len (without the NUL) and NAME_etag (the POSIX cksum CRC-32 of the
# bytes: the page's entity-tag, so a new page gets a new ETag).  Only
# POSIX tools (od, cksum, wc, sed), so it runs on any build machine.
# Usage: workers/embed.sh FILE NAME HEADER > OUT.c
#   HEADER  the header that declares the three (included, so the compiler
#           checks the definitions against it)
set -eu
[ $# -eq 3 ] || { echo "usage: $0 FILE NAME HEADER" >&2; exit 2; }
file=$1 name=$2 header=$3
crc=$(cksum < "$file" | cut -d ' ' -f 1)
len=$(wc -c < "$file" | tr -d ' ')
printf '/* Made from %s by workers/embed.sh: do not edit. */\n' "$(basename "$file")"
printf '#include "config.h"\n\n#include "%s"\n\n' "$header"
printf 'const char %s[] = {\n' "$name"
od -An -v -tx1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
printf '\t0x00\n};\n'
printf 'const size_t %s_len = %s;\n' "$name" "$len"
printf 'const uint32_t %s_etag = 0x%08xu;\n' "$name" "$crc"
