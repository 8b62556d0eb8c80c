/** Recent output of a version endpoint's model server (DESIGN §4 `…/endpoints/{env}/logs`). */
import { NotFoundError } from '../errors.js';
import { describeEndpoint, revisionIdentity } from '../names.js';
import type { Deps, EndpointKey } from '../ports.js';
import type { LogsQuery } from '../schemas/index.js';
import { getDeployment } from './deployments.js';

/** The time of a JSON log line (`time`, `timestamp` or `ts`), if it has one. */
const timeOf = (line: string): number | undefined => {
  if (!line.startsWith('{')) return undefined;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const t = o.time ?? o.timestamp ?? o.ts;
    const ms = typeof t === 'string' ? Date.parse(t) : typeof t === 'number' ? t : Number.NaN;
    return Number.isNaN(ms) ? undefined : ms;
  } catch {
    return undefined;
  }
};

/**
 * The last `tail` lines of the endpoint's serving revision (or, when nothing serves, of the revision its latest
 * deployment tried — the one whose failure the user is looking into); with `since`, only lines logged from then on
 * (lines without a time of their own follow the line before them).
 */
export async function getEndpointLogs(
  deps: Pick<Deps, 'endpoints' | 'deployments' | 'clusters' | 'clock'>,
  key: EndpointKey,
  query: LogsQuery,
) {
  const endpoint = await deps.endpoints.get(key);
  if (!endpoint) throw new NotFoundError(`${describeEndpoint(key)} has never been deployed`, { ...key });
  const number =
    query.revision ??
    endpoint.activeRevision?.number ??
    (await getDeployment(deps, endpoint.deploymentId)).targetRevision?.number;
  if (number === undefined) throw new NotFoundError(`${describeEndpoint(key)} has no revision with logs`);
  const revision = revisionIdentity(key, number);
  const all = await deps.clusters.forEnvironment(key.environment).revisionLogs(revision, { tail: 10_000 });
  let lines = all;
  if (query.since) {
    const since = query.since(deps.clock.now());
    let keep = false;
    lines = all.filter((line) => {
      const t = timeOf(line);
      if (t !== undefined) keep = t >= since;
      return keep;
    });
  }
  return { ...key, revision: revision.name, lines: lines.slice(-query.tail) };
}
