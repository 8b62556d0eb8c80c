/**
 * Project secrets: write-only values, encrypted at rest, injected into model servers as environment variables named
 * by an endpoint's `secrets` mapping. The API only ever shows metadata; the plaintext leaves core only towards a
 * cluster (RevisionSpec.secretEnv).
 */
import { ConflictError, NotFoundError, PreconditionFailedError, UnprocessableError } from '../errors.js';
import { describeEndpoint } from '../names.js';
import type { Deps, ProjectKey, SecretKey } from '../ports.js';
import type { ListQuery, Page, PutSecretBody, Secret, StoredSecret, VersionEndpoint } from '../schemas/index.js';
import { isoNow } from '../time.js';
import { checkIfMatch } from '../update.js';
import { getProject } from './catalog.js';
import { concurrentChange } from './deployments.js';

/** The metadata of a stored secret (what the API answers): never the value, nor how it is encrypted. */
export const presentSecret = (s: StoredSecret): Secret => ({
  project: s.project,
  name: s.name,
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
  revision: s.revision,
});

const notFound = (key: SecretKey): NotFoundError =>
  new NotFoundError(`secret "${key.name}" not found in project "${key.project}"`, {
    project: key.project,
    name: key.name,
  });

/** How many times a PUT re-reads and retries when a concurrent PUT or DELETE of the same secret won the race. */
const PUT_ATTEMPTS = 5;

/**
 * Creates or replaces a secret (PUT …/secrets/{name}). The value is encrypted bound to its project and name before
 * it is stored. `created` tells a create (201) from a replace (200). With `ifMatch` only that revision is replaced
 * (412 otherwise, also when the secret does not exist); without it the last writer wins.
 */
export async function putSecret(
  deps: Pick<Deps, 'projects' | 'secrets' | 'cipher' | 'clock'>,
  key: SecretKey,
  body: PutSecretBody,
  ifMatch?: number,
): Promise<{ secret: Secret; created: boolean }> {
  await getProject(deps, key);
  const what = `secret "${key.name}" of project "${key.project}"`;
  const encrypted = await deps.cipher.encrypt(body.value, { project: key.project, name: key.name });
  for (let attempt = 1; ; attempt++) {
    const existing = await deps.secrets.get(key);
    if (ifMatch !== undefined) {
      if (!existing) {
        throw new PreconditionFailedError(`${what} does not exist, so If-Match ${ifMatch} cannot match`, {
          revision: null,
        });
      }
      checkIfMatch(existing, ifMatch, what);
    }
    const now = isoNow(deps.clock);
    const item: StoredSecret = {
      project: key.project,
      name: key.name,
      ...encrypted,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
      revision: (existing?.revision ?? 0) + 1,
    };
    try {
      await deps.secrets.put(item, existing ? existing.revision : 'absent');
      return { secret: presentSecret(item), created: !existing };
    } catch (e) {
      if (!(e instanceof ConflictError) || attempt >= PUT_ATTEMPTS) {
        throw e instanceof ConflictError ? concurrentChange(`secret "${key.name}"`) : e;
      }
    }
  }
}

export async function getSecret(deps: Pick<Deps, 'secrets'>, key: SecretKey): Promise<Secret> {
  const stored = await deps.secrets.get(key);
  if (!stored) throw notFound(key);
  return presentSecret(stored);
}

export async function listSecrets(
  deps: Pick<Deps, 'projects' | 'secrets'>,
  key: ProjectKey,
  query: ListQuery,
): Promise<Page<Secret>> {
  await getProject(deps, key);
  const page = await deps.secrets.list(key, query);
  return { items: page.items.map(presentSecret), nextCursor: page.nextCursor };
}

/** A version endpoint that needs a secret, and the variables it maps to it. */
export interface SecretUse {
  project: string;
  model: string;
  version: number;
  environment: string;
  status: VersionEndpoint['status'];
  variables: string[];
  /** The version endpoint's API path. */
  endpoint: string;
}

const variablesNaming = (mapping: Record<string, string> | undefined, name: string): string[] =>
  Object.entries(mapping ?? {})
    .filter(([, secret]) => secret === name)
    .map(([variable]) => variable)
    .sort();

/**
 * The pending and running version endpoints of the project that map an environment variable to the secret: by
 * their stored mapping, or (pending ones) by the mapping of the deployment in flight.
 */
export async function secretUses(
  deps: Pick<Deps, 'endpoints' | 'deployments' | 'environments'>,
  key: SecretKey,
): Promise<SecretUse[]> {
  const uses: SecretUse[] = [];
  for (const env of deps.environments.all) {
    const endpoints = await deps.endpoints.listForEnvironment(env.name);
    for (const e of endpoints) {
      if (e.project !== key.project || (e.status !== 'pending' && e.status !== 'running')) continue;
      const variables = new Set(variablesNaming(e.secrets, key.name));
      if (e.status === 'pending') {
        const inFlight = await deps.deployments.get({ id: e.deploymentId });
        for (const v of variablesNaming(inFlight?.request.secrets, key.name)) variables.add(v);
      }
      if (variables.size === 0) continue;
      uses.push({
        project: e.project,
        model: e.model,
        version: e.version,
        environment: e.environment,
        status: e.status,
        variables: [...variables].sort(),
        endpoint: `/v1/projects/${e.project}/models/${e.model}/versions/${e.version}/endpoints/${e.environment}`,
      });
    }
  }
  return uses;
}

/**
 * Deletes a secret (DELETE …/secrets/{name}). Refused with 409 SECRET_IN_USE while a pending or running version
 * endpoint of the project maps a variable to it: a restart or redeploy of that endpoint would fail.
 */
export async function deleteSecret(
  deps: Pick<Deps, 'secrets' | 'endpoints' | 'deployments' | 'environments'>,
  key: SecretKey,
  ifMatch?: number,
): Promise<void> {
  const stored = await deps.secrets.get(key);
  if (!stored) throw notFound(key);
  checkIfMatch(stored, ifMatch, `secret "${key.name}" of project "${key.project}"`);
  const uses = await secretUses(deps, key);
  if (uses.length > 0) {
    const list = uses.map((u) => `${describeEndpoint(u)} (${u.variables.join(', ')})`).join('; ');
    throw new ConflictError(
      `secret "${key.name}" is used by ${uses.length === 1 ? 'the version endpoint' : 'the version endpoints'} ${list}; undeploy ${uses.length === 1 ? 'it' : 'them'} or redeploy without the secret first`,
      { endpoints: uses },
      'SECRET_IN_USE',
    );
  }
  try {
    await deps.secrets.delete(key, stored.revision);
  } catch (e) {
    throw e instanceof ConflictError ? concurrentChange(`secret "${key.name}"`) : e;
  }
}

/**
 * Removes every secret of a project (for deleting the project: a project created again under the same name must not
 * find the old values). Secrets are not versioned, so nothing else refers to them once no endpoint runs.
 */
export async function deleteProjectSecrets(deps: Pick<Deps, 'secrets'>, key: ProjectKey): Promise<number> {
  let deleted = 0;
  for (;;) {
    // Always the first page: what was deleted is gone from it, so no cursor is needed (or valid) after deletes.
    const page = await deps.secrets.list(key, { limit: 100 });
    for (const s of page.items) await deps.secrets.delete({ project: key.project, name: s.name });
    deleted += page.items.length;
    if (page.nextCursor === null) return deleted;
  }
}

const missingSecrets = (project: string, missing: string[]): UnprocessableError =>
  new UnprocessableError(
    `${missing.length === 1 ? 'secret' : 'secrets'} ${missing.map((n) => `"${n}"`).join(', ')} not found in project "${project}"; create ${missing.length === 1 ? 'it' : 'them'} first (PUT /v1/projects/${project}/secrets/{name})`,
    { project, missing },
    'SECRET_NOT_FOUND',
  );

/** Checks that every secret a deploy maps exists (422 SECRET_NOT_FOUND naming the missing ones). */
export async function assertSecretsExist(
  deps: Pick<Deps, 'secrets'>,
  project: string,
  mapping: Record<string, string> | undefined,
): Promise<void> {
  const names = [...new Set(Object.values(mapping ?? {}))].sort();
  const found = await Promise.all(names.map((name) => deps.secrets.get({ project, name })));
  const missing = names.filter((_, i) => !found[i]);
  if (missing.length > 0) throw missingSecrets(project, missing);
}

/**
 * The plaintext environment of a secrets mapping: `{ENV_VAR: value}`. Each secret is read and decrypted once, bound
 * to its project and name. 422 SECRET_NOT_FOUND names the secrets that are gone.
 */
export async function resolveSecretEnv(
  deps: Pick<Deps, 'secrets' | 'cipher'>,
  project: string,
  mapping: Record<string, string>,
): Promise<Record<string, string>> {
  const names = [...new Set(Object.values(mapping))].sort();
  const stored = await Promise.all(names.map((name) => deps.secrets.get({ project, name })));
  const missing = names.filter((_, i) => !stored[i]);
  if (missing.length > 0) throw missingSecrets(project, missing);
  const values = new Map(
    await Promise.all(
      stored.map(async (s) => [s!.name, await deps.cipher.decrypt(s!, { project, name: s!.name })] as const),
    ),
  );
  return Object.fromEntries(Object.entries(mapping).map(([variable, name]) => [variable, values.get(name)!]));
}
