import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeyCipher } from '../../../adapters/crypto/local-key-cipher.js';
import { dynamoRepositories } from '../../../adapters/dynamodb/repositories.js';
import { documentClient } from '../../../adapters/dynamodb/table.js';
import { ConflictError, ValidationError } from '../../../core/errors.js';
import type { Model, Project, StoredSecret } from '../../../core/schemas/index.js';
import { putSecret } from '../../../core/use-cases/secrets.js';
import { FixedClock } from '../../fakes/index.js';
import { withEmulators } from '../../helpers/emulators.js';

const now = '2026-11-26T00:00:00.000Z';
const project = (name: string): Project => ({ name, labels: {}, createdAt: now, updatedAt: now, revision: 1 });
const model = (p: string, name: string): Model => ({
  project: p,
  name,
  type: 'onnx',
  labels: {},
  latestVersion: 0,
  createdAt: now,
  updatedAt: now,
  revision: 1,
});
const secret = (p: string, name: string, revision = 1): StoredSecret => ({
  project: p,
  name,
  ciphertext: Buffer.from(`ciphertext of ${name}`).toString('base64'),
  keyRef: 'local:0123456789abcdef',
  algorithm: 'AES-256-GCM',
  createdAt: now,
  updatedAt: now,
  revision,
});

describe('Adapter: DynamoDB secret repository (dynalite)', () => {
  let emu: Awaited<ReturnType<typeof withEmulators>>;
  let db: ReturnType<typeof documentClient>;
  let repos: ReturnType<typeof dynamoRepositories>;

  beforeAll(async () => {
    emu = await withEmulators();
    db = documentClient(emu.dynamodbConfig);
    repos = dynamoRepositories(db, emu.table);
  });
  afterAll(() => emu.stop());

  it('should store a secret under P#{project} / S#{name} and read it back without the key attributes', async () => {
    await repos.secrets.put(secret('alpha', 'api-token'), 'absent');

    const raw = await db.send(new ScanCommand({ TableName: emu.table }));
    const item = raw.Items?.find((i) => i.SK === 'S#api-token');

    expect(item).toMatchObject({ PK: 'P#alpha', SK: 'S#api-token', entity: 'secret' });
    expect(item?.GSI1PK).toBeUndefined();
    expect(await repos.secrets.get({ project: 'alpha', name: 'api-token' })).toEqual(secret('alpha', 'api-token'));
    expect(await repos.secrets.get({ project: 'alpha', name: 'nope' })).toBeUndefined();
  });

  it('should write conditionally: create once, replace and delete only on the expected revision', async () => {
    await repos.secrets.put(secret('alpha', 'cond'), 'absent');
    await expect(repos.secrets.put(secret('alpha', 'cond'), 'absent')).rejects.toMatchObject({
      constructor: ConflictError,
      code: 'ALREADY_EXISTS',
    });
    await repos.secrets.put(secret('alpha', 'cond', 2), 1);
    await expect(repos.secrets.put(secret('alpha', 'cond', 2), 1)).rejects.toMatchObject({
      code: 'REVISION_MISMATCH',
    });
    await expect(repos.secrets.delete({ project: 'alpha', name: 'cond' }, 1)).rejects.toMatchObject({
      code: 'REVISION_MISMATCH',
    });
    await repos.secrets.delete({ project: 'alpha', name: 'cond' }, 2);
    expect(await repos.secrets.get({ project: 'alpha', name: 'cond' })).toBeUndefined();
  });

  it("should list a project's secrets by name with cursors and a prefix, apart from its models", async () => {
    await repos.projects.put(project('paged'), 'absent');
    await repos.models.put(model('paged', 'model-a'), 'absent');
    await repos.models.put(model('paged', 'zzz-model'), 'absent');
    for (const n of ['s-c', 's-a', 'x-1', 's-b', 'RT.token']) await repos.secrets.put(secret('paged', n), 'absent');
    await repos.secrets.put(secret('other', 's-z'), 'absent');

    const names: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await repos.secrets.list({ project: 'paged' }, { limit: 2, ...(cursor && { cursor }) });
      names.push(...page.items.map((s) => s.name));
      cursor = page.nextCursor ?? undefined;
      pages += 1;
    } while (cursor);
    const prefixed = await repos.secrets.list({ project: 'paged' }, { limit: 20, search: 's-' });
    const models = await repos.models.list({ project: 'paged' }, { limit: 20 });

    expect(names).toEqual(['RT.token', 's-a', 's-b', 's-c', 'x-1']);
    expect(pages).toBe(3);
    expect(prefixed.items.map((s) => s.name)).toEqual(['s-a', 's-b', 's-c']);
    expect(models.items.map((m) => m.name)).toEqual(['model-a', 'zzz-model']);
    expect(await repos.projects.get({ project: 'paged' })).toEqual(project('paged'));
  });

  it("should refuse another list's cursor", async () => {
    const page = await repos.secrets.list({ project: 'paged' }, { limit: 1 });

    await expect(
      repos.secrets.list({ project: 'alpha' }, { limit: 1, cursor: page.nextCursor! }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('should keep only ciphertext in the table when written through the use case', async () => {
    const plaintext = 'tok-3f9a1c-very-secret-in-dynamodb';
    const cipher = new LocalKeyCipher(`${emu.dir}/secrets.key`);
    await repos.projects.put(project('crypt'), 'absent');
    const deps = { ...repos, cipher, clock: new FixedClock() };

    await putSecret(deps, { project: 'crypt', name: 'api-token' }, { value: plaintext });

    const raw = await db.send(new ScanCommand({ TableName: emu.table }));
    expect(JSON.stringify(raw.Items)).not.toContain(plaintext);
    const stored = await repos.secrets.get({ project: 'crypt', name: 'api-token' });
    expect(await cipher.decrypt(stored!, { project: 'crypt', name: 'api-token' })).toBe(plaintext);
  });
});
