import { beforeAll, describe } from 'vitest';
import { buildApp } from '../../infra/build-app.js';
import { BUNDLING_TIMEOUT, type Bundle, bundleOf, itChecksBundles } from './bundle-checks.js';

describe('workflow task function bundles (real esbuild bundles)', () => {
  let bundles: Bundle[];
  beforeAll(() => {
    const { workflow } = buildApp({ bundleStacks: ['Merlin-dev-Workflow'], bundling: { metafile: true } });
    bundles = Object.entries(workflow.functions).map(([key, fn]) => bundleOf(`workflow/${key}`, fn));
  }, BUNDLING_TIMEOUT);

  itChecksBundles(() => bundles);
});
