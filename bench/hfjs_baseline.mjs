// Baseline: huggingface.js (@huggingface/hub, pinned in bench/package.json) listing the same
// repositories from the same local Hub as refresh_bench — listFiles({recursive: true}) per repo,
// in sequence or by `concurrency` workers at once. Started by refresh_bench with
// NODE_EXTRA_CA_CERTS pointing at the local Hub's certificate.
//   node hfjs_baseline.mjs <endpoint> <repos> <sequential|concurrent> [concurrency]
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
  // `concurrency` workers, each taking the next repo when it is done (as refresh_all's workers do)
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const n = await list(ids[next++]);  // (files += await … would read files before the await)
      files += n;
    }
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
}
console.log(JSON.stringify({ mode, seconds: (performance.now() - t0) / 1000, files }));
