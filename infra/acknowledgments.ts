import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag (AwsSolutions pack, v3: a CDK policy-validation plugin) findings that Merlin accepts, each acknowledged
 * on the narrowest construct with the reason next to the code that causes it. cdk-nag itself runs in the infra tests
 * (test/infra/nag.test.ts); the acknowledgments are plain construct metadata, so the app needs no cdk-nag at run time.
 */
export const acknowledge = (scope: IConstruct, id: string, reason: string): void => {
  Validations.of(scope).acknowledge({ id, reason });
};

/**
 * How cdk-nag names a policy resource in a finding (`AwsSolutions-IAM5[Resource::<this>]`): literal text as is,
 * `{Ref: X}` as `<X>`, `{Fn::GetAtt: [Id, Attr]}` as `<Id.Attr>`, joined. Lets an acknowledgment name exactly the
 * wildcard resource it accepts instead of every wildcard of the policy.
 */
export const nagResourceName = (scope: IConstruct, value: unknown): string => {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, unknown>;
    if (typeof o?.Ref === 'string') return `<${o.Ref}>`;
    const getAtt = o?.['Fn::GetAtt'] as [string, string] | undefined;
    if (getAtt) return `<${getAtt[0]}.${getAtt[1]}>`;
    const join = o?.['Fn::Join'] as [string, unknown[]] | undefined;
    if (join) return join[1].map(render).join(join[0]);
    throw new Error(`cannot name ${JSON.stringify(v)} as cdk-nag does`);
  };
  return render(Stack.of(scope).resolve(value));
};

/** Acknowledges AwsSolutions-IAM5 for exactly one wildcard resource of `scope`'s policies. */
export const acknowledgeWildcardResource = (scope: IConstruct, resource: unknown, reason: string): void =>
  acknowledge(scope, `AwsSolutions-IAM5[Resource::${nagResourceName(scope, resource)}]`, reason);

/** X-Ray's write and sampling actions have no resource-level permissions (CDK grants them on `*`). */
export const XRAY_REASON =
  'X-Ray tracing (Tracing.ACTIVE / tracingEnabled): xray:PutTraceSegments and xray:PutTelemetryRecords (and, for Step Functions, xray:GetSamplingRules and xray:GetSamplingTargets) support no resource-level permissions, so CDK grants them on "*"; test/infra/nag.test.ts checks that no other action is granted on "*".';
