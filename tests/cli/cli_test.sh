#!/usr/bin/env bash
# The hfmm tool end to end, offline on the bundled recordings: commands, --json, exit codes.
#   cli_test.sh /path/to/hfmm
set -u
hfmm="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"  # absolute: the script changes directory
recorded="$(cd "$(dirname "$0")/../data/hub" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
skips=0
# A leg that cannot run here says so: "HFMM-SKIP: why", and the script exits 77 (CTest's
# SKIP_RETURN_CODE, meson's skip) unless something failed; when every test is required
# (HFMM_REQUIRE_ALL_TESTS=1, as scripts/test sets, or CI) it is a failure.
skip() {
  if [ "${HFMM_REQUIRE_ALL_TESTS:-0}" != 0 ] || { [ -n "${CI:-}" ] && [ "${CI}" != false ] && [ "${CI}" != 0 ]; }; then
    echo "FAIL: required check cannot run: $1"; failures=$((failures + 1))
  else
    echo "HFMM-SKIP: $1"; skips=$((skips + 1))
  fi
}
expect() {  # expect CODE "description" command...
  local code=$1 what=$2
  shift 2
  "$@" > out.txt 2> err.txt
  local rc=$?
  if [ "$rc" -ne "$code" ]; then
    echo "FAIL: $what: exit $rc, expected $code"; cat out.txt err.txt; failures=$((failures + 1))
  fi
}
contains() {  # contains "text" "description"
  if ! grep -qF -- "$1" out.txt; then
    echo "FAIL: $2: output lacks '$1'"; cat out.txt; failures=$((failures + 1))
  fi
}

export MODEL_MANAGER_JSON_PATH="$work/catalog.json"
expect 0 "add offline" "$hfmm" --offline add wzshiming/gpt2 google-bert/bert-base-uncased
contains "wzshiming/gpt2: 26 files, 5.6 GB, commit ae329b6937f31305a0d6c6779f6cd4072cc4097e" "add prints totals"
expect 1 "add a missing repo" "$hfmm" --offline add wzshiming/does-not-exist
expect 0 "hash" "$hfmm" hash wzshiming/gpt2 config.json
contains "10c66461e4c109db5a2196bff4bb59be30396ed8" "hash prints the oid"
expect 0 "hash --json" "$hfmm" --json hash wzshiming/gpt2 model.safetensors
contains '"sha256":"248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"' "hash --json has the sha256"
expect 1 "hash of a missing path" "$hfmm" hash wzshiming/gpt2 nope.txt
expect 1 "hash of a missing model" "$hfmm" hash nobody/nothing config.json
expect 0 "files --ext" "$hfmm" files wzshiming/gpt2 --ext .onnx
[ "$(wc -l < out.txt)" -eq 3 ] || { echo "FAIL: files --ext .onnx should list 3"; failures=$((failures + 1)); }
expect 0 "files --glob" "$hfmm" files wzshiming/gpt2 --glob 'onnx/*.json'
[ "$(wc -l < out.txt)" -eq 6 ] || { echo "FAIL: files --glob onnx/*.json should list 6"; failures=$((failures + 1)); }
expect 0 "with-file" "$hfmm" with-file CONFIG.JSON
contains "google-bert/bert-base-uncased" "with-file is case-insensitive"
expect 1 "with-file finds nothing" "$hfmm" with-file nonexistent.file
lacks() {  # lacks "text" "description"
  if grep -qF -- "$1" out.txt; then
    echo "FAIL: $2: output has '$1'"; cat out.txt; failures=$((failures + 1))
  fi
}
list_checks() {  # list_checks STORE: the catalog's models by their own fields
  expect 0 "list, $1" "$hfmm" --store "$1" list
  contains "wzshiming/gpt2" "list names every model, $1"
  contains "google-bert/bert-base-uncased" "list names every model, $1"
  expect 0 "list --architecture, $1" "$hfmm" --store "$1" list --architecture GPT2LMHeadModel
  contains "wzshiming/gpt2" "list --architecture, $1"
  lacks "google-bert/bert-base-uncased" "list --architecture, $1"
  expect 0 "list --match, $1" "$hfmm" --store "$1" list --match BERT-BASE
  contains "google-bert/bert-base-uncased" "list --match is case-insensitive, $1"
  lacks "wzshiming/gpt2" "list --match, $1"
  expect 1 "list --architecture finds nothing, $1" "$hfmm" --store "$1" list --architecture gpt2lmheadmodel
  expect 1 "list --match finds nothing, $1" "$hfmm" --store "$1" list --match 'no such "text" %'
}
list_checks "$MODEL_MANAGER_JSON_PATH"
expect 2 "list --type of no type" "$hfmm" list --type nonsense
expect 2 "list --input of no data type" "$hfmm" list --input nonsense
expect 0 "stats --json" "$hfmm" --json stats
contains '"total_models":2' "stats counts models"
contains '"total_tracked_files":31' "stats counts files"
expect 0 "show" "$hfmm" show wzshiming/gpt2
contains "commit: ae329b6937f31305a0d6c6779f6cd4072cc4097e" "show prints the commit"
# The model info of the recorded revision answer, kept by add.
contains "architecture: GPT2LMHeadModel" "add keeps the Hub's architecture"
contains "license: mit" "add keeps the Hub's licence"
contains "parameters: 137022720" "add keeps the parameter count"
expect 0 "show --json" "$hfmm" --json show wzshiming/gpt2
contains '"model_info":{"gated":false,"private":false,"disabled":false' "the model info is stored inside the structure"
contains '"tags":["pytorch","tf","jax"' "add keeps the Hub's tags"
expect 0 "refresh --all (unchanged)" "$hfmm" --offline refresh --all
contains "2 refreshed, 0 changed, 0 failed, 2 requests" "an unchanged refresh costs one request per repo"
expect 0 "refresh one model (unchanged)" "$hfmm" --offline refresh wzshiming/gpt2
contains "wzshiming/gpt2: unchanged, commit ae329b6937f31305a0d6c6779f6cd4072cc4097e" "refresh ID reports the commit"
# A model pinned to an older commit: refresh ID (found by a scan, not a load) stores the new one.
"$hfmm" export "$work/old-pin.json" > /dev/null
sed -i 's/ae329b6937f31305a0d6c6779f6cd4072cc4097e/0000000000000000000000000000000000000000/g' "$work/old-pin.json"
expect 0 "refresh a model whose commit moved" "$hfmm" --offline --store "$work/old-pin.json" refresh wzshiming/gpt2 google-bert/bert-base-uncased
contains "wzshiming/gpt2: updated, commit ae329b6937f31305a0d6c6779f6cd4072cc4097e" "refresh ID notices the moved commit"
expect 0 "the refreshed commit is stored" "$hfmm" --store "$work/old-pin.json" show wzshiming/gpt2
contains "commit: ae329b6937f31305a0d6c6779f6cd4072cc4097e" "show after refresh ID"
expect 0 "the refresh kept history" "$hfmm" --store "$work/old-pin.json" diff wzshiming/gpt2 --previous
expect 1 "refresh a model not in the catalog" "$hfmm" --offline --store "$work/old-pin.json" refresh nobody/nothing
# Scripts can rely on it: global options after the command, --version, batches that go on.
expect 0 "global options after the command" "$hfmm" hash wzshiming/gpt2 model.safetensors --json
contains '"sha256":"248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"' "--json after the command"
expect 0 "--version" "$hfmm" --version
contains "hfmm 0." "--version names the version"
expect 1 "add goes on past a failure" "$hfmm" --offline --store "$work/batch.json" add wzshiming/gpt2 nobody/missing google-bert/bert-base-uncased
contains "google-bert/bert-base-uncased: 5 files" "the model after the failure was added"
grep -qF "not in the bundled recordings" err.txt || { echo "FAIL: --offline add of an unrecorded repo does not say so"; cat err.txt; failures=$((failures + 1)); }
# An id that is not a Hub repo id is refused with the rule it breaks; the rest is added.
expect 2 "add refuses an invalid id and goes on" "$hfmm" --json --offline --store "$work/ids.json" add "my org/my model" ../etc/passwd wzshiming/gpt2 --concurrency 2
contains '"model_id":"my org/my model","ok":false,"error":{"code":"invalid_argument"' "the invalid id is an item that failed"
contains 'may hold only letters, digits' "the detail names the rule"
contains '"model_id":"wzshiming/gpt2","repo_type":"model"' "the valid id after it was added"
contains '"failed":2' "two items failed"
expect 0 "the invalid ids were not stored" "$hfmm" --json --store "$work/ids.json" stats
contains '"total_models":1' "only the valid id is in the catalog"
if grep -qF "HF_TOKEN" err.txt; then echo "FAIL: --offline advises HF_TOKEN"; failures=$((failures + 1)); fi
expect 0 "both stored" "$hfmm" --store "$work/batch.json" --json stats
contains '"total_models":2' "the batch stored the two it could"
if ! command -v python3 > /dev/null; then
  skip "--json output parsed as one document: python3 is missing"
else
  # Every command with --json prints exactly one JSON document, whether it succeeds or fails.
  one_document() {  # one_document CODE "description" args...
    local code=$1 what=$2
    shift 2
    expect "$code" "$what" "$@"
    python3 - "$what" out.txt <<'PY' || failures=$((failures + 1))
import json, sys
text = open(sys.argv[2]).read()
try:
    doc = json.loads(text)
except ValueError as e:
    sys.exit(f"FAIL: {sys.argv[1]}: --json printed no single JSON document ({e}): {text[:300]!r}")
if "error" in doc and not {"code", "message"} <= set(doc["error"]):
    sys.exit(f"FAIL: {sys.argv[1]}: the error document lacks code or message: {doc}")
PY
  }
  s="$work/one-doc.json"
  one_document 0 "add --json" "$hfmm" --json --offline --store "$s" add wzshiming/gpt2 google-bert/bert-base-uncased
  one_document 1 "add --json with a failure" "$hfmm" --json --offline --store "$s" add wzshiming/gpt2 nobody/missing
  contains '"failed":1' "the batch counts its failure"
  contains '"code":"unauthorized"' "the failed item has a code"
  one_document 0 "show --json" "$hfmm" --store "$s" show wzshiming/gpt2 --json
  one_document 1 "show --json of a missing model" "$hfmm" --store "$s" show nobody/nothing --json
  contains '"code":"model_not_found"' "a missing model's code"
  one_document 0 "files --json" "$hfmm" --store "$s" --json files wzshiming/gpt2 --ext .onnx
  one_document 0 "hash --json" "$hfmm" --store "$s" --json hash wzshiming/gpt2 config.json
  one_document 1 "hash --json of a missing path" "$hfmm" --store "$s" --json hash wzshiming/gpt2 nope.txt
  one_document 0 "with-file --json" "$hfmm" --store "$s" --json with-file config.json
  one_document 1 "with-file --json, nothing found" "$hfmm" --store "$s" --json with-file nonexistent.file
  one_document 0 "stats --json" "$hfmm" --store "$s" --json stats
  one_document 0 "refresh --json" "$hfmm" --store "$s" --json --offline refresh wzshiming/gpt2
  one_document 1 "refresh --json, one missing" "$hfmm" --store "$s" --json --offline refresh wzshiming/gpt2 nobody/nothing
  one_document 0 "refresh --all --json" "$hfmm" --store "$s" --json --offline refresh --all
  one_document 0 "diff --json" "$hfmm" --store "$s" --json --offline diff wzshiming/gpt2
  one_document 1 "diff --previous --json without history" "$hfmm" --store "$s" --json diff wzshiming/gpt2 --previous
  one_document 0 "similar --json" "$hfmm" --store "$s" --json similar wzshiming/gpt2
  one_document 0 "dupes --json" "$hfmm" --store "$s" --json dupes
  one_document 0 "export --json" "$hfmm" --store "$s" --json export "$work/one-doc-export.json"
  one_document 0 "import --json" "$hfmm" --store "$work/one-doc-2.json" --json import "$work/one-doc-export.json"
  one_document 1 "import --json of a missing file" "$hfmm" --store "$s" --json import "$work/missing.json"
  one_document 0 "compact --json" "$hfmm" --store "$s" --json compact
  one_document 1 "verify --json of a missing model" "$hfmm" --store "$s" --json verify nobody/nothing "$work"
  one_document 0 "lock --json" "$hfmm" --store "$s" --json lock wzshiming/gpt2 -o "$work/one-doc.lock"
  echo '{"deny_pickle": true}' > "$work/one-doc-policy.json"
  one_document 1 "audit --json" "$hfmm" --store "$s" --json audit --policy "$work/one-doc-policy.json"
  mkdir -p "$work/empty-cache"
  one_document 3 "verify --lock --json, the repo not in the cache" "$hfmm" --json verify --lock "$work/one-doc.lock" --hf-cache "$work/empty-cache"
  one_document 2 "a usage error with --json" "$hfmm" --json hash
  contains '"code":"usage"' "a usage error's code"
  one_document 2 "an unknown command with --json" "$hfmm" no-such-command --json
  echo "{broken" > broken-for-json.json
  one_document 3 "a corrupt store with --json" "$hfmm" --store broken-for-json.json --json stats
  contains '"code":"storage_corrupt"' "a corrupt store's code"
fi
expect 0 "diff upstream" "$hfmm" --offline diff wzshiming/gpt2
contains "26 unchanged" "diff against upstream"
expect 1 "diff --previous without history" "$hfmm" diff wzshiming/gpt2 --previous
expect 0 "similar" "$hfmm" --json similar wzshiming/gpt2
contains "google-bert/bert-base-uncased" "similar ranks bert"
expect 0 "dupes" "$hfmm" dupes
expect 0 "export" "$hfmm" export "$work/exported.json"
expect 0 "import into another store" "$hfmm" --store "$work/other.json" import "$work/exported.json"
expect 0 "the imported store answers" "$hfmm" --store "$work/other.json" hash google-bert/bert-base-uncased config.json
expect 1 "import a missing file" "$hfmm" import "$work/missing.json"
expect 0 "remove" "$hfmm" --store "$work/other.json" remove google-bert/bert-base-uncased
contains "removed google-bert/bert-base-uncased" "remove says what it removed"
expect 1 "a removed model is gone" "$hfmm" --store "$work/other.json" hash google-bert/bert-base-uncased config.json
expect 0 "the other models stay" "$hfmm" --store "$work/other.json" hash wzshiming/gpt2 config.json
expect 1 "remove a model not in the catalog, with one that is" "$hfmm" --store "$work/other.json" --json remove org/absent wzshiming/gpt2
contains '"failed":1' "remove reports each id"
contains '"code":"model_not_found"' "remove names what was not found"
expect 1 "the listed model was removed all the same" "$hfmm" --store "$work/other.json" show wzshiming/gpt2

# verify: a local copy that matches a hand-made catalog entry
mkdir -p repo/sub
printf 'hello\n' > repo/hello.txt
printf 'abc' > repo/sub/weights.bin
cat > verify-catalog.json <<'JSON'
{"local/model": {"model_id": "local/model", "model_name": "model",
  "repository_structure": {"model_id": "local/model", "branch": "main", "fetched_at": "2026-11-27T10:00:00",
    "files": {"hello.txt": {"size": 6, "lfs": {}, "oid": "ce013625030ba8dba906f756967f9e9ca394464a", "download_url": ""},
              "sub/weights.bin": {"size": 3, "oid": "80d7d501c2b256023dc42e46d958b9ac2ec283ee", "download_url": "",
                "lfs": {"oid": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "size": 3, "pointerSize": 126}}}}}}
JSON
expect 0 "import the verify catalog" "$hfmm" import verify-catalog.json
expect 0 "verify an intact copy" "$hfmm" verify local/model repo
contains "intact: 2 files checked" "verify reports intact"
printf 'abd' > repo/sub/weights.bin
expect 1 "verify a damaged copy" "$hfmm" verify local/model repo
contains "MISMATCH sub/weights.bin (sha256" "verify names the mismatch"
expect 1 "verify --json" "$hfmm" --json verify local/model repo
contains '"ok":false' "verify --json"
expect 3 "verify a missing directory" "$hfmm" verify local/model "$work/nowhere"

# Lock files: verified with no catalog; audits against a policy.
expect 1 "lock refuses a model not pinned to a commit" "$hfmm" lock local/model -o local.lock
grep -qF "local/model has no repository structure pinned to a commit" err.txt || { echo "FAIL: lock does not name the unpinned model"; cat err.txt; failures=$((failures + 1)); }
[ ! -e local.lock ] || { echo "FAIL: a refused lock wrote a file"; failures=$((failures + 1)); }
sed 's/"branch": "main",/"branch": "main", "commit_sha": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",/' verify-catalog.json > pinned-catalog.json
expect 0 "import a pinned copy" "$hfmm" --store pinned.json import pinned-catalog.json
expect 0 "lock one model" "$hfmm" --store pinned.json lock local/model -o local.lock
contains "locked 1 models in local.lock" "lock says what it wrote"
printf 'abc' > repo/sub/weights.bin
expect 0 "verify against a lock, no catalog" "$hfmm" --store "$work/no-catalog.json" verify --lock local.lock repo
contains "intact: 2 files checked" "verify --lock reports intact"
[ ! -e "$work/no-catalog.json" ] || { echo "FAIL: verify --lock opened a catalog"; failures=$((failures + 1)); }
printf 'abd' > repo/sub/weights.bin
expect 1 "verify a damaged copy against a lock" "$hfmm" verify --lock local.lock local/model repo
contains "MISMATCH sub/weights.bin (sha256" "verify --lock names the mismatch"
expect 1 "verify --lock --json" "$hfmm" --json verify --lock local.lock repo
contains '"model_id":"local/model","ok":false' "verify --lock --json names the model"
expect 1 "verify --lock of a model it does not hold" "$hfmm" verify --lock local.lock other/model repo
printf 'abc' > repo/sub/weights.bin
mv repo/hello.txt hello.away
printf 'x' > repo/stray.txt
expect 1 "verify against a lock: a missing and an extra file" "$hfmm" verify --lock local.lock repo
contains "MISSING  hello.txt" "verify --lock names the missing file"
contains "EXTRA    stray.txt" "verify --lock names the extra file"
mv hello.away repo/hello.txt
rm repo/stray.txt
printf 'abd' > repo/sub/weights.bin
expect 0 "lock to standard output" "$hfmm" lock wzshiming/gpt2
contains '"model.safetensors": {"size": 548105171, "oid": "44b36d6e32d13c8fb28b0feab0ac8bfefa7efeda", "sha256": "248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"}' "the lock has a file per line"
cp out.txt gpt2.lock
echo '{"allowed_licenses": ["MIT"], "deny_pickle": true, "deny_gated": true, "require_pinned_head": true}' > policy.json
expect 1 "audit names every violation" "$hfmm" --offline audit wzshiming/gpt2 --policy policy.json
contains "VIOLATION wzshiming/gpt2 pickle: pytorch_model.bin" "audit names the pickle file"
contains "NOT clean: 1 models, 1 violations" "audit counts"
echo '{"allowed_licenses": ["mit"], "require_pinned_head": true}' > clean-policy.json
expect 0 "audit clean, the branch still at the pinned commit" "$hfmm" --offline audit wzshiming/gpt2 --policy clean-policy.json
sed 's/ae329b6937f31305a0d6c6779f6cd4072cc4097e/0000000000000000000000000000000000000000/' gpt2.lock > moved.lock
expect 1 "audit a lock whose branch moved" "$hfmm" --offline --json audit --lock moved.lock --policy clean-policy.json
contains '"rule":"moved"' "audit --lock --json names the moved branch"
expect 3 "audit that must ask the Hub, offline" env HF_HUB_OFFLINE=1 "$hfmm" audit --lock gpt2.lock --policy clean-policy.json
grep -qF "HF_HUB_OFFLINE" err.txt || { echo "FAIL: the offline audit does not say why it failed"; cat err.txt; failures=$((failures + 1)); }
echo '{"deny_pikle": true}' > typo-policy.json
expect 2 "a policy with a typo" "$hfmm" audit --policy typo-policy.json
grep -qF 'unknown key "deny_pikle"' err.txt || { echo "FAIL: the policy typo is not named"; cat err.txt; failures=$((failures + 1)); }

expect 2 "no command" "$hfmm"
expect 2 "unknown option" "$hfmm" stats --bogus
expect 0 "--help" "$hfmm" --help
expect 0 "a command's --help" "$hfmm" verify --help
expect 2 "an unknown store scheme" "$hfmm" --store nosuch:thing stats
echo "{broken" > broken.json
expect 3 "a corrupt store" "$hfmm" --store broken.json stats
grep -q "{broken" broken.json || { echo "FAIL: the corrupt store was modified"; failures=$((failures + 1)); }

echo '{"compilerOptions": {"target": "es5"}}' > tsconfig.json
expect 3 "JSON that is not a catalog" "$hfmm" --store tsconfig.json stats
grep -qF "not a model catalog" err.txt || { echo "FAIL: the refusal does not say why"; cat err.txt; failures=$((failures + 1)); }
grep -qF "compilerOptions" tsconfig.json || { echo "FAIL: the non-catalog file was modified"; failures=$((failures + 1)); }

expect 0 "a SQLite store" "$hfmm" --store "sqlite:$work/named.sqlite" import verify-catalog.json
expect 3 "a SQLite file given as a JSON path" "$hfmm" --store "$work/named.sqlite" stats
grep -qF "is an SQLite database, not a JSON catalog — use --store sqlite:" err.txt || { echo "FAIL: no hint for a SQLite file"; cat err.txt; failures=$((failures + 1)); }
mkdir -p "$work/a-directory"
expect 3 "a directory given as the store" "$hfmm" --store "$work/a-directory" stats
grep -qF "is a directory — give the path of a catalog file" err.txt || { echo "FAIL: a directory store is not named as one"; cat err.txt; failures=$((failures + 1)); }
if "$hfmm" --store "postgres:garbage" stats 2>&1 | grep -qF "built without PostgreSQL"; then
  skip "a malformed PostgreSQL connection string (this hfmm was built without PostgreSQL)"
else
  expect 3 "a malformed PostgreSQL connection string" "$hfmm" --store "postgres:garbage" stats
  grep -qF "not a PostgreSQL connection string" err.txt || { echo "FAIL: a bad conninfo is not named as one"; cat err.txt; failures=$((failures + 1)); }
  if grep -qF "check space" err.txt; then echo "FAIL: a bad conninfo is blamed on space or permissions"; failures=$((failures + 1)); fi
fi

# Readers share: queries answer while another process holds the writer lock.
"$hfmm" export "$work/shared.json" > /dev/null
if command -v flock > /dev/null; then
  exec 9> "$work/shared.json.lock"  # this shell holds the writer lock, as a long refresh would
  flock -n 9 || { echo "FAIL: cannot take the lock"; failures=$((failures + 1)); }
  expect 3 "a second writer is refused" "$hfmm" --store "$work/shared.json" import verify-catalog.json
  expect 0 "hash while a writer holds the store" "$hfmm" --store "$work/shared.json" hash wzshiming/gpt2 config.json
  contains "10c66461e4c109db5a2196bff4bb59be30396ed8" "the reader's answer"
  expect 0 "with-file while a writer holds the store" "$hfmm" --store "$work/shared.json" with-file tokenizer.json
  expect 0 "stats while a writer holds the store" "$hfmm" --store "$work/shared.json" --json stats
  exec 9>&-
else
  echo "FAIL: flock(1) is missing (util-linux)"; failures=$((failures + 1))
fi
expect 0 "compact" "$hfmm" --store "$work/shared.json" compact
contains "compacted: 3 models" "compact says what it kept"

# Moving a catalog between stores loses nothing: JSON -> SQLite -> DuckDB -> PostgreSQL -> zstd -> JSON.
"$hfmm" export "$work/start.json" > /dev/null
stores=("sqlite:$work/c.sqlite" "duckdb:$work/c.duckdb" "$work/c.json.gz")
if [ -n "${HFMM_TEST_POSTGRES:-}" ]; then
  stores+=("postgres:$HFMM_TEST_POSTGRES")
else
  skip "the PostgreSQL leg of the round trip: no server (set HFMM_TEST_POSTGRES; scripts/test starts one)"
fi
stores+=("$work/c.json.zst")
previous="$work/start.json"
for store in "${stores[@]}"; do
  expect 0 "import into $store" "$hfmm" --store "$store" import "$previous"
  expect 0 "hash from $store" "$hfmm" --store "$store" hash wzshiming/gpt2 config.json
  contains "10c66461e4c109db5a2196bff4bb59be30396ed8" "hash read back from $store"
  list_checks "$store"
  expect 0 "export from $store" "$hfmm" --store "$store" export "$work/via.json"
  previous="$work/via-$RANDOM.json"
  mv "$work/via.json" "$previous"
done
expect 0 "the round trip's catalog" "$hfmm" --store "$work/final.json" import "$previous"
expect 0 "stats of the round trip" "$hfmm" --store "$work/final.json" --json stats
contains '"total_models":3' "the round trip kept every model"
if ! command -v python3 > /dev/null; then
  skip "the round trip's comparison with json.load: python3 is missing"
else
  python3 - "$work/start.json" "$previous" <<'PY' || { echo "FAIL: the catalog changed on its way through the stores"; failures=$((failures + 1)); }
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert list(a) == list(b), (list(a), list(b))
for k in a:
    assert a[k] == b[k], k
PY
fi

# search and add --author against a local Hub over plain HTTP (a mirror's endpoint): two pages
# of listing, and each repo's revision answer listing every file (one request per repo).
if ! command -v python3 > /dev/null; then
  skip "search against a local Hub: python3 is missing"
else
  cat > local_hub.py <<'PY'
import http.server, json, os, sys, threading
data = sys.argv[1]
revision = json.load(open(os.path.join(data, "wzshiming--gpt2.revision.main.json")))
tree = json.load(open(os.path.join(data, "wzshiming--gpt2.tree.main.recursive-expand.json")))
siblings = []
for e in tree:
    if e["type"] != "file":
        continue
    s = {"rfilename": e["path"], "blobId": e["oid"], "size": e["size"]}
    if "lfs" in e:
        s["lfs"] = {"sha256": e["lfs"]["oid"], "size": e["lfs"]["size"], "pointerSize": e["lfs"]["pointerSize"]}
    siblings.append(s)
revision["siblings"] = siblings
pages = {None: (["mirror/a", "mirror/b"], "/api/models?author=mirror&cursor=2"), "2": (["mirror/c"], None)}
class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        path, _, query = self.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        if path == "/api/models" and params.get("author") == "mirror":
            ids, next_page = pages[params.get("cursor")]
            body = json.dumps([{"id": i, "sha": revision["sha"]} for i in ids]).encode()
            headers = {"Link": '<%s>; rel="next"' % next_page} if next_page else {}
        elif path.startswith("/api/models/mirror/") and "/revision/" in path and params.get("blobs") == "true":
            body, headers = json.dumps(dict(revision, id=path.split("/")[4])).encode(), {}
        else:
            self.send_response(404); self.send_header("X-Error-Code", "RepoNotFound"); self.send_header("Content-Length", "0"); self.end_headers()
            return
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
print(server.server_address[1], flush=True)
server.serve_forever()
PY
  python3 local_hub.py "$recorded" > hub-port.txt 2> hub-log.txt &
  hub_pid=$!
  for _ in $(seq 100); do [ -s hub-port.txt ] && break; sleep 0.05; done
  port=$(cat hub-port.txt)
  [ -n "$port" ] || { echo "FAIL: the local Hub did not start:"; cat hub-log.txt; failures=$((failures + 1)); port=1; }
  export HF_ENDPOINT="http://127.0.0.1:$port" NO_PROXY="127.0.0.1" no_proxy="127.0.0.1"
  expect 0 "search a local Hub" "$hfmm" search --author mirror
  contains "mirror/c  ae329b6937f31305a0d6c6779f6cd4072cc4097e" "search follows the listing's pages"
  if declare -F one_document > /dev/null; then
    one_document 0 "search --limit" "$hfmm" --json search --author mirror --limit 2
  else
    expect 0 "search --limit" "$hfmm" --json search --author mirror --limit 2
  fi
  contains '"count":2' "search stops at its limit"
  expect 0 "add --author" "$hfmm" --store "$work/mirror.json" add --author mirror
  contains "mirror/c: 26 files, 5.6 GB, commit ae329b6937f31305a0d6c6779f6cd4072cc4097e" "add --author adds what the search finds"
  expect 0 "the mirrored models" "$hfmm" --store "$work/mirror.json" --json stats
  contains '"total_models":3' "three models added"
  # Their author's listing (two pages) gives all three commits: fewer requests than one per repo
  # (this mirror answers no plain revision requests, so anything else would fail).
  expect 0 "refresh --all from the author's listing" "$hfmm" --store "$work/mirror.json" refresh --all
  contains "3 refreshed, 0 changed, 0 failed, 2 requests" "refresh --all learns the commits from the listing"
  expect 1 "search for nobody" "$hfmm" search --author nobody
  expect 2 "search offline" "$hfmm" --offline search --author mirror
  kill "$hub_pid" 2> /dev/null
  unset HF_ENDPOINT
fi

if [ "$failures" -ne 0 ]; then echo "$failures failure(s)"; exit 1; fi
if [ "$skips" -ne 0 ]; then echo "every CLI check that ran passed; $skips skipped (HFMM-SKIP above)"; exit 77; fi
echo "all CLI checks passed"
