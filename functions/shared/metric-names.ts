/**
 * The names of Merlin's business metrics, shared by the handlers that emit them (observability.ts) and the CDK
 * dashboard that reads them (infra/constructs/dashboard.ts). Imports nothing, so infra does not load Powertools.
 */

/** The CloudWatch namespace of Merlin's business metrics. */
export const METRICS_NAMESPACE = 'Merlin';
/** Powertools' `service` dimension and log field. */
export const SERVICE_NAME = 'merlin';

/** What the platform counts, named for what happened to a deployment (DESIGN §4 Deployment). */
export const BUSINESS_METRICS = ['DeploymentStarted', 'DeploymentSucceeded', 'DeploymentFailed'] as const;
export type BusinessMetric = (typeof BUSINESS_METRICS)[number];
