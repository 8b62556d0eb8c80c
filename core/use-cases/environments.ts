import type { Deps } from '../ports.js';
import type { Environment, EnvironmentView, Page } from '../schemas/index.js';

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

export const listEnvironments = (deps: Pick<Deps, 'environments'>): Page<EnvironmentView> => ({
  items: deps.environments.all.map(view),
  nextCursor: null,
});

export const getEnvironment = (deps: Pick<Deps, 'environments'>, name: string): EnvironmentView =>
  view(deps.environments.get(name));
