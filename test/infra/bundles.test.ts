import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import type { AssetStaging } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app.js';
import { type MerlinFunction, NEVER_BUNDLED } from '../../infra/constructs/merlin-function.js';

/** DESIGN §8: Lambda bundles < 1 MB per API handler. */
const MAX_BUNDLE_BYTES = 1024 * 1024;

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<string, { imports: { path: string; external?: boolean }[]; bytes: number }>;
}

interface Bundle {
  name: string;
  dir: string;
  meta: Metafile;
}

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

const bundleOf = (name: string, fn: MerlinFunction): Bundle => {
  const asset = fn.node.findChild('Code') as Asset;
  const dir = (asset.node.findChild('Stage') as AssetStaging).absoluteStagedPath;
  return { name, dir, meta: JSON.parse(readFileSync(path.join(dir, 'index.meta.json'), 'utf8')) as Metafile };
};

/** Real esbuild bundles of every function (slow: ~30 bundles), built once for this file. */
describe('function bundles', () => {
  let api: Bundle[];
  let workflow: Bundle[];
  beforeAll(() => {
    const built = buildApp({ bundling: { metafile: true } });
    api = Object.entries(built.api.functions).map(([entry, fn]) => bundleOf(`api/${entry}`, fn));
    workflow = Object.entries(built.workflow.functions).map(([key, fn]) => bundleOf(`workflow/${key}`, fn));
  }, 240_000);

  it('should be one ESM file with a source map per function', () => {
    for (const bundle of [...api, ...workflow]) {
      expect(existsSync(path.join(bundle.dir, 'index.mjs')), bundle.name).toBe(true);
      expect(existsSync(path.join(bundle.dir, 'index.mjs.map')), bundle.name).toBe(true);
      const head = readFileSync(path.join(bundle.dir, 'index.mjs'), 'utf8').slice(0, 200);
      expect(head, bundle.name).toContain('createRequire(import.meta.url)');
    }
  });

  it('should stay under 1 MB per API handler', () => {
    for (const bundle of api) {
      expect(statSync(path.join(bundle.dir, 'index.mjs')).size, bundle.name).toBeLessThan(MAX_BUNDLE_BYTES);
    }
  });

  it('should contain nothing of the model runtime, the emulators, the local platform or the data plane', () => {
    const forbiddenInputs = [
      ...NEVER_BUNDLED.map((pkg) => `node_modules/${pkg}/`),
      'local/',
      'serving/',
      'adapters/local/',
      'test/',
    ];
    for (const bundle of [...api, ...workflow]) {
      const inputs = Object.keys(bundle.meta.inputs);
      const offending = inputs.filter((input) => forbiddenInputs.some((prefix) => input.startsWith(prefix)));
      expect(offending, bundle.name).toEqual([]);
    }
  });

  it('should leave only Node built-ins to resolve at run time (nothing else ships beside the bundle)', () => {
    for (const bundle of [...api, ...workflow]) {
      const externals = Object.values(bundle.meta.outputs)
        .flatMap((output) => output.imports)
        .filter((i) => i.external)
        .map((i) => i.path);
      expect(
        externals.filter((p) => !builtins.has(p)),
        bundle.name,
      ).toEqual([]);
    }
  });
});
