#!/usr/bin/env python3
"""The Python Model Manager's algorithms on a catalog file, as its feature description states
them (standard library only): json.load into one dict per model; get_models_with_file walks
every model and every path testing `p.lower() in path.lower()`, first hit wins;
get_model_file_hash is two dict lookups; add_model rewrites the file with json.dump(indent=2).

    python_baseline.py CATALOG.json [--runs N]   -> one JSON object of timings on stdout

One-shot mode, one command in a fresh process as a user runs it (bench/oneshot times it):
    python_baseline.py CATALOG.json --oneshot hash ID PATH
    python_baseline.py CATALOG.json --oneshot with-file PATTERN
    python_baseline.py CATALOG.json --oneshot show ID
    python_baseline.py CATALOG.json --oneshot import RECORDS.json   (add_model: the file rewritten)
    python_baseline.py CATALOG.json --oneshot refresh ID   (HF_ENDPOINT's tree, first page; the file rewritten)
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def get_models_with_file(models, pattern):
    p = pattern.lower()
    found = []
    for model in models.values():
        structure = model.get("repository_structure")
        if not structure:
            continue
        for path in structure["files"]:
            if p in path.lower():
                found.append(model)
                break
    return found


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def oneshot(catalog, command, args):
    with open(catalog) as f:
        models = json.load(f)
    if command == "hash":
        entry = models.get(args[0], {}).get("repository_structure", {}).get("files", {}).get(args[1])
        print(entry["oid"] if entry else "")
        return 0 if entry else 1
    if command == "with-file":
        found = get_models_with_file(models, args[0])
        for m in found:
            print(m["model_id"])
        return 0 if found else 1
    if command == "show":
        m = models.get(args[0])
        print(json.dumps(m) if m else "")
        return 0 if m else 1
    if command == "import":
        with open(args[0]) as f:
            models.update(json.load(f))
        with open(catalog, "w") as f:  # the Python Model Manager's _save_metadata
            json.dump(models, f, indent=2)
        return 0
    if command == "refresh":  # refresh_repository_structure: one tree request, then add_model
        import datetime
        import urllib.request
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
        model = models[args[0]]
        with urllib.request.urlopen(f"{endpoint}/api/models/{args[0]}/tree/main") as r:
            tree = json.load(r)
        files = {}
        for e in tree:
            if e.get("type") != "file":
                continue
            files[e["path"]] = {"size": e.get("size", 0), "lfs": e.get("lfs", {}), "oid": e.get("oid", ""),
                                "download_url": f"{endpoint}/{args[0]}/resolve/main/{e['path']}"}
        now = datetime.datetime.now().isoformat()
        model["repository_structure"] = {"model_id": args[0], "branch": "main", "fetched_at": now, "files": files,
                                         "total_files": len(files), "total_size": sum(f["size"] for f in files.values())}
        model["updated_at"] = now
        with open(catalog, "w") as f:
            json.dump(models, f, indent=2)
        print(f"{args[0]}: {len(files)} files")
        return 0
    raise SystemExit(f"unknown one-shot command {command}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--oneshot", nargs="+", metavar="COMMAND")
    args = ap.parse_args()
    if args.oneshot:
        raise SystemExit(oneshot(args.catalog, args.oneshot[0], args.oneshot[1:]))
    out = {}
    before = rss_bytes()
    loads = []
    models = None
    for _ in range(max(1, min(args.runs, 3))):
        models = None
        t0 = time.perf_counter()
        with open(args.catalog) as f:
            models = json.load(f)
        loads.append(time.perf_counter() - t0)
    out["open_s"] = statistics.median(loads)
    files = sum(len(m["repository_structure"]["files"]) for m in models.values() if m.get("repository_structure"))
    out["models"] = len(models)
    out["files"] = files
    out["rss_per_file_B"] = (rss_bytes() - before) / files
    for name, pattern in (("absent", "nonexistent.file"), ("rare", "sub7/onnx/decoder_model.onnx"),
                          ("every", "config.json"), ("extension", ".safetensors")):
        out[f"with_file_{name}_s"] = timed(lambda: get_models_with_file(models, pattern), args.runs)
    some = next(iter(models))
    out["file_hash_s"] = timed(lambda: models[some]["repository_structure"]["files"].get("config.json", {}).get("oid"),
                               1000)
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "catalog.json")
        shutil.copy(args.catalog, path)
        new = dict(models[some], model_id="bench/new-model")

        def add():
            models["bench/new-model"] = new
            with open(path, "w") as f:
                json.dump(models, f, indent=2)
        out["add_model_s"] = timed(add, max(1, min(args.runs, 3)))
    finally:
        shutil.rmtree(tmp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
