import { describe, expect, it } from 'vitest';
import { DEFAULT_ENVIRONMENTS, Environments } from '../../../core/environments.js';
import { NotFoundError, UnprocessableError } from '../../../core/errors.js';
import { getEnvironment, listEnvironments } from '../../../core/use-cases/environments.js';
import { TEST_ENVIRONMENTS, thrownBy as thrown } from '../../fakes/index.js';

describe('Use case: declare environments', () => {
  it('should fill in the defaults of an environment declared by name only', () => {
    // Prepare
    const config = [{ name: 'dev', servingUrl: 'http://127.0.0.1:9000/serving' }];

    // Act
    const envs = new Environments(config);

    // Assess
    expect(envs.all).toEqual([
      {
        name: 'dev',
        isDefault: true,
        cluster: { kind: 'local' },
        servingUrl: 'http://127.0.0.1:9000/serving',
        defaults: { cpu: '500m', memory: '512Mi', minReplicas: 1, maxReplicas: 1 },
        limits: { maxCpu: '4', maxMemory: '8Gi', maxReplicas: 10 },
        maxActiveVersionsPerModel: 2,
        deploymentTimeoutSeconds: 300,
      },
    ]);
  });

  it('should make the first environment the default when none is marked', () => {
    const envs = new Environments([
      { name: 'alpha', servingUrl: 'http://a.test' },
      { name: 'beta', servingUrl: 'http://b.test' },
    ]);

    expect(envs.default().name).toBe('alpha');
    expect(envs.all.map((e) => e.isDefault)).toEqual([true, false]);
  });

  it('should keep the environment marked as default even when it is not the first', () => {
    const envs = new Environments([
      { name: 'alpha', servingUrl: 'http://a.test' },
      { name: 'beta', servingUrl: 'http://b.test', isDefault: true },
    ]);

    expect(envs.default().name).toBe('beta');
    expect(envs.all.map((e) => e.isDefault)).toEqual([false, true]);
  });

  it('should strip trailing slashes from servingUrl', () => {
    const envs = new Environments(TEST_ENVIRONMENTS);

    expect(envs.get('staging').servingUrl).toBe('https://staging.models.example.com/serving');
  });

  it('should take servingUrl from the fallback when the config has none', () => {
    const envs = new Environments(DEFAULT_ENVIRONMENTS, (name) => `http://127.0.0.1:7070/serving/${name}/`);

    expect(envs.get('local').servingUrl).toBe('http://127.0.0.1:7070/serving/local');
  });

  it('should refuse an environment without any servingUrl', () => {
    const error = thrown(() => new Environments(DEFAULT_ENVIRONMENTS));

    expect(error.message).toBe('invalid environments config: environment "local" needs a servingUrl');
  });

  it('should refuse an empty list', () => {
    expect(thrown(() => new Environments([])).message).toBe(
      'invalid environments config: (root): declare at least one environment',
    );
  });

  it('should refuse two defaults and a name declared twice, naming both problems', () => {
    const error = thrown(
      () =>
        new Environments([
          { name: 'prod', isDefault: true, servingUrl: 'http://a.test' },
          { name: 'prod', isDefault: true, servingUrl: 'http://b.test' },
        ]),
    );

    expect(error.message).toContain('environment "prod" is declared twice');
    expect(error.message).toContain('exactly one environment may be the default');
  });

  it('should refuse a bad name, an unknown cluster field and a bad quantity with their paths', () => {
    const error = thrown(
      () =>
        new Environments([
          {
            name: 'Prod',
            servingUrl: 'http://a.test',
            cluster: { kind: 'local', extra: 1 },
            defaults: { cpu: 'lots' },
          },
        ]),
    );

    expect(error.message).toMatch(/^invalid environments config: /);
    expect(error.message).toContain('0.name: must be 2-50 characters');
    expect(error.message).toContain('0.defaults.cpu: must be a CPU quantity like "500m" or "2"');
    expect(error.message).toContain('0.cluster');
  });

  it('should refuse a timeout beyond an hour', () => {
    const error = thrown(
      () => new Environments([{ name: 'slow', servingUrl: 'http://a.test', deploymentTimeoutSeconds: 3601 }]),
    );

    expect(error.message).toContain('0.deploymentTimeoutSeconds');
  });
});

describe('Use case: find an environment', () => {
  const envs = new Environments(TEST_ENVIRONMENTS);

  it('should get a known environment by name', () => {
    expect(envs.get('staging').cluster).toEqual({ kind: 'eks', eksClusterName: 'merlin-staging', region: 'eu-west-1' });
  });

  it('should answer get() of an unknown name with a NotFoundError listing the known ones', () => {
    const error = thrown(() => envs.get('prod'));

    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.message).toBe('environment "prod" not found; known environments: local, staging');
  });

  it('should resolve no name to the default environment', () => {
    expect(envs.resolve(undefined).name).toBe('local');
  });

  it('should resolve a known name to that environment', () => {
    expect(envs.resolve('staging').deploymentTimeoutSeconds).toBe(60);
  });

  it('should answer resolve() of an unknown name with a 422 UNKNOWN_ENVIRONMENT listing the known ones', () => {
    const error = thrown(() => envs.resolve('prod'));

    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as UnprocessableError).code).toBe('UNKNOWN_ENVIRONMENT');
    expect(error.message).toBe('unknown environment "prod"; known environments: local, staging');
    expect((error as UnprocessableError).details).toEqual({ environment: 'prod' });
  });
});

describe('Use case: list environments', () => {
  it('should show every environment with its defaults, limits and timeout, by name', () => {
    const deps = { environments: new Environments(TEST_ENVIRONMENTS) };

    const page = listEnvironments(deps, { limit: 20 });

    expect(page.nextCursor).toBeNull();
    expect(page.items.map((e) => [e.name, e.isDefault, e.maxActiveVersionsPerModel])).toEqual([
      ['local', true, 2],
      ['staging', false, 1],
    ]);
    expect(page.items[1]).toEqual({
      name: 'staging',
      isDefault: false,
      cluster: { kind: 'eks', eksClusterName: 'merlin-staging', region: 'eu-west-1' },
      servingUrl: 'https://staging.models.example.com/serving',
      defaults: { cpu: '1', memory: '1Gi', minReplicas: 2, maxReplicas: 3 },
      limits: { maxCpu: '4', maxMemory: '8Gi', maxReplicas: 10 },
      maxActiveVersionsPerModel: 1,
      deploymentTimeoutSeconds: 60,
    });
  });

  it('should page with limit and cursor, and filter by name prefix, like every list', () => {
    const deps = { environments: new Environments(TEST_ENVIRONMENTS) };

    const first = listEnvironments(deps, { limit: 1 });
    const second = listEnvironments(deps, { limit: 1, cursor: first.nextCursor! });

    expect(first.items.map((e) => e.name)).toEqual(['local']);
    expect(second.items.map((e) => e.name)).toEqual(['staging']);
    expect(second.nextCursor).toBeNull();
    expect(listEnvironments(deps, { limit: 20, search: 'sta' }).items.map((e) => e.name)).toEqual(['staging']);
  });

  it('should get one environment or a NotFoundError', () => {
    const deps = { environments: new Environments(TEST_ENVIRONMENTS) };

    expect(getEnvironment(deps, 'local').servingUrl).toBe('http://127.0.0.1:8080/serving');
    expect(() => getEnvironment(deps, 'nope')).toThrow(NotFoundError);
  });
});
