import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

/** Helpers for reading synthesized templates in the infra tests. */

export interface CfnResource {
  Type: string;
  /** `{}` when the template has none. */
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

export const logicalId = (construct: IConstruct): string => {
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return Stack.of(element).getLogicalId(element);
};

const normalized = (found: Omit<CfnResource, 'Properties'> & { Properties?: Record<string, unknown> }) => ({
  ...found,
  Properties: found.Properties ?? {},
});

export const resources = (template: Template, type: string): Record<string, CfnResource> =>
  Object.fromEntries(Object.entries(template.findResources(type)).map(([id, r]) => [id, normalized(r as CfnResource)]));

export const resource = (template: Template, id: string): CfnResource => {
  const found = (template.toJSON() as { Resources: Record<string, CfnResource> }).Resources[id];
  if (!found) throw new Error(`no resource ${id}`);
  return normalized(found);
};

/** The environment variables of a function resource. */
export const variablesOf = (template: Template, construct: IConstruct): Record<string, unknown> =>
  (resource(template, logicalId(construct)).Properties.Environment as { Variables: Record<string, unknown> }).Variables;

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

export const actionsOf = (statement: Statement): string[] => asArray(statement.Action);
export const resourcesOf = (statement: Statement): unknown[] => asArray(statement.Resource);

/** Every statement of every AWS::IAM::Policy attached to the role with this logical id. */
export const roleStatements = (template: Template, roleId: string): Statement[] =>
  Object.values(resources(template, 'AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId })),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);

/** Role logical id of a resource property `{ "Fn::GetAtt": [roleId, "Arn"] }`. */
export const roleIdOf = (roleArn: unknown): string => {
  const getAtt = (roleArn as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (!getAtt) throw new Error(`not a role reference: ${JSON.stringify(roleArn)}`);
  return getAtt[0];
};

/**
 * Follows a cross-stack reference (`Fn::GetStackOutput` for weak references, `Fn::ImportValue` for strong ones) to
 * the value the producing stack outputs, e.g. `{ Ref: "DeployVersionStateMachine…" }`.
 */
export const followReference = (value: unknown, producers: Record<string, Template>): unknown => {
  const weak = (value as { 'Fn::GetStackOutput'?: { StackName: string; OutputName: string } })['Fn::GetStackOutput'];
  if (weak) {
    const producer = producers[weak.StackName];
    if (!producer) throw new Error(`no producer template ${weak.StackName}`);
    const outputs = producer.toJSON().Outputs as Record<string, { Value: unknown }>;
    return outputs[weak.OutputName]?.Value;
  }
  const strong = (value as { 'Fn::ImportValue'?: string })['Fn::ImportValue'];
  if (strong) {
    for (const producer of Object.values(producers)) {
      const outputs = (producer.toJSON().Outputs ?? {}) as Record<
        string,
        { Value: unknown; Export?: { Name: string } }
      >;
      const match = Object.values(outputs).find((o) => o.Export?.Name === strong);
      if (match) return match.Value;
    }
    throw new Error(`no export ${strong}`);
  }
  return value;
};

/** CloudFormation's DefinitionSubstitutions applied to a DefinitionString (values replaced by a marker). */
export const substitute = (definition: string, substitutions: Record<string, unknown>): string =>
  definition.replace(/\$\{([^}]*)\}/g, (whole, name: string) => (name in substitutions ? 'substituted' : whole));
