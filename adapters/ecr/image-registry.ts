/**
 * The AWS ImageRegistry: the ECR repository the image-build CodeBuild project pushes to (infra ServingStack). Tags
 * are digests of artifact manifests (core/use-cases/images.ts); `exists` asks ECR DescribeImages for the tag, so a
 * deployment of an unchanged artifact skips the build.
 */
import { DescribeImagesCommand, ECRClient, type ECRClientConfig } from '@aws-sdk/client-ecr';
import { DependencyError } from '../../core/errors.js';
import type { ImageRegistry } from '../../core/ports.js';

export const ecrClient = (config: ECRClientConfig = {}): ECRClient => new ECRClient(config);

/** `123456789012.dkr.ecr.eu-west-1.amazonaws.com/name/space` → registry id and repository name. */
export function parseRepositoryUri(uri: string): { registryId: string; repositoryName: string } {
  const m = /^([0-9]{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*)$/.exec(uri);
  if (!m?.[1] || !m[2]) {
    throw new Error(`not an ECR repository URI (<account>.dkr.ecr.<region>.amazonaws.com/<name>): ${uri}`);
  }
  return { registryId: m[1], repositoryName: m[2] };
}

/** The slice of ECRClient the registry uses (tests pass a stub). */
export interface EcrSender {
  send(command: DescribeImagesCommand): Promise<unknown>;
}

export class EcrImageRegistry implements ImageRegistry {
  readonly #client: EcrSender;
  readonly #uri: string;
  readonly #registryId: string;
  readonly #repositoryName: string;

  constructor(repositoryUri: string, client: EcrSender = ecrClient()) {
    const { registryId, repositoryName } = parseRepositoryUri(repositoryUri);
    this.#client = client;
    this.#uri = repositoryUri;
    this.#registryId = registryId;
    this.#repositoryName = repositoryName;
  }

  reference(tag: string): string {
    return `${this.#uri}:${tag}`;
  }

  async exists(tag: string): Promise<boolean> {
    try {
      await this.#client.send(
        new DescribeImagesCommand({
          registryId: this.#registryId,
          repositoryName: this.#repositoryName,
          imageIds: [{ imageTag: tag }],
        }),
      );
      return true;
    } catch (e) {
      const err = e as { name?: string; message?: string };
      if (err.name === 'ImageNotFoundException') return false;
      throw new DependencyError(`ECR DescribeImages failed: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`);
    }
  }
}

/**
 * The registry of a runtime that builds no images: the local platform (local clusters run commands, so no local
 * deployment ever needs one) and functions infra gave no repository. Any use is a bug or a misconfiguration and says
 * so rather than building nothing silently.
 */
export const noImageRegistry = (why: string): ImageRegistry => ({
  reference: () => {
    throw new DependencyError(`no image registry here: ${why}`);
  },
  exists: async () => {
    throw new DependencyError(`no image registry here: ${why}`);
  },
});
