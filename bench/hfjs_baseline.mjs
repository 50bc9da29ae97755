// Baseline: huggingface.js (@huggingface/hub, pinned in bench/package.json) listing the same
// repositories from the same local Hub as refresh_bench — listFiles({recursive: true}) per repo,
// in sequence or with Promise.all in batches. Started by refresh_bench with
// NODE_EXTRA_CA_CERTS pointing at the local Hub's certificate.
//   node hfjs_baseline.mjs <endpoint> <repos> <sequential|batched> [concurrency]
import { listFiles } from "@huggingface/hub";

const [endpoint, repos, mode, concurrency = "64"] = process.argv.slice(2);
const ids = Array.from({ length: Number(repos) }, (_, i) => `bench/model-${i}`);

async function list(id) {
  let files = 0;
  for await (const entry of listFiles({ repo: { type: "model", name: id }, recursive: true, hubUrl: endpoint })) {
    if (entry.type === "file") files++;
  }
  return files;
}

const t0 = performance.now();
let files = 0;
if (mode === "sequential") {
  for (const id of ids) files += await list(id);
} else {
  const batch = Number(concurrency);
  for (let i = 0; i < ids.length; i += batch) {
    const counts = await Promise.all(ids.slice(i, i + batch).map(list));
    files += counts.reduce((a, b) => a + b, 0);
  }
}
console.log(JSON.stringify({ mode, seconds: (performance.now() - t0) / 1000, files }));
