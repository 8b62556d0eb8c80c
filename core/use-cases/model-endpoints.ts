/** Model endpoints: the stable per-model address and its routing rule. */
import { ConflictError, NotFoundError, UnprocessableError, ValidationError } from '../errors.js';
import { modelEndpointUrl } from '../names.js';
import type { Deps, ModelEndpointKey, ModelKey } from '../ports.js';
import type { Deployment, ListQuery, ModelEndpoint, Page, PutModelEndpointBody, RouteRule } from '../schemas/index.js';
import { checkIfMatch } from '../update.js';
import { getModel } from './catalog.js';
import { beginDeployment, concurrentChange, newDeployment } from './deployments.js';

type ModelEndpointDeps = Pick<
  Deps,
  'models' | 'endpoints' | 'modelEndpoints' | 'deployments' | 'workflows' | 'environments' | 'clock' | 'ids'
>;

/** Shape rules of a routing rule that need no lookups: weights sum to 100, no version named twice. */
export function checkRuleShape(rule: RouteRule): void {
  const sum = rule.destinations.reduce((a, d) => a + d.weight, 0);
  if (sum !== 100) {
    throw new ValidationError(`destination weights must sum to 100, they sum to ${sum}`, {
      weights: rule.destinations.map((d) => d.weight),
    });
  }
  const seen = new Set<number>();
  for (const d of rule.destinations) {
    if (seen.has(d.version)) throw new ValidationError(`version ${d.version} is named twice in destinations`);
    seen.add(d.version);
  }
  if (rule.mirror && seen.has(rule.mirror.version)) {
    throw new ValidationError(
      `the mirror version ${rule.mirror.version} is also a destination; mirror another version`,
    );
  }
}

/**
 * Every version a rule names must have a running version endpoint in the environment. Returns the problems
 * (empty when the rule can be carried out).
 */
export async function ruleProblems(
  deps: Pick<Deps, 'endpoints'>,
  key: ModelEndpointKey,
  rule: RouteRule,
): Promise<string[]> {
  const versions = [...rule.destinations.map((d) => d.version), ...(rule.mirror ? [rule.mirror.version] : [])];
  const endpoints = await Promise.all(versions.map((version) => deps.endpoints.get({ ...key, version })));
  return versions.flatMap((version, i) => {
    const e = endpoints[i];
    if (!e) return [`version ${version} has no endpoint in environment "${key.environment}"; deploy it first`];
    if (e.status !== 'running') return [`the version ${version} endpoint is ${e.status}, not running`];
    return [];
  });
}

/**
 * Sets the routing rule of a model endpoint (PUT …/endpoints/{env}); creates the endpoint on first use. The rule is
 * carried out by the update-route workflow; the answer is its Deployment.
 */
const inProgress = (key: ModelEndpointKey, me: ModelEndpoint) =>
  new ConflictError(
    `the model endpoint ${key.project}/${key.model} in "${key.environment}" is being changed by deployment ${me.deploymentId}; wait for it (GET /v1/deployments/${me.deploymentId})`,
    { deploymentId: me.deploymentId },
    'DEPLOYMENT_IN_PROGRESS',
  );

export async function putModelEndpoint(
  deps: ModelEndpointDeps,
  key: ModelEndpointKey,
  body: PutModelEndpointBody,
  ifMatch?: number,
): Promise<Deployment> {
  const env = deps.environments.get(key.environment);
  await getModel(deps, key);
  checkRuleShape(body.rule);
  const problems = await ruleProblems(deps, key, body.rule);
  if (problems.length > 0) {
    throw new UnprocessableError(
      `the rule cannot be carried out: ${problems.join('; ')}`,
      { problems },
      'RULE_INVALID',
    );
  }
  const existing = await deps.modelEndpoints.get(key);
  if (existing)
    checkIfMatch(existing, ifMatch, `the model endpoint ${key.project}/${key.model} in "${key.environment}"`);
  if (existing?.status === 'pending') throw inProgress(key, existing);
  const deployment = newDeployment(deps, {
    kind: 'route',
    project: key.project,
    model: key.model,
    environment: key.environment,
    request: { rule: body.rule },
  });
  const now = deployment.createdAt;
  const pending: ModelEndpoint = existing
    ? { ...existing, status: 'pending', deploymentId: deployment.id, updatedAt: now, revision: existing.revision + 1 }
    : {
        ...key,
        url: modelEndpointUrl(env, key),
        status: 'pending',
        rule: null,
        deploymentId: deployment.id,
        createdAt: now,
        updatedAt: now,
        revision: 1,
      };
  return beginDeployment(
    deps,
    deployment,
    {
      repo: deps.modelEndpoints,
      item: pending,
      expected: existing ? existing.revision : 'absent',
      conflict: async () => concurrentChange(`the model endpoint ${key.project}/${key.model} in "${key.environment}"`),
    },
    () =>
      deps.modelEndpoints.put(
        existing ? { ...existing, revision: pending.revision + 1 } : { ...pending, status: 'failed', revision: 2 },
        pending.revision,
      ),
  );
}

export async function getModelEndpoint(deps: Pick<Deps, 'modelEndpoints'>, key: ModelEndpointKey) {
  const me = await deps.modelEndpoints.get(key);
  if (!me) {
    throw new NotFoundError(
      `model ${key.project}/${key.model} has no model endpoint in environment "${key.environment}"; create one with PUT`,
      { ...key },
    );
  }
  return me;
}

export async function listModelEndpoints(
  deps: Pick<Deps, 'models' | 'modelEndpoints'>,
  key: ModelKey,
  query: ListQuery,
): Promise<Page<ModelEndpoint>> {
  await getModel(deps, key);
  return deps.modelEndpoints.listForModel(key, query);
}

/**
 * Takes a model endpoint down (DELETE …/endpoints/{env}): its address stops answering and its version endpoints are
 * no longer serving (they keep running). The record stays, `terminated`, with its history.
 */
export async function deleteModelEndpoint(
  deps: ModelEndpointDeps,
  key: ModelEndpointKey,
  ifMatch: number | undefined,
): Promise<Deployment> {
  deps.environments.get(key.environment);
  const existing = await getModelEndpoint(deps, key);
  checkIfMatch(existing, ifMatch, `the model endpoint ${key.project}/${key.model} in "${key.environment}"`);
  if (existing.status === 'pending') throw inProgress(key, existing);
  if (existing.status === 'terminated') {
    throw new ConflictError(
      `the model endpoint ${key.project}/${key.model} in "${key.environment}" is already terminated`,
      undefined,
      'ALREADY_TERMINATED',
    );
  }
  const deployment = newDeployment(deps, {
    kind: 'route',
    project: key.project,
    model: key.model,
    environment: key.environment,
    request: { removeRoute: true },
  });
  const pending: ModelEndpoint = {
    ...existing,
    status: 'pending',
    deploymentId: deployment.id,
    updatedAt: deployment.createdAt,
    revision: existing.revision + 1,
  };
  return beginDeployment(
    deps,
    deployment,
    {
      repo: deps.modelEndpoints,
      item: pending,
      expected: existing.revision,
      conflict: async () => concurrentChange(`the model endpoint ${key.project}/${key.model} in "${key.environment}"`),
    },
    () => deps.modelEndpoints.put({ ...existing, revision: pending.revision + 1 }, pending.revision),
  );
}
