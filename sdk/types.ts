/**
 * The types the SDK shares with the server: inferred from the zod schemas in `core/schemas` (type-only imports, so no
 * zod code is loaded by the SDK), plus the SDK's own references to things.
 */
import type * as z from 'zod';
import type { endpointLogs } from '../core/schemas/endpoint.js';
import type { artifactUploadResponse, artifactView } from '../core/schemas/version.js';

export type { Page } from '../core/schemas/common.js';
export type { Deployment, DeploymentStep } from '../core/schemas/deployment.js';
export type {
  DeployBody,
  ModelEndpoint,
  RedeployBody,
  RouteRule,
  VersionEndpoint,
} from '../core/schemas/endpoint.js';
export type { EnvironmentView as Environment } from '../core/schemas/environment.js';
export type { CreateModelBody, Model, ModelType, PatchModelBody } from '../core/schemas/model.js';
export type { CreateProjectBody, PatchProjectBody, Project } from '../core/schemas/project.js';
export type { PutSecretBody, Secret } from '../core/schemas/secret.js';
export type {
  Artifact,
  CreateVersionBody,
  ManifestFile,
  ModelVersion,
  PatchVersionBody,
} from '../core/schemas/version.js';

export interface ModelRef {
  project: string;
  model: string;
}

export interface VersionRef extends ModelRef {
  version: number;
}

/** What `predict` calls: the model endpoint (no version) or one version's endpoint. */
export interface PredictTarget extends ModelRef {
  version?: number | undefined;
  /** Default: the platform's default environment. */
  environment?: string | undefined;
}

/** `GET …/endpoints/{env}/logs`. */
export type EndpointLogs = z.infer<typeof endpointLogs>;
/** `GET …/versions/{v}/artifact`: the manifest with a presigned GET URL per file. */
export type ArtifactView = z.infer<typeof artifactView>;
/** `POST …/versions/{v}/artifact:upload`. */
export type ArtifactUploadResponse = z.infer<typeof artifactUploadResponse>;

/** The options every list takes. */
export interface ListOptions {
  /** Items per request (1-100; default 20). */
  pageSize?: number;
  /** Name prefix. */
  search?: string;
}
