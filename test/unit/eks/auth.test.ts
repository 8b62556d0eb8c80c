import type { EKSClient } from '@aws-sdk/client-eks';
import { describe, expect, it } from 'vitest';
import {
  EksClusterAuth,
  eksToken,
  presignCallerIdentity,
  stsEndpointOf,
  TOKEN_PREFIX,
  urlOfToken,
} from '../../../adapters/eks/auth.js';
import { DependencyError } from '../../../core/errors.js';
import { verifyPresignedGet } from '../../fakes/k8s-aws-stub.js';

const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'FwoG+/=token',
};
const SIGNED_AT = new Date('2024-05-01T10:00:00Z');

describe('EKS auth', () => {
  describe('Token', () => {
    it('should presign GetCallerIdentity on the regional STS endpoint with x-k8s-aws-id signed and a 60 s expiry', async () => {
      const url = new URL(
        await presignCallerIdentity({
          clusterName: 'ml-prod',
          region: 'eu-west-1',
          credentials: CREDENTIALS,
          signingDate: SIGNED_AT,
        }),
      );
      expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
      expect(url.pathname).toBe('/');
      expect(Object.fromEntries(url.searchParams)).toEqual({
        Action: 'GetCallerIdentity',
        Version: '2011-06-15',
        'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
        'X-Amz-Credential': 'AKIDEXAMPLE/20240501/eu-west-1/sts/aws4_request',
        'X-Amz-Date': '20240501T100000Z',
        'X-Amz-Expires': '60',
        'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
        'X-Amz-Security-Token': 'FwoG+/=token',
        'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      // The query is RFC 3986 encoded, as STS canonicalizes it.
      expect(url.search).toContain('X-Amz-Security-Token=FwoG%2B%2F%3Dtoken');
      expect(url.search).toContain('X-Amz-Credential=AKIDEXAMPLE%2F20240501%2Feu-west-1%2Fsts%2Faws4_request');
    });

    it('should carry a signature an independent SigV4 check accepts only for the same cluster', async () => {
      const url = new URL(
        await presignCallerIdentity({
          clusterName: 'ml-prod',
          region: 'eu-west-1',
          credentials: CREDENTIALS,
          signingDate: SIGNED_AT,
        }),
      );
      const at = new Date(SIGNED_AT.getTime() + 30_000);
      const headers = (cluster: string) => ({ host: url.host, 'x-k8s-aws-id': cluster });
      expect(verifyPresignedGet(url, headers('ml-prod'), CREDENTIALS, at)).toMatchObject({ ok: true });
      expect(verifyPresignedGet(url, headers('ml-other'), CREDENTIALS, at)).toEqual({
        ok: false,
        reason: 'signature does not match',
      });
      expect(verifyPresignedGet(url, headers('ml-prod'), { ...CREDENTIALS, secretAccessKey: 'wrong' }, at).ok).toBe(
        false,
      );
      const late = new Date(SIGNED_AT.getTime() + 16 * 60_000);
      expect(verifyPresignedGet(url, headers('ml-prod'), CREDENTIALS, late).reason).toMatch(/expired/);
    });

    it('should encode the URL as k8s-aws-v1. + unpadded base64url', async () => {
      const token = await eksToken({
        clusterName: 'c',
        region: 'us-east-1',
        credentials: CREDENTIALS,
        signingDate: SIGNED_AT,
      });
      expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
      expect(token.slice(TOKEN_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(urlOfToken(token)).toMatch(/^https:\/\/sts\.us-east-1\.amazonaws\.com\/\?Action=GetCallerIdentity&/);
      expect(urlOfToken('Bearer nope')).toBeUndefined();
    });

    it('should use the China partition endpoint for cn- regions', () => {
      expect(stsEndpointOf('cn-north-1')).toBe('https://sts.cn-north-1.amazonaws.com.cn');
    });
  });

  describe('Class: EksClusterAuth', () => {
    const fakeEks = (answer: () => unknown) => {
      const calls: unknown[] = [];
      const eks = {
        send: async (cmd: { input: unknown }) => {
          calls.push(cmd.input);
          return answer();
        },
      } as unknown as EKSClient;
      return { eks, calls };
    };

    it('should describe the cluster once and reuse the endpoint and CA', async () => {
      const { eks, calls } = fakeEks(() => ({
        cluster: { endpoint: 'https://abc.gr7.eu-west-1.eks.amazonaws.com', certificateAuthority: { data: 'Q0E=' } },
      }));
      const auth = new EksClusterAuth({ clusterName: 'ml-prod', region: 'eu-west-1', eks, credentials: CREDENTIALS });
      const [a, b] = await Promise.all([auth.endpoint(), auth.endpoint()]);
      expect(a).toEqual({ server: 'https://abc.gr7.eu-west-1.eks.amazonaws.com', caData: 'Q0E=' });
      expect(b).toBe(a);
      expect(calls).toEqual([{ name: 'ml-prod' }]);
      auth.invalidateEndpoint();
      await auth.endpoint();
      expect(calls).toHaveLength(2);
    });

    it('should translate DescribeCluster failures and not cache them', async () => {
      let n = 0;
      const { eks } = fakeEks(() => {
        n++;
        if (n === 1) throw Object.assign(new Error('No cluster found'), { name: 'ResourceNotFoundException' });
        return { cluster: { status: 'CREATING' } };
      });
      const auth = new EksClusterAuth({ clusterName: 'gone', region: 'eu-west-1', eks, credentials: CREDENTIALS });
      await expect(auth.endpoint()).rejects.toThrow(
        new DependencyError('EKS cluster "gone" does not exist in region eu-west-1'),
      );
      await expect(auth.endpoint()).rejects.toThrow(/has no API endpoint yet \(status CREATING\)/);
    });

    it('should reuse a token for its time to live and sign a new one after it or after invalidation', async () => {
      let now = SIGNED_AT.getTime();
      const { eks } = fakeEks(() => ({}));
      const auth = new EksClusterAuth({
        clusterName: 'c',
        region: 'us-east-1',
        eks,
        credentials: CREDENTIALS,
        now: () => new Date(now),
      });
      const first = await auth.token();
      now += 9 * 60_000;
      expect(await auth.token()).toBe(first);
      now += 2 * 60_000;
      const second = await auth.token();
      expect(second).not.toBe(first);
      auth.invalidateToken();
      now += 1000;
      expect(await auth.token()).not.toBe(second);
    });

    it('should say so when no credentials can be had', async () => {
      const { eks } = fakeEks(() => ({}));
      const auth = new EksClusterAuth({
        clusterName: 'c',
        region: 'us-east-1',
        eks,
        credentials: async () => {
          throw new Error('Could not load credentials from any providers');
        },
      });
      await expect(auth.token()).rejects.toThrow(/cannot sign a token for EKS cluster "c": no usable AWS credentials/);
    });
  });
});
