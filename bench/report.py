#!/usr/bin/env python3
"""Prints the benchmark tables (markdown) from bench/run's JSON results, with ratios."""
import json
import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "results")


def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None


def fmt(seconds):
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


rows = [("open the catalog", "open_s", "open_s"),
        ("get_models_with_file(\"nonexistent.file\")", "with_file_absent_s", "with_file_absent_s"),
        ("get_models_with_file(\"sub7/onnx/decoder_model.onnx\")", "with_file_rare_s", "with_file_rare_s"),
        ("get_models_with_file(\"config.json\")", "with_file_every_s", "with_file_every_s"),
        ("get_models_with_file(\".safetensors\")", "with_file_extension_s", "with_file_extension_s"),
        ("get_model_file_hash", "file_hash_s", "file_hash_s"),
        ("add_model (JSON file)", "add_model_json_s", "add_model_s")]
for size in sorted({int(f.split("-")[1].split(".")[0]) for f in os.listdir(out) if f.startswith("hfmm-")}):
    h, p = load(f"hfmm-{size}.json"), load(f"python-{size}.json")
    print(f"\n### {size:,} models, {h['files']:,} file entries\n")
    print("| operation | hfmm | Python Model Manager | ratio |")
    print("|---|---|---|---|")
    for label, hk, pk in rows:
        a, b = h.get(hk), (p or {}).get(pk)
        ratio = f"{b / a:,.0f}×" if a and b else "-"
        print(f"| {label} | {fmt(a)} | {fmt(b)} | {ratio} |")
    print(f"| first path query (builds the indexes) | {fmt(h.get('first_query_s'))} | - | - |")
    print(f"| find_models_with_content | {fmt(h.get('content_lookup_s'))} | - | - |")
    print(f"| get_stats | {fmt(h.get('stats_s'))} | - | - |")
    for store in ("sqlite", "duckdb", "postgres"):
        if f"add_model_{store}_s" in h:
            print(f"| add_model ({store}) | {fmt(h[f'add_model_{store}_s'])} | - | - |")
    print(f"| bare boost::json::parse of the file (the limit) | {fmt(h.get('bare_json_parse_s'))} | - | - |")
    rss, prss = h["rss_per_file_B"], (p or {}).get("rss_per_file_B")
    print(f"| resident memory per file entry after open | {rss:.0f} B | {prss:.0f} B | {prss / rss:.1f}× less |"
          if prss else f"| resident memory per file entry | {rss:.0f} B | - | - |")
    print(f"| ... with the path and content indexes built | {h['rss_per_file_with_indexes_B']:.0f} B | - | - |")
verify, openssl = load("verify.json"), load("openssl.json")
if verify and openssl:
    limit = openssl["openssl_sha256_16384_kBps"] * 1000 / 1e6
    print("\n### Verify (one core, warm cache)\n")
    print("| | MB/s | of openssl speed -evp sha256 (16 KiB) |")
    print("|---|---|---|")
    print(f"| openssl speed | {limit:.0f} | 100% |")
    print(f"| verify_local_files, LFS (SHA-256) | {verify['verify_sha256_MBps']:.0f} | {verify['verify_sha256_MBps'] / limit:.0%} |")
    print(f"| verify_local_files, git blob (SHA-1) | {verify['verify_git_sha1_MBps']:.0f} | - |")
refresh = os.path.join(out, "refresh.txt")
if os.path.exists(refresh):
    print("\n### Refresh\n\n```")
    print(open(refresh).read().rstrip())
    print("```")
