import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/build-app.js';
import { BUNDLING_TIMEOUT, type Bundle, bundleOf, itChecksBundles, optionalClientsOf } from './bundle-checks.js';

describe('workflow task function bundles (real esbuild bundles)', () => {
  let bundles: Bundle[];
  beforeAll(() => {
    const { workflow } = buildApp({ bundleStacks: ['Merlin-dev-Workflow'], bundling: { metafile: true } });
    bundles = Object.entries(workflow.functions).map(([key, fn]) => bundleOf(`workflow/${key}`, fn));
  }, BUNDLING_TIMEOUT);

  itChecksBundles(() => bundles);

  it('should carry EKS, KMS and ECR clients only in the tasks that reach clusters, decrypt secrets or check images', () => {
    const clients = Object.fromEntries(bundles.map((b) => [b.name, optionalClientsOf(b)]));

    expect(clients).toEqual({
      'workflow/PrepareDeployment': ['client-ecr'],
      'workflow/ApplyRevision': ['client-eks', 'client-kms', 'client-ecr'],
      'workflow/CheckRevision': ['client-eks'],
      'workflow/PromoteRevision': ['client-eks'],
      'workflow/RecordFailure': ['client-eks'],
      'workflow/PrepareUndeploy': [],
      'workflow/RemoveRevision': ['client-eks'],
      'workflow/FinalizeUndeploy': [],
      'workflow/PrepareRoute': [],
      'workflow/ApplyRoute': ['client-eks'],
      'workflow/FinalizeRoute': [],
    });
  });
});
