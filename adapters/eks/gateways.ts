/**
 * Builds the EKS cluster gateways of a runtime: one per environment (cached), one EksClusterAuth per cluster (so two
 * environments on one cluster share its DescribeCluster and tokens).
 */
import type { ClusterGateway } from '../../core/ports.js';
import type { Environment } from '../../core/schemas/environment.js';
import { type Credentials, EksClusterAuth } from './auth.js';
import { KubeClient } from './client.js';
import { EksClusterGateway } from './cluster-gateway.js';
import { clusterSettings } from './manifests.js';

/**
 * Where EKS and STS answer and who signs, instead of the regional AWS endpoints and the default credential chain;
 * and how often readiness is polled. Only tests set these (loopback stubs; see functions/shared/container.ts
 * `provideEks`).
 */
export interface EksOverrides {
  eksEndpoint?: string;
  stsEndpoint?: string;
  credentials?: Credentials;
  pollIntervalMs?: number;
  requestTimeoutMs?: number;
}

export interface EksDefaults {
  /** The functions' MODEL_SERVER_IMAGE (an environment's cluster.modelServerImage wins). */
  modelServerImage?: string | undefined;
  /** The functions' region: where the artifact bucket is. */
  artifactRegion?: string | undefined;
}

export class EksGateways {
  readonly #defaults: EksDefaults;
  readonly #overrides: EksOverrides;
  readonly #gateways = new Map<string, ClusterGateway>();
  readonly #auths = new Map<string, EksClusterAuth>();

  constructor(defaults: EksDefaults = {}, overrides: EksOverrides = {}) {
    this.#defaults = defaults;
    this.#overrides = overrides;
  }

  /** The gateway of an `eks` environment. */
  forEnvironment(env: Environment): ClusterGateway {
    const cached = this.#gateways.get(env.name);
    if (cached) return cached;
    if (env.cluster.kind !== 'eks') throw new TypeError(`environment "${env.name}" is not an EKS environment`);
    const { eksClusterName, region } = env.cluster;
    const key = `${region}/${eksClusterName}`;
    let auth = this.#auths.get(key);
    if (!auth) {
      const o = this.#overrides;
      auth = new EksClusterAuth({
        clusterName: eksClusterName,
        region,
        ...(o.eksEndpoint && { eksEndpoint: o.eksEndpoint }),
        ...(o.stsEndpoint && { stsEndpoint: o.stsEndpoint }),
        ...(o.credentials && { credentials: o.credentials }),
      });
      this.#auths.set(key, auth);
    }
    const gateway = new EksClusterGateway({
      environment: env.name,
      settings: clusterSettings(env, this.#defaults),
      client: new KubeClient(auth, {
        ...(this.#overrides.requestTimeoutMs !== undefined && { requestTimeoutMs: this.#overrides.requestTimeoutMs }),
      }),
      ...(this.#overrides.pollIntervalMs !== undefined && { pollIntervalMs: this.#overrides.pollIntervalMs }),
    });
    this.#gateways.set(env.name, gateway);
    return gateway;
  }
}
