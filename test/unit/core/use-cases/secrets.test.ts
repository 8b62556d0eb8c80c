import { beforeEach, describe, expect, it } from 'vitest';
import {
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  UnprocessableError,
  ValidationError,
} from '../../../../core/errors.js';
import { deployBody, putSecretBody, type StoredSecret } from '../../../../core/schemas/index.js';
import { deployVersion } from '../../../../core/use-cases/endpoints.js';
import {
  deleteProjectSecrets,
  deleteSecret,
  getSecret,
  listSecrets,
  putSecret,
  resolveSecretEnv,
  secretUses,
} from '../../../../core/use-cases/secrets.js';
import {
  endpointKey,
  type FakeDeps,
  givenModel,
  givenVersion,
  makeDeps,
  PROJECT,
  rejectionOf,
  runWorkflow,
  undeployAndRun,
  versionKey,
} from '../../../fakes/index.js';

let deps: FakeDeps;
beforeEach(async () => {
  deps = makeDeps();
  await givenModel(deps);
});

const TOKEN = 'tok-3f9a1c-very-secret';
const key = (name: string, project = PROJECT) => ({ project, name });
const METADATA_FIELDS = ['createdAt', 'name', 'project', 'revision', 'updatedAt'];

/** A version deployed with a secrets mapping, its workflow run to the end. */
async function givenDeployedWithSecrets(secrets: Record<string, string>, environment = 'local') {
  const version = await givenVersion(deps);
  const deployment = await deployVersion(deps, versionKey(version.version), { environment, secrets });
  const outcome = await runWorkflow(deps, deployment.id);
  return { deployment, outcome, key: endpointKey(version.version, environment) };
}

describe('Use case: putSecret', () => {
  it('should create a secret, store only its ciphertext bound to project and name, and answer metadata', async () => {
    // Act
    const { secret, created } = await putSecret(deps, key('api-token'), { value: TOKEN });

    // Assess
    expect(created).toBe(true);
    expect(secret).toEqual({
      project: PROJECT,
      name: 'api-token',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      revision: 1,
    });
    const stored = deps.secrets.peek(key('api-token'))!;
    expect(JSON.stringify(stored)).not.toContain(TOKEN);
    expect(stored.ciphertext).not.toBe(TOKEN);
    expect(stored).toMatchObject({ keyRef: 'fake-key-1', algorithm: 'FAKE-AES-256-GCM' });
    expect(deps.cipher.encrypted).toEqual([key('api-token')]);
    expect(await deps.cipher.decrypt(stored, key('api-token'))).toBe(TOKEN);
  });

  it('should replace the value of an existing secret: same createdAt, next revision, new ciphertext', async () => {
    await putSecret(deps, key('api-token'), { value: 'first' });
    const before = deps.secrets.peek(key('api-token'))!;
    deps.clock.advanceSeconds(60);

    const { secret, created } = await putSecret(deps, key('api-token'), { value: 'second' });

    expect(created).toBe(false);
    expect(secret).toMatchObject({
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:01:00.000Z',
      revision: 2,
    });
    const after = deps.secrets.peek(key('api-token'))!;
    expect(after.ciphertext).not.toBe(before.ciphertext);
    expect(await deps.cipher.decrypt(after, key('api-token'))).toBe('second');
  });

  it('should answer 404 for an unknown project and store nothing', async () => {
    const error = await rejectionOf(putSecret(deps, key('api-token', 'nowhere'), { value: TOKEN }));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('project "nowhere" not found');
    expect(deps.secrets.size).toBe(0);
  });

  it('should replace, not fail, when a concurrent PUT created the secret in between', async () => {
    // Prepare: another writer creates the secret just before this PUT writes
    deps.secrets.intercept('put', async () => {
      const other = await deps.cipher.encrypt('theirs', key('api-token'));
      deps.secrets.seed({ ...key('api-token'), ...other, createdAt: 'x', updatedAt: 'x', revision: 1 });
    });

    // Act
    const { secret, created } = await putSecret(deps, key('api-token'), { value: 'mine' });

    // Assess
    expect(created).toBe(false);
    expect(secret.revision).toBe(2);
    expect(await deps.cipher.decrypt(deps.secrets.peek(key('api-token'))!, key('api-token'))).toBe('mine');
  });

  it('should give up with 409 CONCURRENT_CHANGE when it keeps losing the race', async () => {
    deps.secrets.failNext('put', new ConflictError('changed', undefined, 'REVISION_MISMATCH'), 5);

    const error = await rejectionOf(putSecret(deps, key('api-token'), { value: TOKEN }));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('CONCURRENT_CHANGE');
  });

  it('should replace only the revision If-Match names (412 otherwise, and for a secret that does not exist)', async () => {
    await putSecret(deps, key('api-token'), { value: 'first' });

    const stale = await rejectionOf(putSecret(deps, key('api-token'), { value: 'stale' }, 2));
    const absent = await rejectionOf(putSecret(deps, key('new-one'), { value: 'x' }, 1));
    const { secret } = await putSecret(deps, key('api-token'), { value: 'second' }, 1);

    expect(stale).toBeInstanceOf(PreconditionFailedError);
    expect(stale.message).toBe(
      `secret "api-token" of project "${PROJECT}" is at revision 1, not 2 as If-Match says: it changed since you read it; read it again`,
    );
    expect(absent).toBeInstanceOf(PreconditionFailedError);
    expect(deps.secrets.peek(key('new-one'))).toBeUndefined();
    expect(secret.revision).toBe(2);
    expect(await deps.cipher.decrypt(deps.secrets.peek(key('api-token'))!, key('api-token'))).toBe('second');
  });

  it('should answer 412, not overwrite, when a concurrent PUT won the race under If-Match', async () => {
    await putSecret(deps, key('api-token'), { value: 'first' });
    deps.secrets.intercept('put', async () => {
      const s = deps.secrets.peek(key('api-token'))!;
      deps.secrets.seed({ ...s, revision: 2 });
    });

    const error = await rejectionOf(putSecret(deps, key('api-token'), { value: 'mine' }, 1));

    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect(deps.secrets.peek(key('api-token'))?.revision).toBe(2);
  });

  it('should not store anything when the cipher fails', async () => {
    deps.cipher.failWith(new Error('KMS is down'));

    await expect(putSecret(deps, key('api-token'), { value: TOKEN })).rejects.toThrow('KMS is down');
    expect(deps.secrets.size).toBe(0);
  });
});

describe('Schema: secret names and values', () => {
  it.each(['a', 'API_TOKEN', 'db.password', 'x-1', '9lives', 'a'.repeat(63)])('should accept the name %j', (name) => {
    expect(putSecretBody.safeParse({ value: 'v' }).success).toBe(true);
    expect(deployBody.safeParse({ secrets: { VAR: name } }).success).toBe(true);
  });

  it.each(['', '-a', '.a', '_a', 'a b', 'a/b', 'ä', 'a'.repeat(64)])('should refuse the name %j', (name) => {
    expect(deployBody.safeParse({ secrets: { VAR: name } }).success).toBe(false);
  });

  it('should take values up to 32 KiB of UTF-8, counting bytes, not characters', () => {
    expect(putSecretBody.safeParse({ value: 'a'.repeat(32 * 1024) }).success).toBe(true);
    expect(putSecretBody.safeParse({ value: 'a'.repeat(32 * 1024 + 1) }).success).toBe(false);
    expect(putSecretBody.safeParse({ value: 'é'.repeat(16 * 1024) }).success).toBe(true);
    expect(putSecretBody.safeParse({ value: 'é'.repeat(16 * 1024 + 1) }).success).toBe(false);
    expect(putSecretBody.safeParse({ value: '' }).success).toBe(false);
  });

  it('should allow at most 50 secrets per deploy, each under a valid variable name', () => {
    const mapping = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'api-token']));
    expect(deployBody.safeParse({ secrets: mapping(50) }).success).toBe(true);
    expect(deployBody.safeParse({ secrets: mapping(51) }).success).toBe(false);
    expect(deployBody.safeParse({ secrets: { '1BAD': 'api-token' } }).success).toBe(false);
  });
});

describe('Use case: getSecret and listSecrets', () => {
  it('should answer metadata only, never the value or how it is encrypted', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });

    const secret = await getSecret(deps, key('api-token'));

    expect(Object.keys(secret).sort()).toEqual(METADATA_FIELDS);
    expect(JSON.stringify(secret)).not.toContain(TOKEN);
  });

  it('should answer 404 for an unknown secret', async () => {
    const error = await rejectionOf(getSecret(deps, key('nope')));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe(`secret "nope" not found in project "${PROJECT}"`);
  });

  it("should page through a project's secrets by name, filter by prefix, and leave other projects out", async () => {
    await givenModel(deps, { model: { project: 'other-project', model: 'iris' } });
    for (const name of ['db.password', 'api-token', 'api-key', 'smtp', 'api-secret']) {
      await putSecret(deps, key(name), { value: `value of ${name}` });
    }
    await putSecret(deps, key('api-zzz', 'other-project'), { value: 'x' });

    const first = await listSecrets(deps, { project: PROJECT }, { limit: 2 });
    const second = await listSecrets(deps, { project: PROJECT }, { limit: 2, cursor: first.nextCursor! });
    const third = await listSecrets(deps, { project: PROJECT }, { limit: 2, cursor: second.nextCursor! });
    const api = await listSecrets(deps, { project: PROJECT }, { limit: 20, search: 'api-' });

    expect([...first.items, ...second.items, ...third.items].map((s) => s.name)).toEqual([
      'api-key',
      'api-secret',
      'api-token',
      'db.password',
      'smtp',
    ]);
    expect(third.nextCursor).toBeNull();
    expect(api.items.map((s) => s.name)).toEqual(['api-key', 'api-secret', 'api-token']);
    for (const s of first.items) expect(Object.keys(s).sort()).toEqual(METADATA_FIELDS);
  });

  it('should answer 404 when listing the secrets of an unknown project', async () => {
    await expect(listSecrets(deps, { project: 'nowhere' }, { limit: 20 })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('Use case: resolveSecretEnv', () => {
  it('should map each variable to its plaintext, decrypting each secret once', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    await putSecret(deps, key('db.password'), { value: 'hunter2' });

    const env = await resolveSecretEnv(deps, PROJECT, {
      API_TOKEN: 'api-token',
      TOKEN_AGAIN: 'api-token',
      DB_PASSWORD: 'db.password',
    });

    expect(env).toEqual({ API_TOKEN: TOKEN, TOKEN_AGAIN: TOKEN, DB_PASSWORD: 'hunter2' });
    expect(deps.cipher.decrypted).toEqual([key('api-token'), key('db.password')]);
  });

  it('should answer 422 SECRET_NOT_FOUND naming every missing secret', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });

    const error = await rejectionOf(
      resolveSecretEnv(deps, PROJECT, { A: 'zeta', B: 'api-token', C: 'alpha', D: 'alpha' }),
    );

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('SECRET_NOT_FOUND');
    expect(error.message).toBe(
      `secrets "alpha", "zeta" not found in project "${PROJECT}"; create them first (PUT /v1/projects/${PROJECT}/secrets/{name})`,
    );
    expect(error.details).toEqual({ project: PROJECT, missing: ['alpha', 'zeta'] });
    expect(deps.cipher.decrypted).toEqual([]);
  });

  it('should not decrypt a ciphertext copied to another secret', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    const stolen: StoredSecret = { ...deps.secrets.peek(key('api-token'))!, name: 'innocent' };
    deps.secrets.seed(stolen);

    const error = await rejectionOf(resolveSecretEnv(deps, PROJECT, { X: 'innocent' }));

    expect(error.code).toBe('SECRET_UNREADABLE');
  });
});

describe('Use case: deployVersion with secrets', () => {
  it('should record the mapping (never values) on the Deployment and the pending endpoint', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    await givenVersion(deps);

    const d = await deployVersion(deps, versionKey(1), { secrets: { API_TOKEN: 'api-token' } });

    expect(d.request.secrets).toEqual({ API_TOKEN: 'api-token' });
    expect(deps.endpoints.peek(endpointKey(1))?.secrets).toEqual({ API_TOKEN: 'api-token' });
    expect(JSON.stringify(deps.deployments.all())).not.toContain(TOKEN);
    expect(JSON.stringify(deps.endpoints.all())).not.toContain(TOKEN);
    expect(deps.cipher.decrypted).toEqual([]);
  });

  it('should answer 422 SECRET_NOT_FOUND at once, recording and starting nothing', async () => {
    await givenVersion(deps);

    const error = await rejectionOf(
      deployVersion(deps, versionKey(1), { secrets: { API_TOKEN: 'api-token', DB: 'db.password' } }),
    );

    expect(error).toBeInstanceOf(UnprocessableError);
    expect(error.code).toBe('SECRET_NOT_FOUND');
    expect(error.details).toEqual({ project: PROJECT, missing: ['api-token', 'db.password'] });
    expect(deps.deployments.size).toBe(0);
    expect(deps.endpoints.size).toBe(0);
    expect(deps.workflows.started).toEqual([]);
  });

  it('should answer 400 when a variable is both plain and secret', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    await givenVersion(deps);

    const error = await rejectionOf(
      deployVersion(deps, versionKey(1), { env: { API_TOKEN: 'plain' }, secrets: { API_TOKEN: 'api-token' } }),
    );

    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe('body.secrets: API_TOKEN is also set in body.env; set each variable once');
    expect(deps.deployments.size).toBe(0);
  });
});

describe('Workflow: secrets reach the cluster only', () => {
  it('should hand the plaintext to the cluster with the revision, and store the mapping on promotion', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });

    const { outcome, key: ek } = await givenDeployedWithSecrets({ API_TOKEN: 'api-token' });

    expect(outcome.status).toBe('succeeded');
    const [spec] = deps.clusters.of('local').callsOf('applyRevision')[0] as [{ env: unknown; secretEnv: unknown }];
    expect(spec.secretEnv).toEqual({ API_TOKEN: TOKEN });
    expect(spec.env).toEqual({});
    const endpoint = deps.endpoints.peek(ek)!;
    expect(endpoint).toMatchObject({ status: 'running', secrets: { API_TOKEN: 'api-token' } });
    expect(JSON.stringify(deps.deployments.all())).not.toContain(TOKEN);
    expect(JSON.stringify(deps.endpoints.all())).not.toContain(TOKEN);
  });

  it('should fail the deployment with the reason when the secret is gone by the time the revision is applied', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    await givenVersion(deps);
    const d = await deployVersion(deps, versionKey(1), { secrets: { API_TOKEN: 'api-token' } });
    await deps.secrets.delete(key('api-token'));

    const outcome = await runWorkflow(deps, d.id);

    expect(outcome.status).toBe('failed');
    expect(deps.deployments.peek({ id: d.id })?.error).toEqual({
      code: 'UnprocessableError',
      message: `secret "api-token" not found in project "${PROJECT}"; create it first (PUT /v1/projects/${PROJECT}/secrets/{name})`,
    });
    expect(deps.clusters.of('local').callsOf('applyRevision')).toEqual([]);
    expect(deps.endpoints.peek(endpointKey(1))?.status).toBe('failed');
  });

  it('should clear the mapping when the version is deployed again without secrets', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    const { key: ek } = await givenDeployedWithSecrets({ API_TOKEN: 'api-token' });
    await undeployAndRun(deps, ek);

    const again = await deployVersion(deps, versionKey(ek.version), {});
    await runWorkflow(deps, again.id);

    expect(again.request.secrets).toEqual({});
    const applied = deps.clusters.of('local').callsOf('applyRevision') as [{ secretEnv: unknown }][];
    expect(applied.at(-1)?.[0].secretEnv).toEqual({});
    expect(deps.endpoints.peek(ek)).toMatchObject({ status: 'running', secrets: {} });
  });
});

describe('Use case: deleteSecret', () => {
  it('should delete an unused secret', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });

    await deleteSecret(deps, key('api-token'));

    expect(deps.secrets.size).toBe(0);
  });

  it('should answer 404 for an unknown secret', async () => {
    await expect(deleteSecret(deps, key('nope'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('should refuse with 409 SECRET_IN_USE naming the running version endpoints that map it', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    await givenDeployedWithSecrets({ API_TOKEN: 'api-token', TOKEN_COPY: 'api-token' });
    await givenDeployedWithSecrets({ TOKEN: 'api-token' }, 'staging');

    const error = await rejectionOf(deleteSecret(deps, key('api-token')));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.code).toBe('SECRET_IN_USE');
    expect(error.message).toBe(
      `secret "api-token" is used by the version endpoints ${PROJECT}/iris version 1 in environment "local" (API_TOKEN, TOKEN_COPY); ${PROJECT}/iris version 2 in environment "staging" (TOKEN); undeploy them or redeploy without the secret first`,
    );
    expect(error.details).toEqual({
      endpoints: [
        {
          project: PROJECT,
          model: 'iris',
          version: 1,
          environment: 'local',
          status: 'running',
          variables: ['API_TOKEN', 'TOKEN_COPY'],
          endpoint: `/v1/projects/${PROJECT}/models/iris/versions/1/endpoints/local`,
        },
        {
          project: PROJECT,
          model: 'iris',
          version: 2,
          environment: 'staging',
          status: 'running',
          variables: ['TOKEN'],
          endpoint: `/v1/projects/${PROJECT}/models/iris/versions/2/endpoints/staging`,
        },
      ],
    });
    expect(deps.secrets.size).toBe(1);
  });

  it('should refuse while a deployment in flight maps it, even before the endpoint records the mapping', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    const { key: ek } = await givenDeployedWithSecrets({});
    await undeployAndRun(deps, ek);
    await deployVersion(deps, versionKey(ek.version), { secrets: { API_TOKEN: 'api-token' } });
    // the endpoint is pending with the mapping of its earlier deploy; only the Deployment names the secret
    expect(deps.endpoints.peek(ek)).toMatchObject({ status: 'pending', secrets: {} });

    const error = await rejectionOf(deleteSecret(deps, key('api-token')));

    expect(error.code).toBe('SECRET_IN_USE');
    expect((error.details as { endpoints: { status: string }[] }).endpoints).toMatchObject([{ status: 'pending' }]);
  });

  it('should allow deletion once the endpoint is undeployed, and ignore other projects and failed endpoints', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    const { key: ek } = await givenDeployedWithSecrets({ API_TOKEN: 'api-token' });
    // a failed deploy mapping the secret does not hold it
    await putSecret(deps, key('other'), { value: 'x' });
    const v = await givenVersion(deps);
    deps.clusters.of('local').script(`iris-${v.version}-r1`, { state: 'failed', reason: 'OOMKilled' });
    const failed = await deployVersion(deps, versionKey(v.version), { secrets: { API_TOKEN: 'api-token' } });
    expect((await runWorkflow(deps, failed.id)).status).toBe('failed');
    // another project's endpoint using a secret of the same name
    const otherModel = { project: 'other-project', model: 'iris' };
    await givenModel(deps, { model: otherModel });
    await putSecret(deps, key('api-token', 'other-project'), { value: 'theirs' });
    const ov = await givenVersion(deps, { model: otherModel });
    const od = await deployVersion(deps, { ...otherModel, version: ov.version }, { secrets: { T: 'api-token' } });
    await runWorkflow(deps, od.id);
    expect(await secretUses(deps, key('api-token'))).toHaveLength(1);

    await undeployAndRun(deps, ek);
    await deleteSecret(deps, key('api-token'));

    expect(deps.secrets.peek(key('api-token'))).toBeUndefined();
    expect(deps.secrets.peek(key('api-token', 'other-project'))).toBeDefined();
  });

  it('should delete only the revision If-Match names', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });

    const error = await rejectionOf(deleteSecret(deps, key('api-token'), 7));
    await deleteSecret(deps, key('api-token'), 1);

    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect(error.details).toEqual({ revision: 1 });
    expect(deps.secrets.size).toBe(0);
  });

  it('should answer 409 CONCURRENT_CHANGE when the secret changed while the delete ran', async () => {
    await putSecret(deps, key('api-token'), { value: TOKEN });
    deps.secrets.intercept('delete', () => {
      const s = deps.secrets.peek(key('api-token'))!;
      deps.secrets.seed({ ...s, revision: s.revision + 1 });
    });

    const error = await rejectionOf(deleteSecret(deps, key('api-token')));

    expect(error.code).toBe('CONCURRENT_CHANGE');
    expect(deps.secrets.size).toBe(1);
  });
});

describe('Use case: deleteProjectSecrets', () => {
  it("should remove every secret of the project, page after page, and no other project's", async () => {
    await givenModel(deps, { model: { project: 'other-project', model: 'iris' } });
    for (let i = 0; i < 230; i++)
      deps.secrets.seed({
        ...(await deps.cipher.encrypt('v', key(`s-${i}`))),
        ...key(`s-${i}`),
        createdAt: 'x',
        updatedAt: 'x',
        revision: 1,
      });
    await putSecret(deps, key('keep', 'other-project'), { value: 'theirs' });

    const deleted = await deleteProjectSecrets(deps, { project: PROJECT });

    expect(deleted).toBe(230);
    expect(deps.secrets.all().map((s) => `${s.project}/${s.name}`)).toEqual(['other-project/keep']);
  });
});
