#!/usr/bin/env bash
# A test that cannot run is reported as skipped, never as passed, and fails a run that
# promised every test (HFMM_REQUIRE_ALL_TESTS=1, as scripts/test sets).
#   skips_test.sh /path/to/hfmm_tests
set -u
tests=$1
failures=0
check() {  # check EXPECTED_CODE "description" env... -- args...
  local want=$1 what=$2
  shift 2
  out=$("$@" 2>&1)
  local rc=$?
  if [ "$rc" -ne "$want" ]; then echo "FAIL: $what: exit $rc, expected $want"; echo "$out" | tail -20; failures=$((failures + 1)); fi
}
unset CI HFMM_REQUIRE_ALL_TESTS
pg_test='postgres: a lost connection gives a clear error'  # (doctest filters split at commas)
check 77 "a PostgreSQL test without a server is a skip" env -u HFMM_TEST_POSTGRES "$tests" -tc="$pg_test*"
echo "$out" | grep -qF "HFMM-SKIP: $pg_test" || { echo "FAIL: the skip does not name the test"; echo "$out"; failures=$((failures + 1)); }
echo "$out" | grep -qF "no PostgreSQL server to test against" || { echo "FAIL: the skip does not say why"; failures=$((failures + 1)); }
echo "$out" | grep -qF "test cases: 1 |" || { echo "FAIL: the filter did not select the one test"; failures=$((failures + 1)); }
check 1 "a required PostgreSQL test without a server fails" env -u HFMM_TEST_POSTGRES HFMM_REQUIRE_ALL_TESTS=1 "$tests" -tc="$pg_test*"
check 1 "in CI too" env -u HFMM_TEST_POSTGRES CI=true "$tests" -tc="$pg_test*"
live='hub_fetcher: live huggingface.co*'
check 0 "the opt-in live-Hub test, not asked for" env -u HFMM_LIVE_HUB "$tests" -tc="$live"
echo "$out" | grep -qF "HFMM-SKIP: hub_fetcher: live huggingface.co" || { echo "FAIL: the opt-in test does not say it did not run"; failures=$((failures + 1)); }
if [ "$failures" -ne 0 ]; then exit 1; fi
echo "skips are reported as skips"
