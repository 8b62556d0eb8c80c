import type {
  DeploymentKey,
  EndpointKey,
  ModelEndpointKey,
  ModelKey,
  ProjectKey,
  SecretKey,
  VersionKey,
} from '../../core/ports.js';

/** Zero-padded so that versions sort numerically as strings. */
export const pad = (n: number): string => n.toString().padStart(10, '0');

export interface ItemKeys {
  PK: string;
  SK: string;
  GSI1PK?: string;
  GSI1SK?: string;
}

export const projectKeys = (k: ProjectKey): ItemKeys => ({
  PK: `P#${k.project}`,
  SK: 'PROJECT',
  GSI1PK: 'PROJECTS',
  GSI1SK: k.project,
});
export const modelKeys = (k: ModelKey): ItemKeys => ({ PK: `P#${k.project}`, SK: `M#${k.model}` });
export const modelPartition = (k: ModelKey): string => `M#${k.project}#${k.model}`;
export const versionKeys = (k: VersionKey): ItemKeys => ({ PK: modelPartition(k), SK: `V#${pad(k.version)}` });
export const endpointKeys = (k: EndpointKey): ItemKeys => ({
  PK: modelPartition(k),
  SK: `VE#${pad(k.version)}#${k.environment}`,
  GSI1PK: `ENV#${k.environment}#VE`,
  GSI1SK: `${k.project}#${k.model}#${pad(k.version)}`,
});
export const modelEndpointKeys = (k: ModelEndpointKey): ItemKeys => ({
  PK: modelPartition(k),
  SK: `ME#${k.environment}`,
  GSI1PK: `ENV#${k.environment}#ME`,
  GSI1SK: `${k.project}#${k.model}`,
});
/** Deployments of one version endpoint, or of one model endpoint, newest first by ULID. */
export const deploymentHistoryPartition = (k: EndpointKey | ModelEndpointKey): string =>
  'version' in k
    ? `DH#VE#${k.project}#${k.model}#${pad(k.version)}#${k.environment}`
    : `DH#ME#${k.project}#${k.model}#${k.environment}`;
export const deploymentKeys = (k: DeploymentKey): ItemKeys => ({ PK: `D#${k.id}`, SK: 'DEPLOYMENT' });
/** Secrets live in their project's partition, beside its models. */
export const secretKeys = (k: SecretKey): ItemKeys => ({ PK: `P#${k.project}`, SK: `S#${k.name}` });
