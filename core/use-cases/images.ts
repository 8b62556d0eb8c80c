/**
 * Image builds (DESIGN §2 "Image build"): which revisions run a container image built from their artifact, under
 * which tag, and what a failed build reports. The deploy workflow builds a missing image in its `Build Image` state
 * (CodeBuild on AWS, statemachines/deploy-version.asl.json); the tag is a digest of the artifact manifest, so an
 * unchanged artifact maps to the image already pushed and is never built again.
 */
import { createHash } from 'node:crypto';
import type { ImageRegistry } from '../ports.js';
import type { Artifact, Environment, ManifestFile, Model, ModelVersion } from '../schemas/index.js';

/** The deploy step that builds the image (DEPLOYMENT_STEPS.deploy; the ASL state of the same name). */
export const BUILD_IMAGE_STEP = 'Build Image';

/** The file at the artifact's root that makes it buildable. */
export const DOCKERFILE = 'Dockerfile';

/** Hex digits of the manifest digest used as the tag (128 bits). */
const TAG_LENGTH = 32;

/** An image a revision runs that is built from its artifact. */
export interface ImageBuild {
  /** The tag: a digest of the artifact manifest. */
  tag: string;
  /** Where the build reads the artifact (its build context) from. */
  artifactUri: string;
}

/** What Prepare hands the `Needs Image?` Choice and the `Build Image` state (`$.prepared`). */
export interface PreparedImage {
  /** true ⇒ the workflow builds the image before applying the revision. */
  needsImage: boolean;
  /** Set whenever the revision runs a built image, built now or before. */
  imageTag?: string;
  artifactUri?: string;
}

export const hasDockerfile = (artifact: Pick<Artifact, 'files'>): boolean =>
  artifact.files.some((f) => f.path === DOCKERFILE);

/**
 * The image tag of an artifact: SHA-256 over its manifest as `sha256sum` lines (`<sha256>  <path>`) sorted by path,
 * first 32 hex digits. The same files give the same tag whatever their upload order, version or model.
 */
export function imageTag(files: readonly Pick<ManifestFile, 'path' | 'sha256'>[]): string {
  const lines = [...files]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join('');
  return createHash('sha256').update(lines).digest('hex').slice(0, TAG_LENGTH);
}

/**
 * Whether a revision of this version in this environment runs an image built from its artifact: a `custom` model
 * without an image of its own whose artifact has a Dockerfile at its root, deployed to an EKS cluster (local
 * clusters run the version's command and never build). Further types that need a build (pyfunc) join here.
 */
export function imageBuildFor(
  model: Pick<Model, 'type'>,
  version: Pick<ModelVersion, 'custom' | 'artifact'>,
  environment: Pick<Environment, 'cluster'>,
): ImageBuild | undefined {
  if (environment.cluster.kind !== 'eks') return undefined;
  if (model.type !== 'custom' || version.custom?.image) return undefined;
  if (!hasDockerfile(version.artifact)) return undefined;
  return { tag: imageTag(version.artifact.files), artifactUri: version.artifact.uri };
}

/** Prepare's part: a build is needed only when the revision runs a built image that the registry does not hold. */
export async function prepareImage(registry: ImageRegistry, build: ImageBuild | undefined): Promise<PreparedImage> {
  if (!build) return { needsImage: false };
  const exists = await registry.exists(build.tag);
  return { needsImage: !exists, imageTag: build.tag, artifactUri: build.artifactUri };
}

/** The image a revision runs (RevisionSpec.image): the built one, else a custom version's own, else none. */
export function revisionImage(
  registry: ImageRegistry,
  build: ImageBuild | undefined,
  version: Pick<ModelVersion, 'custom'>,
): string | undefined {
  return build ? registry.reference(build.tag) : version.custom?.image;
}

interface BuildPhase {
  PhaseType?: string;
  PhaseStatus?: string;
  Contexts?: { StatusCode?: string; Message?: string }[];
}
interface CodeBuildBuild {
  Id?: string;
  BuildStatus?: string;
  Phases?: BuildPhase[];
  Logs?: { DeepLink?: string };
}

/**
 * The reason of a failed `Build Image` (codebuild:startBuild.sync): Step Functions puts the build, as CodeBuild's
 * BatchGetBuilds returns it, into the Catch's Cause. Answers e.g. `image build FAILED in phase BUILD:
 * COMMAND_EXECUTION_ERROR: Error while executing command: docker build … (logs: https://…)`, or undefined when the
 * parsed Cause is not a build.
 */
export function imageBuildFailure(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const build = ('Build' in cause ? (cause as { Build: unknown }).Build : cause) as CodeBuildBuild | null;
  if (typeof build !== 'object' || build === null || typeof build.BuildStatus !== 'string') return undefined;
  const failed = build.Phases?.find((p) => p.PhaseStatus && p.PhaseStatus !== 'SUCCEEDED');
  const context = failed?.Contexts?.find((c) => c.Message || c.StatusCode);
  const where = failed?.PhaseType ? ` in phase ${failed.PhaseType}` : '';
  const what = context ? `: ${[context.StatusCode, context.Message].filter(Boolean).join(': ')}` : '';
  const logs = build.Logs?.DeepLink ? ` (logs: ${build.Logs.DeepLink})` : '';
  return `image build ${build.BuildStatus}${where}${what}${logs}`;
}
