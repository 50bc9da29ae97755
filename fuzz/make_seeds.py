#!/usr/bin/env python3
"""Writes the starting corpus of every fuzz target from the recorded Hub fixtures.

Usage: make_seeds.py <hub fixtures dir> <out dir>   (out/<target>/<n> files)
"""
import json
import os
import subprocess
import sys
import tempfile


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def main():
    hub, out = sys.argv[1], sys.argv[2]
    recordings = json.load(open(os.path.join(hub, "recordings.json")))
    bodies = {}
    for i, ex in enumerate(recordings["exchanges"]):
        resp = ex["response"]
        if "body_file" in resp:
            body = open(os.path.join(hub, resp["body_file"]), "rb").read()
        else:
            body = json.dumps(resp.get("body", "")).encode() if not isinstance(resp.get("body"), str) else resp["body"].encode()
        bodies[ex["request"]["target"]] = body
        headers = dict(resp.get("headers", {}))
        # the raw answer as a server sends it, once with a length and once chunked
        head = "HTTP/1.1 %d X\r\n" % resp["status"] + "".join("%s: %s\r\n" % kv for kv in headers.items())
        write(out, "http_response", "rec%d" % i, head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[j:j + 4096]), body[j:j + 4096]) for j in range(0, len(body), 4096))
        write(out, "http_response", "rec%d-chunked" % i,
              head.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n")
        write(out, "tree_page", "rec%d" % i, body)
        base = "https://huggingface.co" + ex["request"]["target"]
        for name in ("Link", "RateLimit", "Retry-After", "Location"):
            if name in headers:
                write(out, "headers", "rec%d-%s" % (i, name), base + "\n" + headers[name])
        write(out, "encoding", "rec%d" % i, ex["request"]["target"].split("/")[3] + "/" +
              ex["request"]["target"].split("/")[4] + "\n" + ex["request"]["target"].split("/")[6].split("?")[0])
    # requests hfmm serve answers (fuzz/serve_request.cpp's catalog: org/model)
    for i, (method, target, extra) in enumerate([
            ("GET", "/api/models/org/model/revision/main?blobs=true", ""),
            ("GET", "/api/models/org/model", ""),
            ("GET", "/api/models/org/model/tree/main/onnx?recursive=true&limit=1&cursor=1", ""),
            ("POST", "/api/models/org/model/paths-info/main", "\npaths=onnx&paths=config.json"),
            ("POST", "/api/models/org/model/paths-info/main", '\n{"paths": ["onnx/deep", "model.bin"]}'),
            ("GET", "/api/models/org/model/refs", ""),
            ("HEAD", "/org/model/resolve/main/model.bin", ""),
            ("GET", "/org/model/resolve/" + "c" * 40 + "/onnx/deep/vocab.txt", "bytes=1-2"),
            ("GET", "/org/model/resolve/main/model.bin", "bytes=-100"),
            ("GET", "/org/model/raw/main/model.bin", ""),
            ("GET", "/org/model/resolve/main/a%20b/%252e%252e.txt", ""),
            ("GET", "/org/model/resolve/main/%2e%2e/%2e%2e/etc/passwd", ""),
            ("GET", "/datasets/org/model/resolve/HEAD/config.json", "bytes=0-0"),
            ("GET", "/api/whoami-v2", "")]):
        write(out, "serve_request", "req%d" % i, ("%s\n%s\n%s" % (method, target, extra)).encode())
    # headers the Hub sends that the recordings do not show
    write(out, "headers", "ratelimit", 'https://huggingface.co/api/models/a/b\n"api";r=499;t=120')
    write(out, "headers", "retry-after", "https://huggingface.co/\n30")
    write(out, "headers", "content-range", "https://huggingface.co/\nbytes 100-199/1000")
    write(out, "headers", "content-range-416", "https://huggingface.co/\nbytes */1000")
    write(out, "headers", "etag", 'https://huggingface.co/\nW/"248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"')
    write(out, "headers", "link-relative", 'https://h.co/api/x?y=1\n</api/x?cursor=abc>; rel="next", <https://h.co/a>; rel=prev')
    for i, rev in enumerate(["refs/pr/1", "v1.0 beta", "main", "%2e%2e"]):
        write(out, "encoding", "rev%d" % i, "datasets/org/name\n" + rev)
    # file paths of the real listings, as the path encoder sees them
    for i, body in enumerate(bodies.values()):
        try:
            items = json.loads(body)
        except ValueError:
            continue
        if isinstance(items, list):
            for j, item in enumerate(items[:5]):
                if isinstance(item, dict) and "path" in item:
                    write(out, "encoding", "path%d-%d" % (i, j), "org/name\n" + item["path"])
    # store: a small catalog in the Python layout, for both modes
    with tempfile.TemporaryDirectory() as tmp:
        catalog = os.path.join(tmp, "catalog.json")
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run([sys.executable, os.path.join(here, "..", "bench", "generate_catalog.py"), "3", catalog,
                        "--hub", hub], check=True, stdout=subprocess.DEVNULL)
        text = open(catalog, "rb").read()
    model = json.loads(text)
    first = next(iter(model.values()))
    journal = json.dumps({"op": "upsert", "models": [first]}) + "\n" + json.dumps({"op": "erase", "model_id": first["model_id"]})
    write(out, "store_loader", "dom", b"\x00\x00" + text)
    write(out, "store_loader", "journal-framed", b"\x01\x01" + text + b"\x00" + journal.encode())
    write(out, "store_loader", "journal-raw", b"\x01\x00" + text + b"\x00" + journal.encode())
    # lock: the catalog's models as a lock file (the layout of docs/lock.md), and a policy
    models = {}
    for key, record in sorted(model.items()):
        rs = record.get("repository_structure") or {}
        files = {}
        for path, entry in sorted(rs.get("files", {}).items()):
            line = {"size": entry["size"], "oid": entry["oid"]}
            if entry.get("lfs"):
                line["sha256"] = entry["lfs"]["oid"]
            files[path] = line
        models[key] = {"repo": rs.get("model_id", key), "repo_type": "model", "revision": rs.get("branch", "main"),
                       "commit": rs.get("commit_sha", "0" * 40), "license": "mit", "gated": False, "private": False,
                       "files": files}
    write(out, "lock", "catalog", json.dumps({"hfmm_lock": 1, "models": models}, indent=2))
    write(out, "lock", "policy", json.dumps({"allowed_licenses": ["mit"], "deny_pickle": True, "require_pinned_head": True}))


if __name__ == "__main__":
    main()
