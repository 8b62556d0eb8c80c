/**
 * A platform stopped in the middle of a deployment leaves nothing pending after its restart: the interrupted
 * deployment is failed with the reason and the endpoint says so; endpoints that were running come back.
 */
import { describe, expect, it } from 'vitest';
import { deployVersion } from '../../../core/use-cases/endpoints.js';
import { IRIS, startTestPlatform, versionWithArtifact } from '../../helpers/platform.js';

describe('Local platform: recovery after a restart', () => {
  it('fails a deployment the stop interrupted and brings back the running endpoint', async () => {
    const first = await startTestPlatform();
    const deps = first.deps();
    const running = await versionWithArtifact(deps, { project: 'rec', model: 'iris' }, IRIS);
    await deployVersion(deps, running, {});
    await first.platform.runner.idle();
    const interrupted = await versionWithArtifact(deps, { project: 'rec', model: 'iris' }, IRIS);
    const d = await deployVersion(deps, interrupted, {});
    await first.stop(true);

    const second = await startTestPlatform({ dataDir: first.dataDir });
    try {
      const after = second.deps();
      expect(second.platform.recovery.local).toMatchObject({
        restored: [`rec/iris@${running.version}`],
        interrupted: [d.id],
        failed: [],
      });
      expect(await after.endpoints.get({ ...interrupted, environment: 'local' })).toMatchObject({
        status: 'failed',
        message: 'the local platform stopped while this deployment was in progress; run it again',
      });
      expect(await after.deployments.get({ id: d.id })).toMatchObject({
        status: 'failed',
        error: { code: 'PlatformRestarted' },
      });
      expect(await after.endpoints.get({ ...running, environment: 'local' })).toMatchObject({ status: 'running' });
      expect(second.platform.clusters.get('local')?.resolveVersion('rec', 'iris', running.version)).toBeDefined();
    } finally {
      await second.stop();
    }
  });
});
