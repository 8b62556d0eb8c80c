/**
 * The fake Kubernetes API server and the EKS/STS stub wired together as on EKS: DescribeCluster answers the fake's
 * URL, and the fake accepts a request only if its bearer token is an EKS token whose presigned URL the STS stub
 * verifies for this cluster (tokens cached, as the real authenticator caches them).
 */
import type { EksOverrides } from '../../adapters/eks/gateways.js';
import { FakeKubeApiServer, type FakeKubeApiServerOptions } from './k8s-api-server.js';
import { AwsStub } from './k8s-aws-stub.js';

export const EKS_TEST_CREDENTIALS = {
  accessKeyId: 'AKIDMERLINTEST',
  secretAccessKey: 'merlin/test+secret/key',
  sessionToken: 'session/token+value==',
};

export interface EksFakes {
  kube: FakeKubeApiServer;
  aws: AwsStub;
  clusterName: string;
  /** For EksGateways / container.provideEks: the stubs, fixed credentials and a 5 ms poll. */
  overrides: EksOverrides;
  stop(): Promise<void>;
}

export async function startEksFakes(
  o: { clusterName?: string; pollIntervalMs?: number } & Pick<
    FakeKubeApiServerOptions,
    'gatewayApi' | 'mirrorPercent'
  > = {},
): Promise<EksFakes> {
  const clusterName = o.clusterName ?? 'merlin-test';
  const verified = new Map<string, Promise<boolean>>();
  let aws: AwsStub | undefined;
  const kube = await FakeKubeApiServer.start({
    ...(o.gatewayApi !== undefined && { gatewayApi: o.gatewayApi }),
    ...(o.mirrorPercent !== undefined && { mirrorPercent: o.mirrorPercent }),
    authenticate: (token) => {
      let ok = verified.get(token);
      if (!ok) {
        ok = aws!.verifyToken(token, clusterName).then((r) => r.ok);
        verified.set(token, ok);
      }
      return ok;
    },
  });
  aws = await AwsStub.start({ credentials: EKS_TEST_CREDENTIALS, clusters: { [clusterName]: kube.url } });
  const stub = aws;
  return {
    kube,
    aws: stub,
    clusterName,
    overrides: {
      eksEndpoint: stub.url,
      stsEndpoint: stub.url,
      credentials: EKS_TEST_CREDENTIALS,
      pollIntervalMs: o.pollIntervalMs ?? 5,
    },
    stop: async () => {
      await kube.close();
      await stub.close();
    },
  };
}
