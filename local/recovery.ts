/**
 * After a restart of the local platform nothing runs: model servers died with it. This brings back every endpoint
 * that was running, re-applies the model endpoint rules, and closes deployments that were interrupted, so that no
 * endpoint is left `pending` and every `running` one really serves (or is `failed` with the reason).
 */

import type { ProcessCluster } from '../adapters/local/process-cluster.js';
import { revisionIdentity } from '../core/names.js';
import type { Deps, EndpointKey } from '../core/ports.js';
import type { VersionEndpoint } from '../core/schemas/index.js';
import { updateItem } from '../core/update.js';
import { getModel, getVersion } from '../core/use-cases/catalog.js';
import { resolveSecretEnv } from '../core/use-cases/secrets.js';
import { recordFailure } from '../core/use-cases/workflows.js';

const INTERRUPTED = {
  Error: 'PlatformRestarted',
  Cause: 'the local platform stopped while this deployment was in progress; run it again',
};

export interface RecoveryReport {
  restored: string[];
  failed: { endpoint: string; reason: string }[];
  interrupted: string[];
}

export async function recoverEnvironment(
  deps: Deps,
  environment: string,
  cluster: ProcessCluster,
): Promise<RecoveryReport> {
  const report: RecoveryReport = { restored: [], failed: [], interrupted: [] };
  const env = deps.environments.get(environment);

  for (const e of await deps.endpoints.listForEnvironment(environment)) {
    if (e.status !== 'pending') continue;
    await recordFailure(deps, { deploymentId: e.deploymentId, error: INTERRUPTED });
    report.interrupted.push(e.deploymentId);
  }
  for (const me of await deps.modelEndpoints.listForEnvironment(environment)) {
    if (me.status !== 'pending') continue;
    await recordFailure(deps, { deploymentId: me.deploymentId, error: INTERRUPTED });
    report.interrupted.push(me.deploymentId);
  }

  const running = (await deps.endpoints.listForEnvironment(environment)).filter(
    (e) => e.status === 'running' && e.activeRevision,
  );
  await Promise.all(
    running.map(async (e) => {
      const key: EndpointKey = { project: e.project, model: e.model, version: e.version, environment };
      const name = `${e.project}/${e.model}@${e.version}`;
      const revision = revisionIdentity(key, e.activeRevision!.number);
      try {
        const [model, version, secretEnv] = await Promise.all([
          getModel(deps, key),
          getVersion(deps, key),
          resolveSecretEnv(deps, e.project, e.secrets ?? {}),
        ]);
        await cluster.applyRevision({
          ...revision,
          modelType: model.type,
          artifactUri: version.artifact.uri,
          modelFile: version.modelFile,
          resources: e.resources,
          env: e.env,
          secretEnv,
          serving: e.serving ?? {},
          ...(version.custom && { custom: version.custom }),
        });
        await cluster.routeVersion(key, revision);
        const status = await cluster.revisionStatus(revision, { waitMs: env.deploymentTimeoutSeconds * 1000 });
        if (status.state === 'ready') return void report.restored.push(name);
        const reason =
          status.state === 'failed'
            ? status.reason
            : `not ready ${env.deploymentTimeoutSeconds}s after the restart (${status.state})`;
        throw new Error(reason);
      } catch (err) {
        const reason = `could not be brought back after a restart: ${(err as Error).message}`;
        await cluster.deleteRevision(revision).catch(() => undefined);
        await cluster.unrouteVersion(key).catch(() => undefined);
        await updateItem(
          deps.endpoints,
          key,
          (cur): VersionEndpoint => ({
            ...cur,
            status: 'failed',
            activeRevision: null,
            message: reason,
            updatedAt: deps.clock.now().toISOString(),
          }),
        );
        report.failed.push({ endpoint: name, reason });
      }
    }),
  );

  for (const me of await deps.modelEndpoints.listForEnvironment(environment)) {
    if (me.status === 'serving' && me.rule) await cluster.applyModelRoute(me, me.rule);
  }
  return report;
}
