import type { Deps } from '../ports.js';
import type { Environment, EnvironmentView, ListQuery, Page } from '../schemas/index.js';

const view = (e: Environment): EnvironmentView => ({
  name: e.name,
  isDefault: e.isDefault,
  cluster: e.cluster,
  servingUrl: e.servingUrl,
  defaults: e.defaults,
  limits: e.limits,
  maxActiveVersionsPerModel: e.maxActiveVersionsPerModel,
  deploymentTimeoutSeconds: e.deploymentTimeoutSeconds,
});

/** The declared environments by name, with the same `search`/`limit`/`cursor` as every list. */
export function listEnvironments(deps: Pick<Deps, 'environments'>, query: ListQuery): Page<EnvironmentView> {
  const after = query.cursor === undefined ? undefined : Buffer.from(query.cursor, 'base64url').toString('utf8');
  const matching = [...deps.environments.all]
    .sort((a, b) => a.name.localeCompare(b.name))
    .filter((e) => (!query.search || e.name.startsWith(query.search)) && (after === undefined || e.name > after));
  const items = matching.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items: items.map(view),
    nextCursor: matching.length > query.limit && last ? Buffer.from(last.name).toString('base64url') : null,
  };
}

export const getEnvironment = (deps: Pick<Deps, 'environments'>, name: string): EnvironmentView =>
  view(deps.environments.get(name));
