// @huggingface/hub (pinned in package.json) as a client of `hfmm serve`: lists the repository
// recursively, reads its model info, checks files exist and downloads each one, all with hubUrl
// pointing at the server. Prints one JSON document the test compares with the cache.
//   node serve_client.mjs <hubUrl> <repo> <out dir>
import { downloadFile, fileExists, listFiles, modelInfo } from "@huggingface/hub";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const [hubUrl, name, out] = process.argv.slice(2);
const repo = { type: "model", name };
const files = [];
for await (const entry of listFiles({ repo, recursive: true, hubUrl })) files.push(entry);
const info = await modelInfo({ name, hubUrl, additionalFields: ["sha"] });
const downloaded = {};
for (const f of files.filter((e) => e.type === "file")) {
  if (!(await fileExists({ repo, path: f.path, hubUrl }))) throw new Error(`fileExists says no for ${f.path}`);
  const blob = await downloadFile({ repo, path: f.path, hubUrl, xet: false });
  const target = join(out, f.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, Buffer.from(await blob.arrayBuffer()));
  downloaded[f.path] = blob.size;
}
const missing = await fileExists({ repo, path: "no/such/file.bin", hubUrl });
let otherRepo = "listed";
try {
  for await (const _ of listFiles({ repo: { type: "model", name: "org/not-in-the-catalog" }, hubUrl })) break;
} catch (e) {
  otherRepo = String(e.message || e);
}
console.log(JSON.stringify({ files, sha: info.sha, id: info.name, downloaded, missing, otherRepo }));
