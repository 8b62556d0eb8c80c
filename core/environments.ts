import { NotFoundError, UnprocessableError } from './errors.js';
import { type Environment, type EnvironmentConfig, environmentsConfig } from './schemas/environment.js';

/** The environment with no config file: one local cluster, the default. */
export const DEFAULT_ENVIRONMENTS: EnvironmentConfig[] = [
  { name: 'local', isDefault: true, cluster: { kind: 'local' } },
];

/**
 * The declared environments (DESIGN §7), validated. `servingUrl` must be known for each (locally the platform
 * fills it in from its listening address).
 */
export class Environments {
  readonly all: readonly Environment[];

  constructor(config: unknown, fallbackServingUrl?: (name: string) => string) {
    const parsed = environmentsConfig.safeParse(config);
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
      throw new Error(`invalid environments config: ${msg}`);
    }
    const envs = parsed.data;
    const hasDefault = envs.some((e) => e.isDefault);
    this.all = envs.map((e, i) => {
      const servingUrl = e.servingUrl ?? fallbackServingUrl?.(e.name);
      if (!servingUrl) throw new Error(`invalid environments config: environment "${e.name}" needs a servingUrl`);
      return { ...e, isDefault: e.isDefault || (!hasDefault && i === 0), servingUrl: servingUrl.replace(/\/+$/, '') };
    });
  }

  get(name: string): Environment {
    const env = this.all.find((e) => e.name === name);
    if (!env) throw new NotFoundError(`environment "${name}" not found; known environments: ${this.names()}`);
    return env;
  }

  /** Resolves an environment named in a request body: unknown names are a 422, not a 404. */
  resolve(name: string | undefined): Environment {
    if (name === undefined) return this.default();
    const env = this.all.find((e) => e.name === name);
    if (!env) {
      throw new UnprocessableError(
        `unknown environment "${name}"; known environments: ${this.names()}`,
        { environment: name },
        'UNKNOWN_ENVIRONMENT',
      );
    }
    return env;
  }

  default(): Environment {
    return this.all.find((e) => e.isDefault) ?? this.all[0]!;
  }

  private names(): string {
    return this.all.map((e) => e.name).join(', ');
  }
}
