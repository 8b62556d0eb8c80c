/**
 * The API's route table: the single list both runtimes read. Each route belongs to a group: `infra/` builds one
 * Lambda per group from `functions/api/groups/<group>.ts` (which dispatches on the route key to the route's
 * `functions/api/<entry>.ts` handler) and gives each entry an HTTP API route integrated with its group's function;
 * `local/` matches requests against the same paths and invokes the same group handler. A group's function gets the
 * permissions its routes declare here (startsWorkflow, encryptsSecrets, artifacts, readsClusters) and no others. Paths use API Gateway's `{var}` syntax. Literal segments win over variables, as on
 * API Gateway. API Gateway does not allow ":" in a route path, so the `artifact:upload` / `artifact:complete` custom
 * methods share one `{action}` route.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One Lambda each on AWS (functions/api/groups/<group>.ts); small enough bundles, few cold starts. */
export const ROUTE_GROUPS = ['meta', 'projects', 'models', 'versions', 'deployments', 'endpoints', 'secrets'] as const;
export type RouteGroup = (typeof ROUTE_GROUPS)[number];

export interface RouteEntry {
  method: HttpMethod;
  path: string;
  /** File name in functions/api without extension; the module exports `handler` and `route`. */
  entry: string;
  /** The Lambda that serves the route. */
  group: RouteGroup;
  /** The route starts workflow executions (its group alone may call states:StartExecution). */
  startsWorkflow?: true;
  /** The route encrypts secret values (its group alone may have KMS make data keys with the secrets key). */
  encryptsSecrets?: true;
  /**
   * The route uses artifact files under the bucket's artifacts prefix: `delete` only removes them (cascading deletes);
   * `readWrite` also presigns uploads and downloads and reads them (its group gets the bucket key's data keys).
   */
  artifacts?: 'delete' | 'readWrite';
  /** The route reads from clusters (model-server logs): its group may describe the environments' EKS clusters. */
  readsClusters?: true;
}

const VERSION = '/v1/projects/{project}/models/{model}/versions/{version}';

export const API_ROUTES: readonly RouteEntry[] = [
  { method: 'GET', path: '/healthz', entry: 'get-health', group: 'meta' },
  { method: 'GET', path: '/v1/openapi.json', entry: 'get-openapi', group: 'meta' },
  { method: 'GET', path: '/v1/environments', entry: 'list-environments', group: 'meta' },
  { method: 'GET', path: '/v1/environments/{environment}', entry: 'get-environment', group: 'meta' },
  { method: 'POST', path: '/v1/projects', entry: 'create-project', group: 'projects' },
  { method: 'GET', path: '/v1/projects', entry: 'list-projects', group: 'projects' },
  { method: 'GET', path: '/v1/projects/{project}', entry: 'get-project', group: 'projects' },
  { method: 'PATCH', path: '/v1/projects/{project}', entry: 'patch-project', group: 'projects' },
  { method: 'DELETE', path: '/v1/projects/{project}', entry: 'delete-project', group: 'projects', artifacts: 'delete' },
  { method: 'POST', path: '/v1/projects/{project}/models', entry: 'create-model', group: 'models' },
  { method: 'GET', path: '/v1/projects/{project}/models', entry: 'list-models', group: 'models' },
  { method: 'GET', path: '/v1/projects/{project}/models/{model}', entry: 'get-model', group: 'models' },
  { method: 'PATCH', path: '/v1/projects/{project}/models/{model}', entry: 'patch-model', group: 'models' },
  {
    method: 'DELETE',
    path: '/v1/projects/{project}/models/{model}',
    entry: 'delete-model',
    group: 'models',
    artifacts: 'delete',
  },
  {
    method: 'POST',
    path: '/v1/projects/{project}/models/{model}/versions',
    entry: 'create-version',
    group: 'versions',
  },
  { method: 'GET', path: '/v1/projects/{project}/models/{model}/versions', entry: 'list-versions', group: 'versions' },
  { method: 'GET', path: VERSION, entry: 'get-version', group: 'versions' },
  { method: 'PATCH', path: VERSION, entry: 'patch-version', group: 'versions' },
  { method: 'DELETE', path: VERSION, entry: 'delete-version', group: 'versions', artifacts: 'delete' },
  {
    method: 'POST',
    path: `${VERSION}/{action}`,
    entry: 'post-artifact-action',
    group: 'versions',
    artifacts: 'readWrite',
  },
  { method: 'GET', path: `${VERSION}/artifact`, entry: 'get-artifact', group: 'versions', artifacts: 'readWrite' },
  { method: 'POST', path: `${VERSION}/endpoints`, entry: 'deploy-version', group: 'deployments', startsWorkflow: true },
  { method: 'GET', path: `${VERSION}/endpoints`, entry: 'list-version-endpoints', group: 'endpoints' },
  { method: 'GET', path: `${VERSION}/endpoints/{environment}`, entry: 'get-version-endpoint', group: 'endpoints' },
  {
    method: 'PATCH',
    path: `${VERSION}/endpoints/{environment}`,
    entry: 'redeploy-version',
    group: 'deployments',
    startsWorkflow: true,
  },
  {
    method: 'DELETE',
    path: `${VERSION}/endpoints/{environment}`,
    entry: 'undeploy-version',
    group: 'deployments',
    startsWorkflow: true,
  },
  {
    method: 'GET',
    path: `${VERSION}/endpoints/{environment}/deployments`,
    entry: 'list-endpoint-deployments',
    group: 'endpoints',
  },
  {
    method: 'GET',
    path: `${VERSION}/endpoints/{environment}/logs`,
    entry: 'get-endpoint-logs',
    group: 'endpoints',
    readsClusters: true,
  },
  {
    method: 'GET',
    path: '/v1/projects/{project}/models/{model}/endpoints',
    entry: 'list-model-endpoints',
    group: 'endpoints',
  },
  {
    method: 'GET',
    path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
    entry: 'get-model-endpoint',
    group: 'endpoints',
  },
  {
    method: 'PUT',
    path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
    entry: 'put-model-endpoint',
    group: 'deployments',
    startsWorkflow: true,
  },
  {
    method: 'DELETE',
    path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
    entry: 'delete-model-endpoint',
    group: 'deployments',
    startsWorkflow: true,
  },
  { method: 'GET', path: '/v1/deployments/{id}', entry: 'get-deployment', group: 'endpoints' },
  { method: 'GET', path: '/v1/projects/{project}/secrets', entry: 'list-secrets', group: 'secrets' },
  {
    method: 'PUT',
    path: '/v1/projects/{project}/secrets/{name}',
    entry: 'put-secret',
    group: 'secrets',
    encryptsSecrets: true,
  },
  { method: 'GET', path: '/v1/projects/{project}/secrets/{name}', entry: 'get-secret', group: 'secrets' },
  { method: 'DELETE', path: '/v1/projects/{project}/secrets/{name}', entry: 'delete-secret', group: 'secrets' },
];
