#!/bin/sh
# Runs the whole test suite under Deno, then the same files under Bun.
# Uses deno and bun from PATH, or fetches the pinned versions from the npm
# registry with npx, so it works on a machine that has only Node.js and npm.
set -u
cd "$(dirname "$0")/.." || exit 2
DENO=${DENO:-$(command -v deno || echo "npx -y deno@2.9.6")}
BUN=${BUN:-$(command -v bun || echo "npx -y bun@1.4.5")}
log_dir=$(mktemp -d)

echo "== deno test ($($DENO --version | head -1))"
$DENO test -A tests/ 2>&1 | tee "$log_dir/deno.log"
deno_status=$?
[ -f "$log_dir/deno.log" ] && grep -q "FAILED\|error:" "$log_dir/deno.log" && deno_status=1

# Bun reads no test timeout from bunfig.toml: give every test a minute by
# default (browser and package tests set longer ones of their own).
echo "== bun test (bun $($BUN --version))"
$BUN test --timeout 60000 2>&1 | tee "$log_dir/bun.log"
bun_status=$?

# Deno counts test steps (node:test's nested tests); Bun counts tests.
strip() { sed 's/\x1b\[[0-9;]*m//g' "$1"; }
deno_pass=$(strip "$log_dir/deno.log" | sed -n 's/.*| [0-9]* passed (\([0-9]*\) steps*).*/\1/p' | tail -1)
deno_fail=$(strip "$log_dir/deno.log" | sed -n 's/.*| \([0-9]*\) failed.*/\1/p' | tail -1)
bun_pass=$(strip "$log_dir/bun.log" | sed -n 's/^ *\([0-9]*\) pass$/\1/p' | tail -1)
bun_fail=$(strip "$log_dir/bun.log" | sed -n 's/^ *\([0-9]*\) fail$/\1/p' | tail -1)
passed=$(( ${deno_pass:-0} + ${bun_pass:-0} ))
failed=$(( ${deno_fail:-0} + ${bun_fail:-0} ))
[ "$deno_status" -ne 0 ] || [ "$bun_status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "deno: ${deno_pass:-0} passed, ${deno_fail:-?} failed; bun: ${bun_pass:-0} passed, ${bun_fail:-?} failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
