#!/usr/bin/env python3
"""Synthetic model catalogs in the Python Model Manager's JSON layout (DESIGN §7).

Each model takes the shape of one recorded listing (gpt2's 26 files most often, then
bert-base-uncased, parakeet, the image dataset), about 30% of its paths moved into one of 50
subfolders, random oids for regular files, random SHA-256 for LFS files with the oid derived
from (sha256, size) as git-lfs does, so pointer checks hold. Deterministic for a seed.

    generate_catalog.py MODELS OUT.json [--seed N] [--hub tests/data/hub]
"""
import argparse
import hashlib
import json
import os
import random


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=int)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hub", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "hub"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    shapes = load_shapes(args.hub)
    with open(args.out, "w") as out:
        out.write("{")
        for i in range(args.models):
            model_id = f"org{i % 997}/model-{i}"
            sha = "%040x" % rng.getrandbits(160)
            prefix = f"https://huggingface.co/{model_id}/resolve/{sha}/"
            files = {}
            for e in rng.choice(shapes):
                path = e["path"]
                if rng.random() < 0.3:
                    path = f"sub{rng.randrange(50)}/{path}"
                size = e["size"]
                entry = {"size": size, "lfs": {}, "oid": "%040x" % rng.getrandbits(160), "download_url": prefix + path}
                if "lfs" in e:
                    sha256 = "%064x" % rng.getrandbits(256)
                    entry["lfs"] = {"oid": sha256, "size": size, "pointerSize": 125 + len(str(size))}
                    entry["oid"] = pointer_oid(sha256, size)
                    entry["xet_hash"] = "%064x" % rng.getrandbits(256)
                files[path] = entry
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


if __name__ == "__main__":
    main()
