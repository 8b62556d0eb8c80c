import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IEvent } from 'kubernetes-models/v1/Event';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { describe, expect, it } from 'vitest';
import {
  crashLoopState,
  type Diagnosis,
  diagnose,
  imagePullState,
  lastTellingLine,
  unschedulableState,
} from '../../../adapters/eks/reasons.js';

const deployment = (status: Record<string, unknown>, o: { replicas?: number; generation?: number } = {}) =>
  ({
    metadata: { name: 'iris-1-r1', generation: o.generation ?? 1 },
    spec: { replicas: o.replicas ?? 1 },
    status: { observedGeneration: o.generation ?? 1, ...status },
  }) as unknown as IDeployment;

const pod = (status: Record<string, unknown>, o: { name?: string; nodeName?: string; limit?: string } = {}) =>
  ({
    metadata: { name: o.name ?? 'iris-1-r1-abc-0', creationTimestamp: '2024-01-01T00:00:00Z' },
    spec: {
      ...(o.nodeName !== undefined && { nodeName: o.nodeName }),
      containers: [{ name: 'model-server', resources: { limits: { memory: o.limit ?? '1Gi' } } }],
    },
    status,
  }) as unknown as IPod;

const container = (c: Record<string, unknown>) => ({
  name: 'model-server',
  ready: false,
  restartCount: 0,
  image: '',
  imageID: '',
  ...c,
});
const event = (reason: string, message: string, at: string) =>
  ({ reason, message, lastTimestamp: at, involvedObject: {}, metadata: {} }) as unknown as IEvent;

const state = (d: Diagnosis) => {
  if (d.kind !== 'state') throw new Error(`expected a state, got ${d.kind}`);
  return d.state;
};

describe('EKS revision reasons', () => {
  describe('Readiness', () => {
    it('should be absent without a Deployment or while it is being deleted', () => {
      expect(state(diagnose(undefined, []))).toEqual({ state: 'absent' });
      const deleting = deployment({});
      deleting.metadata!.deletionTimestamp = '2024-01-01T00:00:09Z';
      expect(state(diagnose(deleting, []))).toEqual({ state: 'absent' });
    });

    it('should be ready when the rollout is complete with at least one available replica', () => {
      const d = deployment(
        { replicas: 2, updatedReplicas: 2, availableReplicas: 2, readyReplicas: 2 },
        { replicas: 2 },
      );
      expect(state(diagnose(d, []))).toEqual({ state: 'ready' });
    });

    it('should be starting, with progress, while not every replica is available', () => {
      const d = deployment({ replicas: 2, updatedReplicas: 2, availableReplicas: 1 }, { replicas: 2 });
      const p = pod(
        { phase: 'Running', containerStatuses: [container({ state: { running: {} } })] },
        { nodeName: 'n1' },
      );
      expect(state(diagnose(d, [p]))).toEqual({
        state: 'starting',
        reason: '1/2 replicas ready; pod iris-1-r1-abc-0: model server started, waiting for it to be ready',
      });
    });

    it('should be starting while the controller has not observed the latest generation', () => {
      const d = deployment(
        { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
        { generation: 2 },
      );
      expect(state(diagnose(d, []))).toMatchObject({
        state: 'starting',
        reason: expect.stringContaining('rollout not yet observed'),
      });
    });

    it('should say what a pod waits for while it is created', () => {
      const p = pod(
        { phase: 'Pending', containerStatuses: [container({ state: { waiting: { reason: 'ContainerCreating' } } })] },
        { nodeName: 'n1' },
      );
      expect(state(diagnose(deployment({ replicas: 1, updatedReplicas: 1 }), [p]))).toEqual({
        state: 'starting',
        reason: '0/1 replicas ready; pod iris-1-r1-abc-0: ContainerCreating',
      });
    });

    it('should ignore pods on their way out', () => {
      const old = pod({
        phase: 'Running',
        containerStatuses: [container({ lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } } })],
      });
      old.metadata!.deletionTimestamp = '2024-01-01T00:00:09Z';
      const d = deployment({ replicas: 1, updatedReplicas: 1, availableReplicas: 1 });
      expect(state(diagnose(d, [old]))).toEqual({ state: 'ready' });
    });
  });

  describe('Failures', () => {
    it('should name OOMKilled with the memory limit, before the crash loop it causes', () => {
      const p = pod(
        {
          phase: 'Running',
          containerStatuses: [
            container({
              restartCount: 3,
              state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off' } },
              lastState: { terminated: { reason: 'OOMKilled', exitCode: 137 } },
            }),
          ],
        },
        { limit: '1024Mi' },
      );
      expect(state(diagnose(deployment({ replicas: 1, updatedReplicas: 1 }), [p]))).toEqual({
        state: 'failed',
        reason:
          'OOMKilled: container "model-server" of pod iris-1-r1-abc-0 ran out of memory (limit 1024Mi) and was killed (3 restarts)',
      });
    });

    it('should ask for the previous log of a crash-looping container and end with its last telling line', () => {
      const p = pod({
        phase: 'Running',
        containerStatuses: [
          container({
            restartCount: 2,
            state: { waiting: { reason: 'CrashLoopBackOff' } },
            lastState: { terminated: { reason: 'Error', exitCode: 1 } },
          }),
        ],
      });
      const d = diagnose(deployment({ replicas: 1, updatedReplicas: 1 }), [p]);
      expect(d).toEqual({ kind: 'crash-loop', pod: 'iris-1-r1-abc-0', container: 'model-server', exitCode: 1 });
      const log = [
        '{"level":"info","msg":"loading model"}',
        '{"level":"error","msg":"model failed to load: invalid ONNX graph"}',
        'Error: boom',
        '    at main (file:///app/serving/main.js:10:5)',
        '',
        'Node.js v20.20.2',
        '',
      ].join('\n');
      expect(crashLoopState(d as Extract<Diagnosis, { kind: 'crash-loop' }>, log)).toEqual({
        state: 'failed',
        reason: 'CrashLoopBackOff: Error: boom',
      });
      expect(
        crashLoopState(d as Extract<Diagnosis, { kind: 'crash-loop' }>, '{"msg":"model failed to load"}\n'),
      ).toEqual({
        state: 'failed',
        reason: 'CrashLoopBackOff: model failed to load',
      });
      expect(crashLoopState(d as Extract<Diagnosis, { kind: 'crash-loop' }>, undefined)).toEqual({
        state: 'failed',
        reason: 'CrashLoopBackOff: exited with code 1',
      });
    });

    it('should explain ImagePullBackOff with the registry answer from the latest Failed event', () => {
      const p = pod({
        phase: 'Pending',
        containerStatuses: [
          container({ state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x:1"' } } }),
        ],
      });
      const d = diagnose(deployment({ replicas: 1, updatedReplicas: 1 }), [p]);
      expect(d).toMatchObject({ kind: 'image-pull', reason: 'ImagePullBackOff' });
      const events = [
        event('Failed', 'Failed to pull image "x:1": older', '2024-01-01T00:00:01Z'),
        event(
          'Failed',
          'Failed to pull image "x:1": rpc error: code = NotFound desc = not found',
          '2024-01-01T00:00:09Z',
        ),
        event('BackOff', 'Back-off pulling image', '2024-01-01T00:00:10Z'),
      ];
      expect(imagePullState(d as Extract<Diagnosis, { kind: 'image-pull' }>, events)).toEqual({
        state: 'failed',
        reason: 'ImagePullBackOff: Failed to pull image "x:1": rpc error: code = NotFound desc = not found',
      });
      expect(imagePullState(d as Extract<Diagnosis, { kind: 'image-pull' }>, [])).toEqual({
        state: 'failed',
        reason: 'ImagePullBackOff: Back-off pulling image "x:1"',
      });
    });

    it('should keep waiting on ErrImagePull (the kubelet retries once before backing off)', () => {
      const p = pod(
        {
          phase: 'Pending',
          containerStatuses: [container({ state: { waiting: { reason: 'ErrImagePull', message: 'timeout' } } })],
        },
        { nodeName: 'n1' },
      );
      expect(state(diagnose(deployment({ replicas: 1, updatedReplicas: 1 }), [p]))).toEqual({
        state: 'starting',
        reason: '0/1 replicas ready; pod iris-1-r1-abc-0: ErrImagePull: timeout',
      });
    });

    it('should fail Unschedulable with the scheduler message unless an autoscaler is adding a node', () => {
      const p = pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: 'condition message' }],
      });
      const d = diagnose(deployment({ replicas: 1, updatedReplicas: 1 }), [p]) as Extract<
        Diagnosis,
        { kind: 'unschedulable' }
      >;
      expect(d.kind).toBe('unschedulable');
      const failed = event(
        'FailedScheduling',
        '0/3 nodes are available: 3 Insufficient memory.',
        '2024-01-01T00:00:01Z',
      );
      expect(unschedulableState(d, [failed])).toEqual({
        state: 'failed',
        reason: 'Unschedulable: 0/3 nodes are available: 3 Insufficient memory.',
      });
      const scaling = event('TriggeredScaleUp', 'pod triggered scale-up', '2024-01-01T00:00:02Z');
      expect(unschedulableState(d, [failed, scaling])).toEqual({
        state: 'starting',
        reason: 'Unschedulable until a new node is ready: 0/3 nodes are available: 3 Insufficient memory.',
      });
      const refused = event('NotTriggerScaleUp', "pod didn't trigger scale-up", '2024-01-01T00:00:03Z');
      expect(unschedulableState(d, [failed, scaling, refused]).state).toBe('failed');
      expect(unschedulableState(d, [])).toEqual({ state: 'failed', reason: 'Unschedulable: condition message' });
    });

    it('should fail on container config errors such as a missing Secret', () => {
      const p = pod({
        phase: 'Pending',
        containerStatuses: [
          container({
            state: {
              waiting: { reason: 'CreateContainerConfigError', message: 'secret "iris-1-r1-secrets" not found' },
            },
          }),
        ],
      });
      expect(state(diagnose(deployment({ replicas: 1, updatedReplicas: 1 }), [p]))).toEqual({
        state: 'failed',
        reason: 'CreateContainerConfigError: secret "iris-1-r1-secrets" not found',
      });
    });

    it('should fail when the ReplicaSet cannot create pods or the rollout passed its progress deadline', () => {
      const quota = deployment({
        conditions: [
          {
            type: 'ReplicaFailure',
            status: 'True',
            reason: 'FailedCreate',
            message: 'pods "x" is forbidden: exceeded quota',
          },
        ],
      });
      expect(state(diagnose(quota, []))).toEqual({
        state: 'failed',
        reason: 'FailedCreate: pods "x" is forbidden: exceeded quota',
      });
      const stuck = deployment({
        replicas: 1,
        updatedReplicas: 1,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "x" has timed out progressing.',
          },
        ],
      });
      expect(state(diagnose(stuck, []))).toEqual({
        state: 'failed',
        reason: 'ProgressDeadlineExceeded: ReplicaSet "x" has timed out progressing.',
      });
    });

    it('should report the worst problem across pods (OOM before a pull failure)', () => {
      const pulling = pod(
        { phase: 'Pending', containerStatuses: [container({ state: { waiting: { reason: 'ImagePullBackOff' } } })] },
        { name: 'a' },
      );
      const oom = pod(
        {
          phase: 'Running',
          containerStatuses: [container({ state: { terminated: { reason: 'OOMKilled', exitCode: 137 } } })],
        },
        { name: 'b' },
      );
      expect(state(diagnose(deployment({}, { replicas: 2 }), [pulling, oom]))).toMatchObject({
        state: 'failed',
        reason: expect.stringMatching(/^OOMKilled: .* pod b /),
      });
    });
  });

  describe('Log lines', () => {
    it('should skip stack frames, blank lines and Node trailers, and read JSON messages', () => {
      expect(lastTellingLine('a\n  at x\n\n}\n^^^\nNode.js v20.1.0\n')).toBe('a');
      expect(lastTellingLine('{"message":"m"}')).toBe('m');
      expect(lastTellingLine('')).toBeUndefined();
    });
  });
});
