/**
 * The ECR ImageRegistry against a small fake of the ECR JSON API on loopback, through the real SDK client (signing,
 * serialization, error parsing): DescribeImages answers the image of a pushed tag, ImageNotFoundException otherwise.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  EcrImageRegistry,
  ecrClient,
  noImageRegistry,
  parseRepositoryUri,
} from '../../../adapters/ecr/image-registry.js';
import { DependencyError } from '../../../core/errors.js';
import { rejectionOf } from '../../fakes/index.js';

const REPOSITORY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/merlin-prod-models';
const TAG = '0123456789abcdef0123456789abcdef';

describe('Adapter: EcrImageRegistry (fake ECR on loopback)', () => {
  const pushed = new Set<string>();
  const calls: { target: string; body: Record<string, unknown> }[] = [];
  let failNext: { status: number; type: string } | undefined;
  let endpoint: string;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
      calls.push({ target, body });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(payload));
      };
      if (failNext) {
        const { status, type } = failNext;
        failNext = undefined;
        return send(status, { __type: type, message: 'injected' });
      }
      const tag = (body.imageIds as { imageTag?: string }[] | undefined)?.[0]?.imageTag ?? '';
      if (!pushed.has(tag)) {
        return send(400, {
          __type: 'ImageNotFoundException',
          message: `The image with imageId {imageTag:'${tag}'} does not exist within the repository`,
        });
      }
      send(200, {
        imageDetails: [{ registryId: body.registryId, repositoryName: body.repositoryName, imageTags: [tag] }],
      });
    });
  });
  beforeAll(async () => {
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((ok) => server.close(() => ok())));
  beforeEach(() => {
    pushed.clear();
    calls.length = 0;
    failNext = undefined;
  });

  const registry = () =>
    new EcrImageRegistry(
      REPOSITORY,
      ecrClient({
        endpoint,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        maxAttempts: 1,
      }),
    );

  it('should answer whether the tag was pushed, asking DescribeImages for exactly that tag in that repository', async () => {
    const images = registry();

    const before = await images.exists(TAG);
    pushed.add(TAG);
    const after = await images.exists(TAG);

    expect([before, after]).toEqual([false, true]);
    expect(calls[0]).toEqual({
      target: 'AmazonEC2ContainerRegistry_V20150921.DescribeImages',
      body: { registryId: '123456789012', repositoryName: 'merlin-prod-models', imageIds: [{ imageTag: TAG }] },
    });
  });

  it('should name the image by repository URI and tag', () => {
    expect(registry().reference(TAG)).toBe(`${REPOSITORY}:${TAG}`);
  });

  it('should turn any other ECR error into a DependencyError naming it (the state machine retries those)', async () => {
    failNext = { status: 400, type: 'ThrottlingException' };

    const error = await rejectionOf(registry().exists(TAG));

    expect(error).toBeInstanceOf(DependencyError);
    expect(error.message).toBe('ECR DescribeImages failed: ThrottlingException: injected');
  });

  it('should read registry and repository from the URI, and refuse anything that is not an ECR repository', () => {
    expect(parseRepositoryUri('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/models')).toEqual({
      registryId: '123456789012',
      repositoryName: 'team/models',
    });
    expect(() => new EcrImageRegistry('docker.io/library/python')).toThrow(/not an ECR repository URI/);
  });
});

describe('Adapter: noImageRegistry', () => {
  it('should refuse every use with the reason, as a DependencyError', async () => {
    const images = noImageRegistry('the local platform builds no images');

    const error = await rejectionOf(images.exists(TAG));

    expect(error).toBeInstanceOf(DependencyError);
    expect(error.message).toBe('no image registry here: the local platform builds no images');
    expect(() => images.reference(TAG)).toThrow(DependencyError);
  });
});
