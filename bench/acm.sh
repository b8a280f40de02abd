#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Access-control decisions (no peer VMM has a MAC policy: the ratio is to the goal).
. "$(dirname "$0")/lib.sh"
"$T/acmbench"
