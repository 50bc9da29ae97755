#!/usr/bin/env bash
# hfmm pull end to end against a Hub on loopback (tests/support/hub_server.cpp, TLS with its
# own certificate): the cache hfmm verify accepts, --json, exit codes, --local-dir, patterns,
# and a pull killed with SIGKILL that the next run finishes without fetching twice.
#   pull_test.sh /path/to/hfmm /path/to/hfmm_test_hub
set -u
hfmm="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
hub="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
source "$here/checks.sh"
served() { sleep 0.1; cat stats; }  # the server rewrites it every 20 ms

# A repository: small regular files, two LFS files (one of 6 MB), one in a subfolder.
mkdir -p repo/onnx
printf '*.bin filter=lfs diff=lfs merge=lfs -text\n' > repo/.gitattributes
printf '{"model_type": "bert"}' > repo/config.json
head -c 6000000 /dev/urandom > repo/model.bin
head -c 300000 /dev/urandom > repo/onnx/model.onnx
head -c 5000 /dev/urandom > repo/onnx/tokenizer.json
total=$((6000000 + 300000 + 5000 + $(stat -c %s repo/.gitattributes) + $(stat -c %s repo/config.json)))

start_hub() {  # start_hub [options...]: a fresh server; waits for its port
  [ -n "$server" ] && { kill "$server"; wait "$server" 2>/dev/null; }
  rm -f port
  "$hub" --port-file port --cert-file hub.pem --stats-file stats "$@" org/model=repo &
  server=$!
  wait_for_port port
  export HF_ENDPOINT="https://localhost:$(cat port)" SSL_CERT_FILE="$work/hub.pem"
}
start_hub
export MODEL_MANAGER_JSON_PATH="$work/catalog.json" HF_TOKEN=test-token
unset HF_HUB_OFFLINE HF_HUB_CACHE HF_HOME

expect 0 "pull into a cache" "$hfmm" pull org/model --cache cache
contains "5 downloaded" "pull says what it downloaded"
[ "$(served)" -eq "$total" ] || fail "the first pull should fetch $total bytes, the server sent $(served)"
expect 0 "verify the pulled cache" "$hfmm" verify org/model --hf-cache cache
contains "intact: 5 files checked" "verify accepts the pull"
snap=cache/models--org--model/snapshots/c0ffee0000000000000000000000000000000001
[ "$(readlink "$snap/onnx/model.onnx")" = "../../../blobs/$(sha256sum repo/onnx/model.onnx | cut -d' ' -f1)" ] ||
  fail "onnx/model.onnx should link to its sha256 blob: $(readlink "$snap/onnx/model.onnx")"
[ "$(cat cache/models--org--model/refs/main)" = c0ffee0000000000000000000000000000000001 ] || fail "refs/main"
expect 0 "show: pull added the model to the catalog" "$hfmm" show org/model
contains "commit: c0ffee0000000000000000000000000000000001" "the catalog pins the pulled commit"

expect 0 "pull again --json" "$hfmm" --json pull org/model --cache cache
contains '"present":5' "a second pull finds every file"
contains '"bytes_downloaded":0' "a second pull downloads nothing"
[ "$(served)" -eq "$total" ] || fail "a second pull fetched bytes"

expect 0 "pull --local-dir with patterns" "$hfmm" pull org/model --local-dir plain --include 'onnx/' --exclude '*.json'
[ -f plain/onnx/model.onnx ] && [ ! -L plain/onnx/model.onnx ] || fail "--local-dir writes plain files"
[ ! -e plain/onnx/tokenizer.json ] && [ ! -e plain/config.json ] || fail "--include/--exclude select files"
cmp -s plain/onnx/model.onnx repo/onnx/model.onnx || fail "--local-dir bytes"
expect 2 "--cache and --local-dir together" "$hfmm" pull org/model --cache c --local-dir d
expect 1 "a repository the Hub does not have" "$hfmm" --json pull org/missing --cache cache
contains '"failed":1' "--json reports the failed item"
expect 3 "pull --offline has no file contents" "$hfmm" --offline pull org/model --cache cache

# Corrupt the cached blob: the next pull replaces it.
blob=cache/models--org--model/blobs/$(sha256sum repo/model.bin | cut -d' ' -f1)
printf 'X' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
expect 1 "verify finds the corruption" "$hfmm" verify org/model --hf-cache cache
expect 0 "pull repairs it" "$hfmm" pull org/model --cache cache
expect 0 "verify after the repair" "$hfmm" verify org/model --hf-cache cache

# SIGKILL mid-file on a slow link, then a second run: only the missing bytes travel.
start_hub --rate 3000000
"$hfmm" pull org/model --cache killed --concurrency 1 > /dev/null 2>&1 &
puller=$!
partial=
for _ in $(seq 200); do
  partial=$(ls killed/models--org--model/blobs/*.incomplete 2>/dev/null | head -1)
  [ -n "$partial" ] && [ "$(stat -c %s "$partial")" -gt 1000000 ] && break
  sleep 0.05
done
kill -9 "$puller"
wait "$puller" 2>/dev/null
sleep 0.3
[ -n "$partial" ] && [ -f "$partial" ] || fail "the killed pull should leave its partial blob"
have=0
for f in killed/models--org--model/blobs/*; do have=$((have + $(stat -c %s "$f"))); done
before=$(served)
expect 0 "the pull after SIGKILL" "$hfmm" --json pull org/model --cache killed
contains '"resumed":1' "the second run resumes the partial blob"
after=$(served)
[ $((after - before)) -eq $((total - have)) ] ||
  fail "after SIGKILL the second run should fetch $((total - have)) bytes (had $have of $total), it fetched $((after - before))"
expect 0 "verify the resumed cache" "$hfmm" verify org/model --hf-cache killed
[ -z "$(ls killed/models--org--model/blobs/*.incomplete 2>/dev/null)" ] || fail "no partial file stays after a complete pull"

# The same with --range-mb: connections fetch ranges of model.bin ahead into part files; after
# SIGKILL the next run (one connection per file) takes them up and fetches only what it lacks.
start_hub --rate 3000000
"$hfmm" pull org/model --cache ranged --concurrency 4 --range-mb 1 > /dev/null 2>&1 &
puller=$!
for _ in $(seq 200); do
  [ -n "$(ls ranged/models--org--model/blobs/*.incomplete.* 2>/dev/null)" ] &&
    [ "$(cat ranged/models--org--model/blobs/*.incomplete* 2>/dev/null | wc -c)" -gt 2000000 ] && break
  sleep 0.05
done
kill -9 "$puller"
wait "$puller" 2>/dev/null
sleep 0.3
[ -n "$(ls ranged/models--org--model/blobs/*.incomplete.* 2>/dev/null)" ] || fail "the killed ranged pull should leave part files"
have=0 partial_only=0
for f in ranged/models--org--model/blobs/*; do have=$((have + $(stat -c %s "$f"))); done
for f in ranged/models--org--model/blobs/*.incomplete; do partial_only=$((partial_only + $(stat -c %s "$f"))); done
before=$(served)
expect 0 "the ranged pull after SIGKILL" "$hfmm" --json pull org/model --cache ranged
contains '"resumed":1' "the second run takes up the partial blob and its parts"
fetched=$(($(served) - before))
# At least what was missing (the main stream may have appended some of a part already), and
# less than the partial file alone would have left: the parts' bytes were used.
[ "$fetched" -ge $((total - have)) ] && [ "$fetched" -lt $((total - partial_only - 500000)) ] ||
  fail "after SIGKILL the second run fetched $fetched bytes (had $have of $total, $partial_only in the partial file)"
expect 0 "verify the ranged cache" "$hfmm" verify org/model --hf-cache ranged
[ -z "$(ls ranged/models--org--model/blobs/*.incomplete* 2>/dev/null)" ] || fail "no partial or part file stays after a complete pull"

if [ "$failures" -ne 0 ]; then
  echo "$failures pull check(s) failed"
  exit 1
fi
echo "pull end to end: all checks passed"
