/**
 * Sizes of the Lambda bundles the CDK app deploys (DESIGN §8: < 1 MB per API handler), measured on the real esbuild
 * bundles synth builds: `npx tsx bench/bundle-sizes.ts`. Prints a Markdown table (bench/RESULTS.md "Lambda bundle
 * sizes") and the largest inputs of the largest API bundle. No network, no Docker (local esbuild).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AssetStaging } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { API_ROUTES } from '../functions/api/routes.js';
import { buildApp } from '../infra/build-app.js';
import type { MerlinFunction } from '../infra/constructs/merlin-function.js';

const LIMIT = 1024 * 1024;

interface Metafile {
  inputs: Record<string, { bytes: number }>;
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

const stagedDir = (fn: MerlinFunction): string =>
  ((fn.node.findChild('Code') as Asset).node.findChild('Stage') as AssetStaging).absoluteStagedPath;

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;

const { api, workflow } = buildApp({ bundling: { metafile: true } });
const rows = [
  ...Object.entries(api.functions).map(([group, fn]) => ({
    name: `api/${group}`,
    routes: API_ROUTES.filter((r) => r.group === group).length,
    fn,
  })),
  ...Object.entries(workflow.functions).map(([key, fn]) => ({ name: `workflow/${key}`, routes: 0, fn })),
].map(({ name, routes, fn }) => {
  const dir = stagedDir(fn);
  const code = readFileSync(path.join(dir, 'index.mjs'));
  const meta = JSON.parse(readFileSync(path.join(dir, 'index.meta.json'), 'utf8')) as Metafile;
  const output = Object.values(meta.outputs).find((o) => Object.keys(o.inputs).length > 0)!;
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? `(ours) ${input.split('/')[0]}`;
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + bytesInOutput);
  }
  return {
    name,
    routes,
    bytes: code.length,
    gzip: gzipSync(code).length,
    map: statSync(path.join(dir, 'index.mjs.map')).size,
    byPackage,
  };
});

console.log('| Function | Routes | index.mjs | gzip | source map | of the 1 MB budget |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const budget = r.name.startsWith('api/') ? `${((100 * r.bytes) / LIMIT).toFixed(0)}%` : '(no budget)';
  console.log(`| ${r.name} | ${r.routes || ''} | ${kb(r.bytes)} | ${kb(r.gzip)} | ${kb(r.map)} | ${budget} |`);
}
const largest = rows.filter((r) => r.name.startsWith('api/')).reduce((a, b) => (b.bytes > a.bytes ? b : a));
console.log(`\nLargest API bundle ${largest.name}, by package (bytes in the output):`);
for (const [pkg, bytes] of [...largest.byPackage].sort((a, b) => b[1] - a[1]).slice(0, 10)) {
  console.log(`  ${pkg.padEnd(44)} ${kb(bytes)}`);
}
const over = rows.filter((r) => r.name.startsWith('api/') && r.bytes >= LIMIT);
console.log(
  over.length === 0 ? '\nEvery API bundle is under 1 MB.' : `\nOVER 1 MB: ${over.map((r) => r.name).join(', ')}`,
);
process.exitCode = over.length === 0 ? 0 : 1;
