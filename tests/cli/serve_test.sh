#!/usr/bin/env bash
# hfmm serve end to end: a repository pulled from a Hub on loopback (tests/support/hub_server.cpp)
# is served from the cache, and real clients use it unchanged — curl (headers, ranges, errors,
# targets that try to leave the cache), hfmm itself (a catalog built through the server equals
# the one it serves; a pull through it verifies) and @huggingface/hub from the npm registry
# (listFiles, modelInfo, fileExists, downloadFile), over HTTP and HTTPS.
#   serve_test.sh /path/to/hfmm /path/to/hfmm_test_hub
set -u
hfmm="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
hub="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
source "$here/checks.sh"

# A repository: regular files, an LFS file of 3 MB, a subfolder.
mkdir -p repo/onnx/deep
printf '*.bin filter=lfs diff=lfs merge=lfs -text\n' > repo/.gitattributes
printf '{"model_type": "bert"}' > repo/config.json
head -c 3000000 /dev/urandom > repo/model.bin
head -c 300000 /dev/urandom > repo/onnx/model.onnx
head -c 5000 /dev/urandom > repo/onnx/deep/tokenizer.json
commit=c0ffee0000000000000000000000000000000001
"$hub" --port-file hub.port --cert-file hub.pem org/model=repo > /dev/null 2>&1 &
pids+=($!)
wait_for_port hub.port || { echo "FAIL: the test Hub did not start"; exit 1; }
unset HF_HUB_OFFLINE HF_HUB_CACHE HF_HOME
export HF_TOKEN=test-token
HF_ENDPOINT="https://localhost:$(cat hub.port)" SSL_CERT_FILE="$work/hub.pem" MODEL_MANAGER_JSON_PATH="$work/catalog.json" \
  expect 0 "pull from the Hub" "$hfmm" pull org/model --cache cache

# The server, from that catalog and cache.
"$hfmm" --store catalog.json serve --cache cache --listen 127.0.0.1:0 --port-file serve.port 2> serve.log &
server=$!
pids+=("$server")
wait_for_port serve.port || { echo "FAIL: hfmm serve did not start"; cat serve.log; exit 1; }
url="http://127.0.0.1:$(cat serve.port)"
sha=$(sha256sum repo/model.bin | cut -d' ' -f1)

# ---- curl: answers and headers as the Hub gives them
expect 0 "revision" curl -sf "$url/api/models/org/model/revision/main?blobs=true"
contains "\"sha\":\"$commit\"" "the revision answer pins the commit"
contains '"rfilename":"onnx/deep/tokenizer.json"' "siblings list nested files"
contains "\"lfs\":{\"sha256\":\"$sha\",\"size\":3000000" "blobs=true gives LFS digests"
expect 0 "HEAD resolve" curl -sfI "$url/org/model/resolve/main/model.bin"
contains "X-Repo-Commit: $commit" "resolve says the commit"
contains "ETag: \"$sha\"" "an LFS file's ETag is its sha256"
contains "X-Linked-Size: 3000000" "resolve says the size"
contains "Accept-Ranges: bytes" "resolve takes ranges"
lacks "X-Xet-Hash" "no Xet endpoint is announced"
expect 0 "GET resolve" curl -sf -o got.bin "$url/org/model/resolve/$commit/model.bin"
cmp -s got.bin repo/model.bin || fail "the served bytes differ from the file"
expect 0 "a range" curl -sf -D headers.txt -o part.bin -H "Range: bytes=1000-1999" "$url/org/model/resolve/main/model.bin"
contains "206" "a range is a 206" headers.txt
contains "Content-Range: bytes 1000-1999/3000000" "Content-Range" headers.txt
cmp -s part.bin <(tail -c +1001 repo/model.bin | head -c 1000) || fail "the range's bytes"
expect 0 "a suffix range" curl -sf -o tail.bin -H "Range: bytes=-10" "$url/org/model/resolve/main/model.bin"
cmp -s tail.bin <(tail -c 10 repo/model.bin) || fail "the suffix range's bytes"
expect 0 "If-Range naming another version" curl -sf -D headers.txt -o whole.bin -H "Range: bytes=0-9" -H 'If-Range: "other"' \
  "$url/org/model/resolve/main/model.bin"
contains "200 OK" "If-Range with another ETag gives the whole file" headers.txt
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Range: bytes=3000000-" "$url/org/model/resolve/main/model.bin")
[ "$code" = 416 ] || fail "a range past the end should be 416, got $code"
curl -s -D headers.txt -o /dev/null "$url/org/model/resolve/main/no-such-file.txt"
contains "X-Error-Code: EntryNotFound" "a path the catalog lacks" headers.txt
curl -s -D headers.txt -o /dev/null "$url/api/models/org/other/revision/main"
contains "X-Error-Code: RepoNotFound" "a repository the catalog lacks" headers.txt
curl -s -D headers.txt -o /dev/null "$url/api/models/org/model/revision/v2"
contains "X-Error-Code: RevisionNotFound" "a revision the catalog does not pin" headers.txt
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/api/whoami-v2")
[ "$code" = 401 ] || fail "whoami-v2 without a token should be 401, got $code"
expect 0 "raw of an LFS file is its pointer" curl -sf "$url/org/model/raw/main/model.bin"
contains "oid sha256:$sha" "the pointer names the sha256"
expect 0 "refs" curl -sf "$url/api/models/org/model/refs"
contains "\"targetCommit\":\"$commit\"" "refs gives the pinned branch"
expect 0 "paths-info" curl -sf -d "paths=onnx&paths=config.json&paths=nope" "$url/api/models/org/model/paths-info/main"
contains '"path":"onnx"' "paths-info gives folders"
contains '"path":"config.json"' "paths-info gives files"
lacks '"path":"nope"' "paths-info leaves out what is not there"
# Targets that try to leave the cache: never a 200, never a byte of the file outside.
echo "secret" > secret.txt
for target in "/org/model/resolve/main/../../../secret.txt" "/org/model/resolve/main/%2e%2e/%2e%2e/secret.txt" \
              "/org/model/resolve/main/..%2F..%2Fsecret.txt" "/org/model/resolve/main//etc/passwd" \
              "/../../../../etc/passwd" "/org/model/resolve/main/%2Fetc%2Fpasswd" "/api/models/../../etc/passwd"; do
  code=$(curl -s --path-as-is -o body.txt -w '%{http_code}' "$url$target")
  [ "$code" = 404 ] || fail "$target: expected 404, got $code"
  lacks "secret" "$target" body.txt
  lacks "root:" "$target" body.txt
done

# Tree pages: follow Link to the end; every file and folder once.
next="$url/api/models/org/model/tree/main?recursive=true&limit=2"
: > listed.txt
pages=0
while [ -n "$next" ] && [ "$pages" -lt 20 ]; do
  curl -sf -D headers.txt -o page.json "$next" || { fail "tree page $next"; break; }
  python3 -c 'import json,sys; [print(e["type"], e["path"]) for e in json.load(open("page.json"))]' >> listed.txt
  next=$(sed -n 's/^Link: <\(.*\)>; rel="next".*/\1/p' headers.txt | tr -d '\r')
  pages=$((pages + 1))
done
[ "$pages" -eq 4 ] || fail "7 entries at 2 a page should be 4 pages, got $pages"
[ "$(sort listed.txt | uniq | wc -l)" -eq 7 ] && [ "$(wc -l < listed.txt)" -eq 7 ] || { fail "the pages should list 7 entries once"; cat listed.txt; }
contains "directory onnx/deep" "nested folders are listed" listed.txt

# ---- hfmm as a client: the catalog built through the server is the one it serves.
export HF_ENDPOINT="$url"
MODEL_MANAGER_JSON_PATH="$work/mirror.json" expect 0 "add through the server" "$hfmm" add org/model
"$hfmm" --store catalog.json lock org/model > served.lock
"$hfmm" --store mirror.json lock org/model > mirror.lock
cmp -s served.lock mirror.lock || { fail "the catalog built through hfmm serve differs"; diff served.lock mirror.lock | head; }
MODEL_MANAGER_JSON_PATH="$work/mirror.json" expect 0 "pull through the server" "$hfmm" pull org/model --cache cache2
MODEL_MANAGER_JSON_PATH="$work/mirror.json" expect 0 "verify the pull through the server" "$hfmm" verify org/model --hf-cache cache2
cmp -s "cache2/models--org--model/blobs/$sha" repo/model.bin || fail "the blob pulled through the server"
unset HF_ENDPOINT

# ---- @huggingface/hub, pinned in tests/cli/hfjs/package.json, from the npm registry.
hfjs_ok=0
if command -v npm > /dev/null && command -v node > /dev/null; then
  cp "$here/hfjs/package.json" "$here/hfjs/package-lock.json" "$here/hfjs/serve_client.mjs" "$work/"
  if npm ci --no-audit --no-fund --silent > npm.log 2>&1; then hfjs_ok=1; else cat npm.log; fi
fi
if [ "$hfjs_ok" -eq 1 ]; then
  expect 0 "@huggingface/hub against hfmm serve" node serve_client.mjs "$url" org/model js
  python3 - "$commit" > check.txt 2>&1 <<'PY' || { fail "@huggingface/hub's view"; cat check.txt out.txt; }
import json, os, sys
r = json.load(open("out.txt"))
assert r["sha"] == sys.argv[1], r["sha"]
files = sorted(e["path"] for e in r["files"] if e["type"] == "file")
folders = sorted(e["path"] for e in r["files"] if e["type"] == "directory")
want = sorted(os.path.relpath(os.path.join(d, f), "repo") for d, _, fs in os.walk("repo") for f in fs)
assert files == want, (files, want)
assert folders == ["onnx", "onnx/deep"], folders
for path in want:
    assert open(os.path.join("js", path), "rb").read() == open(os.path.join("repo", path), "rb").read(), path
assert r["missing"] is False
assert "not found" in r["otherRepo"].lower(), r["otherRepo"]
PY
elif [ -n "${HFMM_REQUIRE_ALL_TESTS:-}" ]; then
  fail "@huggingface/hub could not be installed (node, npm and the npm registry are needed)"
else
  echo "HFMM-SKIP: no node/npm or no npm registry here: the @huggingface/hub leg did not run"
  skipped=1
fi

# ---- HTTPS with --tls-cert/--tls-key, and a token allow-list.
openssl req -x509 -newkey rsa:2048 -nodes -keyout tls.key -out tls.pem -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost > /dev/null 2>&1
"$hfmm" --store catalog.json serve --cache cache --listen 127.0.0.1:0 --port-file tls.port --tls-cert tls.pem --tls-key tls.key \
  --token fleet-token 2> tls.log &
pids+=($!)
wait_for_port tls.port || { echo "FAIL: hfmm serve over TLS did not start"; cat tls.log; exit 1; }
turl="https://localhost:$(cat tls.port)"
code=$(curl -s --cacert tls.pem -o /dev/null -w '%{http_code}' "$turl/api/models/org/model")
[ "$code" = 401 ] || fail "without the token: expected 401, got $code"
expect 0 "with the token over TLS" curl -sf --cacert tls.pem -H "Authorization: Bearer fleet-token" -o tls.bin \
  "$turl/org/model/resolve/main/model.bin"
cmp -s tls.bin repo/model.bin || fail "the bytes over TLS"
expect 0 "whoami-v2 with the token" curl -sf --cacert tls.pem -H "Authorization: Bearer fleet-token" "$turl/api/whoami-v2"

# ---- --local-dir: plain files at DIR/ID/PATH (as hfmm pull ID --local-dir DIR/ID writes them).
HF_ENDPOINT="$url" MODEL_MANAGER_JSON_PATH="$work/catalog.json" \
  expect 0 "pull into a local directory" "$hfmm" pull org/model --local-dir plain/org/model --exclude 'onnx/'
"$hfmm" --store catalog.json serve --local-dir plain --listen 127.0.0.1:0 --port-file plain.port 2> plain.log &
pids+=($!)
wait_for_port plain.port || { echo "FAIL: hfmm serve --local-dir did not start"; cat plain.log; exit 1; }
purl="http://127.0.0.1:$(cat plain.port)"
expect 0 "a file from the local directory" curl -sf -o plain.bin -H "Range: bytes=10-" "$purl/org/model/resolve/main/model.bin"
cmp -s plain.bin <(tail -c +11 repo/model.bin) || fail "the local directory's bytes"
curl -s -D headers.txt -o body.txt "$purl/org/model/resolve/main/onnx/model.onnx"
contains "404" "a file the local directory lacks" headers.txt
contains "hfmm pull org/model" "the 404 says what to do" body.txt

# ---- SIGTERM stops the server cleanly, and each request had its log line.
kill -TERM "$server"
for _ in $(seq 100); do kill -0 "$server" 2> /dev/null || break; sleep 0.05; done
if kill -0 "$server" 2> /dev/null; then fail "hfmm serve is still running 5 s after SIGTERM"
else wait "$server"; rc=$?; [ "$rc" -eq 0 ] || fail "hfmm serve exited $rc after SIGTERM"; fi
contains '"GET /org/model/resolve/main/model.bin" 206 1000' "the request log" serve.log

if [ "$failures" -ne 0 ]; then
  echo "$failures serve check(s) failed"
  exit 1
fi
echo "serve end to end: all checks passed"
[ -n "${skipped:-}" ] && exit 77
exit 0
