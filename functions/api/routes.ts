/**
 * The API's route table: the single list both runtimes read. `infra/` gives each entry an HTTP API route integrated
 * with a Lambda built from `functions/api/<entry>.ts`; `local/` matches requests against the same paths and invokes
 * the same module's `handler`. Paths use API Gateway's `{var}` syntax. Literal segments win over variables, as on
 * API Gateway. API Gateway does not allow ":" in a route path, so the `artifact:upload` / `artifact:complete` custom
 * methods share one `{action}` route.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteEntry {
  method: HttpMethod;
  path: string;
  /** File name in functions/api without extension; the module exports `handler` and `route`. */
  entry: string;
  /** The route starts workflow executions (its function alone may call states:StartExecution). */
  startsWorkflow?: true;
  /** The route encrypts secret values (its function alone may have KMS make data keys with the secrets key). */
  encryptsSecrets?: true;
}

const VERSION = '/v1/projects/{project}/models/{model}/versions/{version}';

export const API_ROUTES: readonly RouteEntry[] = [
  { method: 'GET', path: '/healthz', entry: 'get-health' },
  { method: 'GET', path: '/v1/openapi.json', entry: 'get-openapi' },
  { method: 'GET', path: '/v1/environments', entry: 'list-environments' },
  { method: 'GET', path: '/v1/environments/{environment}', entry: 'get-environment' },
  { method: 'POST', path: '/v1/projects', entry: 'create-project' },
  { method: 'GET', path: '/v1/projects', entry: 'list-projects' },
  { method: 'GET', path: '/v1/projects/{project}', entry: 'get-project' },
  { method: 'PATCH', path: '/v1/projects/{project}', entry: 'patch-project' },
  { method: 'DELETE', path: '/v1/projects/{project}', entry: 'delete-project' },
  { method: 'POST', path: '/v1/projects/{project}/models', entry: 'create-model' },
  { method: 'GET', path: '/v1/projects/{project}/models', entry: 'list-models' },
  { method: 'GET', path: '/v1/projects/{project}/models/{model}', entry: 'get-model' },
  { method: 'PATCH', path: '/v1/projects/{project}/models/{model}', entry: 'patch-model' },
  { method: 'DELETE', path: '/v1/projects/{project}/models/{model}', entry: 'delete-model' },
  { method: 'POST', path: '/v1/projects/{project}/models/{model}/versions', entry: 'create-version' },
  { method: 'GET', path: '/v1/projects/{project}/models/{model}/versions', entry: 'list-versions' },
  { method: 'GET', path: VERSION, entry: 'get-version' },
  { method: 'PATCH', path: VERSION, entry: 'patch-version' },
  { method: 'DELETE', path: VERSION, entry: 'delete-version' },
  { method: 'POST', path: `${VERSION}/{action}`, entry: 'post-artifact-action' },
  { method: 'GET', path: `${VERSION}/artifact`, entry: 'get-artifact' },
  { method: 'POST', path: `${VERSION}/endpoints`, entry: 'deploy-version', startsWorkflow: true },
  { method: 'GET', path: `${VERSION}/endpoints`, entry: 'list-version-endpoints' },
  { method: 'GET', path: `${VERSION}/endpoints/{environment}`, entry: 'get-version-endpoint' },
  {
    method: 'PATCH',
    path: `${VERSION}/endpoints/{environment}`,
    entry: 'redeploy-version',
    startsWorkflow: true,
  },
  { method: 'DELETE', path: `${VERSION}/endpoints/{environment}`, entry: 'undeploy-version', startsWorkflow: true },
  { method: 'GET', path: `${VERSION}/endpoints/{environment}/deployments`, entry: 'list-endpoint-deployments' },
  { method: 'GET', path: `${VERSION}/endpoints/{environment}/logs`, entry: 'get-endpoint-logs' },
  { method: 'GET', path: '/v1/projects/{project}/models/{model}/endpoints', entry: 'list-model-endpoints' },
  { method: 'GET', path: '/v1/projects/{project}/models/{model}/endpoints/{environment}', entry: 'get-model-endpoint' },
  {
    method: 'PUT',
    path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
    entry: 'put-model-endpoint',
    startsWorkflow: true,
  },
  {
    method: 'DELETE',
    path: '/v1/projects/{project}/models/{model}/endpoints/{environment}',
    entry: 'delete-model-endpoint',
    startsWorkflow: true,
  },
  { method: 'GET', path: '/v1/deployments/{id}', entry: 'get-deployment' },
  { method: 'GET', path: '/v1/projects/{project}/secrets', entry: 'list-secrets' },
  { method: 'PUT', path: '/v1/projects/{project}/secrets/{name}', entry: 'put-secret', encryptsSecrets: true },
  { method: 'GET', path: '/v1/projects/{project}/secrets/{name}', entry: 'get-secret' },
  { method: 'DELETE', path: '/v1/projects/{project}/secrets/{name}', entry: 'delete-secret' },
];
