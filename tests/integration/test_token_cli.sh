#!/usr/bin/env bash
# ledgerline-token as a user runs it: a token it prints verifies (with the current or the
# previous secret), a tampered or foreign one does not (exit 1), and missing configuration or
# bad arguments are exit 2 with a message. No servers needed.
set -uo pipefail
cd "$(dirname "$0")/../.."
TOKEN=${LL_TEST_BIN:-build/asan/bin}/ledgerline-token
export LEDGERLINE_JWT_SECRET=test-secret-0123456789abcdef0123456789
passed=0 failed=0
check() { # check NAME CMD...
    local name=$1; shift
    if "$@"; then passed=$((passed + 1)); echo "  ok   $name"
    else failed=$((failed + 1)); echo "  FAIL $name"; fi
}
expect_rc() { local want=$1; shift; "$@" >/dev/null 2>&1; [[ $? == "$want" ]]; }

t=$($TOKEN --sub alice --role customer --ttl 60)
check prints_three_parts grep -Eq '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$' <<<"$t"
check verifies_with_claims grep -q '"sub":"alice","role":"customer"' <<<"$($TOKEN --verify "$t")"
last=${t: -1}; other=A; [[ $last == A ]] && other=B
check tampered_token_exit_1 expect_rc 1 $TOKEN --verify "${t%?}$other"
check other_secret_exit_1 expect_rc 1 env LEDGERLINE_JWT_SECRET=another-secret-0123456789abcdef0123 $TOKEN --verify "$t"
check previous_secret_still_verifies expect_rc 0 env LEDGERLINE_JWT_SECRET=new-secret-0123456789abcdef0123456789 \
    LEDGERLINE_JWT_SECRET_PREVIOUS=$LEDGERLINE_JWT_SECRET $TOKEN --verify "$t"
check unknown_role_exit_2 expect_rc 2 $TOKEN --sub a --role admin
check missing_sub_exit_2 expect_rc 2 $TOKEN --role operator
check ttl_bounded_exit_2 expect_rc 2 $TOKEN --sub a --role operator --ttl 99999999
check unconfigured_secret_exit_2 expect_rc 2 env LEDGERLINE_JWT_SECRET= $TOKEN --sub a --role auditor
check short_secret_refused expect_rc 2 env LEDGERLINE_JWT_SECRET=short $TOKEN --sub a --role auditor
check help_exit_0 expect_rc 0 $TOKEN --help

echo "token_cli: $passed passed, $failed failed"
((failed == 0))
