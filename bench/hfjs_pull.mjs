// Baseline of bench/pull: huggingface.js (@huggingface/hub, pinned in bench/package.json)
// downloading the same files from the same local Hub with downloadFile, `concurrency` files at
// once, each body streamed to disk. Started with NODE_EXTRA_CA_CERTS naming the Hub's certificate.
//   node hfjs_pull.mjs <endpoint> <repo> <revision> <concurrency> <out dir> <path>...
import { downloadFile } from "@huggingface/hub";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

const [endpoint, repo, revision, concurrency, out, ...paths] = process.argv.slice(2);
let next = 0, bytes = 0;
async function worker() {
  while (next < paths.length) {
    const path = paths[next++];
    const blob = await downloadFile({ repo: { type: "model", name: repo }, path, revision, hubUrl: endpoint, xet: false });
    if (!blob) throw new Error(`${path}: not found`);
    const target = join(out, path);
    mkdirSync(dirname(target), { recursive: true });
    await pipeline(Readable.fromWeb(blob.stream()), createWriteStream(target));
    bytes += blob.size;
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, worker));
console.log(JSON.stringify({ files: paths.length, bytes }));
