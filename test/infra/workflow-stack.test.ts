import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WorkflowName } from '../../core/ports.js';
import { STATE_MACHINE_FILES, WORKFLOW_TASKS, type WorkflowTaskKey } from '../../functions/workflow/tasks.js';
import { buildApp, type MerlinApp } from '../../infra/build-app.js';
import { REPO_ROOT } from '../../infra/config.js';
import { expectMerlinDefaults } from './function-assertions.js';
import {
  actionsOf,
  logicalId,
  resource,
  resources,
  resourcesOf,
  roleIdOf,
  roleStatements,
  substitute,
  variablesOf,
} from './template-helpers.js';

const WORKFLOWS = Object.entries(STATE_MACHINE_FILES) as [WorkflowName, string][];
const TASKS = Object.keys(WORKFLOW_TASKS) as WorkflowTaskKey[];

const aslText = (file: string): string => readFileSync(path.join(REPO_ROOT, 'statemachines', file), 'utf8');
const tasksNamedIn = (file: string): WorkflowTaskKey[] => [
  ...new Set([...aslText(file).matchAll(/\$\{([A-Za-z]+)FunctionArn\}/g)].map((m) => m[1] as WorkflowTaskKey)),
];
/** Placeholders of service tasks (SERVICE_TASKS), e.g. ImageBuildProjectName: test/infra/images.test.ts checks them. */
const parametersNamedIn = (file: string): string[] => [
  ...new Set(
    [...aslText(file).matchAll(/\$\{([A-Za-z]+)\}/g)].map((m) => m[1]!).filter((p) => !p.endsWith('FunctionArn')),
  ),
];

describe('WorkflowStack', () => {
  let built: MerlinApp;
  let template: Template;
  beforeAll(() => {
    built = buildApp({ stage: 'dev', bundle: false });
    template = Template.fromStack(built.workflow);
  });

  const machineOf = (workflow: WorkflowName) => {
    const id = logicalId(built.workflow.stateMachines[workflow]);
    return { id, props: resource(template, id).Properties };
  };

  describe('task functions', () => {
    it('should build one function per WORKFLOW_TASKS key from functions/workflow/<entry>.ts', () => {
      template.resourceCountIs('AWS::Lambda::Function', TASKS.length);
      for (const [key, entry] of Object.entries(WORKFLOW_TASKS)) {
        const fn = built.workflow.functions[key as WorkflowTaskKey];
        expect(fn.entry).toBe(path.join(REPO_ROOT, 'functions/workflow', `${entry}.ts`));
        expect(resource(template, logicalId(fn)).Properties.Description).toContain(key);
      }
    });

    it('should give every function the Merlin defaults (Node 22, arm64, X-Ray, logs, contract variables)', () => {
      for (const key of TASKS) {
        expectMerlinDefaults(template, built.workflow.functions[key], key === 'CheckRevision' ? 60 : 30);
      }
    });

    it('should name each state machine by its fixed ARN without referencing it (no cycle)', () => {
      const variables = variablesOf(template, built.workflow.functions.PrepareDeployment);
      expect(JSON.stringify(variables.DEPLOY_VERSION_STATE_MACHINE_ARN)).toContain(
        ':stateMachine:Merlin-dev-deploy-version',
      );
      expect(JSON.stringify(variables.UNDEPLOY_VERSION_STATE_MACHINE_ARN)).toContain(
        ':stateMachine:Merlin-dev-undeploy-version',
      );
      expect(JSON.stringify(variables.UPDATE_ROUTE_STATE_MACHINE_ARN)).toContain(
        ':stateMachine:Merlin-dev-update-route',
      );
      for (const workflow of WORKFLOWS.map(([w]) => w)) {
        expect(machineOf(workflow).props.StateMachineName).toBe(`Merlin-dev-${workflow}`);
      }
    });

    it('should let task functions read and write the table, and start no executions', () => {
      for (const key of TASKS) {
        const fn = resource(template, logicalId(built.workflow.functions[key]));
        const statements = roleStatements(template, roleIdOf(fn.Properties.Role));
        const actions = statements.flatMap(actionsOf);
        expect(actions, key).toEqual(
          expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query']),
        );
        expect(
          actions.filter((a) => a.startsWith('states:') || a.startsWith('s3:') || a === '*'),
          key,
        ).toEqual([]);
      }
    });
  });

  describe.each(WORKFLOWS)('state machine %s', (workflow, file) => {
    it('should be a STANDARD state machine whose inlined definition is the ASL file', () => {
      const { props } = machineOf(workflow);
      expect(props.StateMachineType).toBe('STANDARD');
      expect(typeof props.DefinitionString).toBe('string');
      expect(props.DefinitionS3Location).toBeUndefined();
      expect(JSON.parse(props.DefinitionString as string)).toEqual(JSON.parse(aslText(file)));
    });

    it('should substitute every placeholder with the ARN of the task function it names', () => {
      const { props } = machineOf(workflow);
      const substitutions = props.DefinitionSubstitutions as Record<string, unknown>;
      const named = tasksNamedIn(file);
      expect(named.length).toBeGreaterThan(0);
      expect(Object.keys(substitutions).sort()).toEqual(
        [...named.map((key) => `${key}FunctionArn`), ...parametersNamedIn(file)].sort(),
      );
      for (const key of named) {
        expect(substitutions[`${key}FunctionArn`]).toEqual({
          'Fn::GetAtt': [logicalId(built.workflow.functions[key]), 'Arn'],
        });
      }
      expect(substitute(props.DefinitionString as string, substitutions)).not.toContain('${');
    });

    it('should log everything with execution data and trace with X-Ray', () => {
      const { props } = machineOf(workflow);
      expect(props.TracingConfiguration).toEqual({ Enabled: true });
      const logging = props.LoggingConfiguration as {
        Level: string;
        IncludeExecutionData: boolean;
        Destinations: { CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [string, string] } } }[];
      };
      expect(logging.Level).toBe('ALL');
      expect(logging.IncludeExecutionData).toBe(true);
      const logGroupId = logging.Destinations[0]?.CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
      expect(resource(template, logGroupId ?? '').Properties.RetentionInDays).toBeGreaterThan(0);
    });

    it('should raise an alarm as soon as an execution fails, times out or is aborted', () => {
      const { id } = machineOf(workflow);
      const alarms = Object.values(resources(template, 'AWS::CloudWatch::Alarm')).filter((a) =>
        JSON.stringify(a.Properties.Metrics).includes(`"${id}"`),
      );
      expect(alarms).toHaveLength(1);
      const alarm = alarms[0]!.Properties as {
        AlarmName: string;
        Threshold: number;
        EvaluationPeriods: number;
        ComparisonOperator: string;
        TreatMissingData: string;
        Metrics: {
          Id: string;
          Expression?: string;
          MetricStat?: { Metric: { MetricName: string }; Stat: string; Period: number };
        }[];
      };
      expect(alarm.AlarmName).toBe(`Merlin-dev-${workflow}-failed-executions`);
      expect(alarm).toMatchObject({
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      const stats = alarm.Metrics.filter((m) => m.MetricStat).map((m) => [
        m.MetricStat!.Metric.MetricName,
        m.MetricStat!.Stat,
        m.MetricStat!.Period,
      ]);
      expect(stats.sort()).toEqual([
        ['ExecutionsAborted', 'Sum', 300],
        ['ExecutionsFailed', 'Sum', 300],
        ['ExecutionsTimedOut', 'Sum', 300],
      ]);
      expect(alarm.Metrics.find((m) => m.Expression)?.Expression).toBe(
        'FILL(failed, 0) + FILL(timedOut, 0) + FILL(aborted, 0)',
      );
    });

    it('should let its role invoke exactly the functions its ASL names', () => {
      const { props } = machineOf(workflow);
      const statements = roleStatements(template, roleIdOf(props.RoleArn));
      const invokes = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:') || a === '*'));
      for (const s of invokes) expect(actionsOf(s)).toEqual(['lambda:InvokeFunction']);
      const invoked = new Set(invokes.flatMap(resourcesOf).map((r) => JSON.stringify(r)));
      const expected = new Set(
        tasksNamedIn(file).flatMap((key) => {
          const arn = { 'Fn::GetAtt': [logicalId(built.workflow.functions[key]), 'Arn'] };
          // The unqualified ARN the definition names; no versions or aliases (`:*`).
          return [JSON.stringify(arn)];
        }),
      );
      expect(invoked).toEqual(expected);
    });
  });

  describe('alarm topic', () => {
    it('should send every failed-executions alarm (and its recovery) to the stage topic', () => {
      const topic = logicalId(built.workflow.alarmTopic);
      const alarms = Object.values(resources(template, 'AWS::CloudWatch::Alarm'));
      expect(alarms).toHaveLength(WORKFLOWS.length);
      for (const alarm of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
        expect(alarm.Properties.OKActions).toEqual([{ Ref: topic }]);
      }
      template.hasOutput('AlarmTopicArn', { Value: { Ref: topic } });
    });

    it('should encrypt the topic with a rotated key CloudWatch may use, and refuse publishing without TLS', () => {
      const topic = resource(template, logicalId(built.workflow.alarmTopic)).Properties;
      expect(topic.TopicName).toBe('Merlin-dev-alarms');
      const keyId = (topic.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const key = resource(template, keyId).Properties;
      expect(key.EnableKeyRotation).toBe(true);
      expect((key.KeyPolicy as { Statement: unknown[] }).Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      );
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('should let CloudWatch publish this stage’s alarms to the topic (its policy replaces the SNS default)', () => {
      const topicRef = { Ref: logicalId(built.workflow.alarmTopic) };
      const policies = Object.values(resources(template, 'AWS::SNS::TopicPolicy'));
      expect(policies).toHaveLength(1);
      const policy = policies[0]?.Properties as { Topics: unknown[]; PolicyDocument: { Statement: unknown[] } };
      expect(policy.Topics).toEqual([topicRef]);
      const allows = policy.PolicyDocument.Statement.filter((st) => (st as { Effect: string }).Effect === 'Allow');
      expect(allows).toEqual([
        expect.objectContaining({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: 'sns:Publish',
          Resource: topicRef,
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnLike: {
              'aws:SourceArn': {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':cloudwatch:',
                    { Ref: 'AWS::Region' },
                    ':',
                    { Ref: 'AWS::AccountId' },
                    ':alarm:Merlin-dev-*',
                  ],
                ],
              },
            },
          },
        }),
      ]);
    });

    it('should subscribe the stage config’s alarm emails, and none by default', () => {
      template.resourceCountIs('AWS::SNS::Subscription', 0);
      const withEmails = buildApp({
        stage: 'prod',
        bundle: false,
        config: { environments: [{ name: 'local' }], stages: { prod: { alarmEmails: ['oncall@example.com'] } } },
      });
      Template.fromStack(withEmails.workflow).hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'oncall@example.com',
      });
      expect(() =>
        buildApp({
          stage: 'prod',
          bundle: false,
          config: { environments: [{ name: 'local' }], stages: { prod: { alarmEmails: ['not an email'] } } },
        }),
      ).toThrow(/prod\.alarmEmails\.0/);
    });
  });

  it('should have one state machine per STATE_MACHINE_FILES entry', () => {
    expect(Object.keys(resources(template, 'AWS::StepFunctions::StateMachine'))).toHaveLength(WORKFLOWS.length);
  });
});
