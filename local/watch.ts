/**
 * A model server that dies after it was ready leaves its endpoint without a process. On EKS the kubelet restarts
 * the pod; locally nothing does, so the endpoint is marked failed with the reason instead of claiming to run.
 */
import type { Deps, EndpointKey } from '../core/ports.js';
import type { VersionEndpoint } from '../core/schemas/index.js';
import { updateItem } from '../core/update.js';

/** `namespace/{model}-{version}-r{n}` as the process cluster names revisions. */
const parseRevisionKey = (key: string) => {
  const m = /^([^/]+)\/(.+)-(\d+)-r(\d+)$/.exec(key);
  return m ? { project: m[1]!, model: m[2]!, version: Number(m[3]), name: key.slice(m[1]!.length + 1) } : undefined;
};

export async function markCrashedRevision(deps: Deps, environment: string, revisionKey: string, reason: string) {
  const r = parseRevisionKey(revisionKey);
  if (!r) return;
  const key: EndpointKey = { project: r.project, model: r.model, version: r.version, environment };
  const endpoint = await deps.endpoints.get(key);
  if (endpoint?.status !== 'running' || endpoint.activeRevision?.name !== r.name) return;
  await updateItem(deps.endpoints, key, (cur): VersionEndpoint => {
    if (cur.status !== 'running' || cur.activeRevision?.name !== r.name) return cur;
    return { ...cur, status: 'failed', message: reason, updatedAt: deps.clock.now().toISOString() };
  });
}
