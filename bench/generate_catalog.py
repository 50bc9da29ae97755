#!/usr/bin/env python3
"""Synthetic model catalogs in the Python Model Manager's JSON layout (DESIGN §7).

Each model takes the shape of one recorded listing (gpt2's 26 files most often, then
bert-base-uncased, parakeet, the image dataset), about 30% of its paths moved into one of 50
subfolders, random oids for regular files, random SHA-256 for LFS files with the oid derived
from (sha256, size) as git-lfs does, so pointer checks hold. Deterministic for a seed.

Duplication as on the real Hub (the default; --unique gives every file fresh digests):
  - `.gitattributes`: 90% of models hold the Hub's default one (one blob id), the rest one
    of a few variants;
  - tokenizer files (tokenizer.json, vocab.json, merges.txt, vocab.txt, tokenizer_config.json,
    special_tokens_map.json): one of 8 families per model, the first family in 60% of them;
  - forks: 15% of models copy every file (paths and digests) of an earlier model, under their
    own id and commit.

    generate_catalog.py MODELS OUT.json [--seed N] [--unique] [--hub tests/data/hub] [--facts FACTS.json]

--facts writes what a benchmark asks about the catalog without parsing it (8.5 GB at 1 000 000
models): the counts, the most common and the rarest path, the middle model and its first path.
"""
import argparse
import collections
import hashlib
import json
import os
import random

TOKENIZER_FILES = {"tokenizer.json", "vocab.json", "merges.txt", "vocab.txt", "tokenizer_config.json",
                   "special_tokens_map.json"}


def load_shapes(hub):
    shapes = []
    for name, weight in (("wzshiming--gpt2.tree.main.recursive-expand.json", 6),
                         ("google-bert--bert-base-uncased.tree.dd4bc8b2.json", 2),
                         ("FluidInference--parakeet-tdt-0.6b-v3-coreml.tree.aed02740.recursive-expand-limit100.page1.json", 1),
                         ("datasets--wzshiming--fixtures_image_utils.tree.main.json", 1)):
        with open(os.path.join(hub, name)) as f:
            files = [e for e in json.load(f) if e["type"] == "file"]
        shapes += [files] * weight
    return shapes


def pointer_oid(sha256, size):
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    return hashlib.sha1(b"blob %d\0" % len(pointer) + pointer).hexdigest()


def shared_oid(*parts):
    """A blob id that every model drawing the same parts shares."""
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def fresh_files(rng, shapes, unique):
    files = {}
    family = 0 if rng.random() < 0.6 else rng.randrange(8)
    attributes = 0 if rng.random() < 0.9 else rng.randrange(1, 4)
    for e in rng.choice(shapes):
        path = e["path"]
        if rng.random() < 0.3:
            path = f"sub{rng.randrange(50)}/{path}"
        size = e["size"]
        base = path.rsplit("/", 1)[-1]
        if not unique and base == ".gitattributes":
            oid = shared_oid("gitattributes", attributes)
        elif not unique and base in TOKENIZER_FILES:
            oid = shared_oid("tokenizer", family, base)
        else:
            oid = "%040x" % rng.getrandbits(160)
        entry = {"size": size, "lfs": {}, "oid": oid}
        if "lfs" in e:
            sha256 = "%064x" % rng.getrandbits(256)
            entry["lfs"] = {"oid": sha256, "size": size, "pointerSize": 125 + len(str(size))}
            entry["oid"] = pointer_oid(sha256, size)
            entry["xet_hash"] = "%064x" % rng.getrandbits(256)
        files[path] = entry
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--unique", action="store_true", help="fresh digests for every file (no duplication)")
    ap.add_argument("--hub", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "hub"))
    ap.add_argument("--facts")
    args = ap.parse_args()
    path_counts = collections.Counter()  # distinct paths: a few thousand however many models
    middle = None
    rng = random.Random(args.seed)
    shapes = load_shapes(args.hub)
    origins = []  # file sets a fork may copy (kept bounded: forks of recent models)
    with open(args.out, "w") as out:
        out.write("{")
        for i in range(args.models):
            model_id = f"org{i % 997}/model-{i}"
            sha = "%040x" % rng.getrandbits(160)
            prefix = f"https://huggingface.co/{model_id}/resolve/{sha}/"
            if not args.unique and origins and rng.random() < 0.15:
                template = rng.choice(origins)
            else:
                template = fresh_files(rng, shapes, args.unique)
                origins.append(template)
                if len(origins) > 1000:
                    origins.pop(rng.randrange(len(origins)))
            files = {path: dict(entry, download_url=prefix + path) for path, entry in template.items()}
            path_counts.update(files.keys())
            if i == args.models // 2:
                middle = (model_id, min(files))
            record = {
                "model_id": model_id, "model_name": f"model-{i}", "model_type": "language_model",
                "architecture": rng.choice(["GPT2LMHeadModel", "BertForMaskedLM", "LlamaForCausalLM", "ViTModel"]),
                "inputs": [{"name": "input_ids", "data_type": "tokens", "shape": None, "dtype": "int64",
                            "description": "Tokenized input", "optional": False}],
                "outputs": [{"name": "logits", "data_type": "logits", "shape": None, "dtype": "float32",
                             "description": "Model output logits", "optional": False}],
                "huggingface_config": {"architectures": ["GPT2LMHeadModel"], "vocab_size": 50257},
                "inference_code_location": None, "supported_backends": ["cpu"], "hardware_requirements": None,
                "performance_metrics": None, "tags": ["bench", f"group{i % 10}"],
                "source_url": f"https://huggingface.co/{model_id}", "license": "mit", "description": f"Model {i}",
                "repository_structure": {"model_id": model_id, "branch": "main", "fetched_at": "2026-11-27T10:00:00.000000",
                                         "files": files, "total_files": len(files),
                                         "total_size": sum(f["size"] for f in files.values()), "commit_sha": sha},
                "created_at": "2026-11-27T10:00:00.000000", "updated_at": "2026-11-27T10:00:00.000000",
            }
            out.write(("," if i else "") + json.dumps(model_id) + ":" + json.dumps(record, separators=(",", ":")))
        out.write("}")
    if args.facts:
        with open(args.facts, "w") as f:
            json.dump({"models": args.models, "files": sum(path_counts.values()),
                       "common_path": path_counts.most_common(1)[0][0],
                       "rare_path": min(path_counts.items(), key=lambda kv: (kv[1], kv[0]))[0],
                       "middle_model": middle[0], "middle_file": middle[1]}, f)


if __name__ == "__main__":
    main()
