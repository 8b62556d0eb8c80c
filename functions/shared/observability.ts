/**
 * Powertools for AWS Lambda, wired once for every function (house style: observability in the handler layer, never in
 * core/). On Lambda: JSON logs with the Lambda context and a correlation id, X-Ray subsegments for the handler and
 * every AWS SDK call, and business metrics as CloudWatch EMF under the `Merlin` namespace. Elsewhere (the local
 * platform, tests) the same middlewares run but cost next to nothing: the tracer is off (Powertools turns it off
 * outside Lambda), only errors are logged, and metrics go to a no-op recorder unless a test installs one.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { MiddlewareObj } from '@middy/core';
import { BUSINESS_METRICS, type BusinessMetric, METRICS_NAMESPACE, SERVICE_NAME } from './metric-names.js';

/** Lambda sets this in every execution environment; the local platform and tests do not. */
export const onLambda = (env: NodeJS.ProcessEnv = process.env): boolean => !!env.AWS_LAMBDA_FUNCTION_NAME;

export { BUSINESS_METRICS, type BusinessMetric, METRICS_NAMESPACE, SERVICE_NAME };

/** The port handlers count through: Powertools on Lambda, nothing locally, a fake in tests. */
export interface MetricsRecorder {
  count(name: BusinessMetric): void;
  /** Called once at the end of every invocation (success or error). */
  flush(): void;
}

const noMetrics: MetricsRecorder = { count: () => undefined, flush: () => undefined };

/**
 * CloudWatch EMF through Powertools: dimensions `service` and `stage` (MERLIN_STAGE), so each stage's dashboard
 * reads only its own numbers. Publishes only when something was counted (Powertools' own middleware warns on every
 * invocation without metrics, which is most API calls).
 */
export const powertoolsMetrics = (stage: string | undefined = process.env.MERLIN_STAGE): MetricsRecorder => {
  const metrics = new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICE_NAME,
    ...(stage && { defaultDimensions: { stage } }),
  });
  return {
    count: (name) => metrics.addMetric(name, MetricUnit.Count, 1),
    flush: () => {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    },
  };
};

let recorder: MetricsRecorder = onLambda() ? powertoolsMetrics() : noMetrics;

/** The recorder handlers count with. */
export const metrics = (): MetricsRecorder => recorder;

/** Test seam: count into `replacement`; `undefined` restores the runtime's recorder. */
export function recordMetricsWith(replacement: MetricsRecorder | undefined): void {
  recorder = replacement ?? (onLambda() ? powertoolsMetrics() : noMetrics);
}

/** INFO on Lambda (POWERTOOLS_LOG_LEVEL overrides); locally and in tests only errors, as before Powertools. */
export const logger = new Logger({
  serviceName: SERVICE_NAME,
  logLevel: (process.env.POWERTOOLS_LOG_LEVEL ?? (onLambda() ? 'INFO' : 'ERROR')) as 'INFO',
});

/** Off outside Lambda (Powertools checks the execution environment itself). */
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

/** X-Ray subsegments for every call of an AWS SDK v3 client, on Lambda only; returns the client. */
export const traced = <T>(client: T): T => (tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client);

/**
 * The Powertools middlewares of every handler: Lambda context and a correlation id in the logs (`correlationId`
 * picks it from the event: the API Gateway request id, a workflow's deployment id), a handler subsegment, and the
 * metrics flush at the end of the invocation.
 */
export const observability = <E>(correlationId: (event: E) => string | undefined): MiddlewareObj<E>[] => [
  injectLambdaContext(logger, { resetKeys: true }) as MiddlewareObj<E>,
  {
    before: (request) => {
      const id = correlationId(request.event);
      if (id) logger.setCorrelationId(id);
    },
  },
  captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj<E>,
  {
    after: () => metrics().flush(),
    onError: () => metrics().flush(),
  },
];
