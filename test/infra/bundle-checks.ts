import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import type { AssetStaging } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { expect, it } from 'vitest';
import { type MerlinFunction, NEVER_BUNDLED } from '../../infra/constructs/merlin-function.js';

/**
 * Checks on real esbuild bundles (built with `metafile: true`), shared by the API and workflow bundle tests. Each
 * test file bundles one stack so the two run in parallel.
 */

interface Metafile {
  inputs: Record<string, unknown>;
  outputs: Record<
    string,
    { imports: { path: string; external?: boolean }[]; inputs?: Record<string, { bytesInOutput: number }> }
  >;
}

export interface Bundle {
  name: string;
  dir: string;
  meta: Metafile;
}

/** Bundling ~20 functions takes a while on 2 cores. */
export const BUNDLING_TIMEOUT = 240_000;

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

export const bundleOf = (name: string, fn: MerlinFunction): Bundle => {
  const asset = fn.node.findChild('Code') as Asset;
  const dir = (asset.node.findChild('Stage') as AssetStaging).absoluteStagedPath;
  const metafile = path.join(dir, 'index.meta.json');
  if (!existsSync(metafile)) throw new Error(`${name}: not bundled with a metafile (${dir})`);
  return { name, dir, meta: JSON.parse(readFileSync(metafile, 'utf8')) as Metafile };
};

export const sizeOf = (bundle: Bundle): number => statSync(path.join(bundle.dir, 'index.mjs')).size;

/** The checks every function bundle must pass. */
export const itChecksBundles = (bundles: () => Bundle[]): void => {
  it('should be one ESM file with a source map and the createRequire banner per function', () => {
    for (const bundle of bundles()) {
      expect(existsSync(path.join(bundle.dir, 'index.mjs.map')), bundle.name).toBe(true);
      const head = readFileSync(path.join(bundle.dir, 'index.mjs'), 'utf8').slice(0, 200);
      expect(head, bundle.name).toContain('createRequire(import.meta.url)');
    }
  });

  it('should contain nothing of the model runtime, the emulators, the local platform or the data plane', () => {
    const forbidden = [...NEVER_BUNDLED.map((pkg) => `node_modules/${pkg}/`), 'local/', 'serving/', 'adapters/local/'];
    for (const bundle of bundles()) {
      const offending = Object.keys(bundle.meta.inputs).filter((input) => forbidden.some((p) => input.startsWith(p)));
      expect(offending, bundle.name).toEqual([]);
    }
  });

  it('should leave only Node built-ins to resolve at run time (nothing ships beside the bundle)', () => {
    for (const bundle of bundles()) {
      const externals = Object.values(bundle.meta.outputs)
        .flatMap((output) => output.imports)
        .filter((i) => i.external && !builtins.has(i.path))
        .map((i) => i.path);
      expect(externals, bundle.name).toEqual([]);
    }
  });
};

/**
 * Whether a bundle's output contains code of an npm package (the metafile's `inputs` lists every file esbuild read,
 * tree-shaken or not; an output's `inputs` only what it kept).
 */
export const bundlesPackage = (bundle: Bundle, pkg: string): boolean =>
  Object.values(bundle.meta.outputs).some((output) =>
    Object.entries(output.inputs ?? {}).some(
      ([input, { bytesInOutput }]) => input.startsWith(`node_modules/${pkg}/`) && bytesInOutput > 0,
    ),
  );

/** The optional AWS SDK clients (functions/shared/container.ts) a bundle carries. */
export const optionalClientsOf = (bundle: Bundle): string[] =>
  (['client-eks', 'client-kms', 'client-ecr'] as const).filter((c) => bundlesPackage(bundle, `@aws-sdk/${c}`));
