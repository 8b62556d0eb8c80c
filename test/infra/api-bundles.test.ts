import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app.js';
import { BUNDLING_TIMEOUT, type Bundle, bundleOf, itChecksBundles, sizeOf } from './bundle-checks.js';

/** DESIGN §8: Lambda bundles < 1 MB per API handler. */
const MAX_API_BUNDLE_BYTES = 1024 * 1024;

describe('API function bundles (real esbuild bundles)', () => {
  let bundles: Bundle[];
  beforeAll(() => {
    const { api } = buildApp({ bundleStacks: ['Merlin-dev-Api'], bundling: { metafile: true } });
    bundles = Object.entries(api.functions).map(([entry, fn]) => bundleOf(`api/${entry}`, fn));
  }, BUNDLING_TIMEOUT);

  itChecksBundles(() => bundles);

  it('should stay under 1 MB per API handler', () => {
    for (const bundle of bundles) expect(sizeOf(bundle), bundle.name).toBeLessThan(MAX_API_BUNDLE_BYTES);
  });
});
