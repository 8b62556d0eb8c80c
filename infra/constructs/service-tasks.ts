import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { ServiceTaskState } from '../../functions/workflow/tasks.js';
import type { ServiceTaskBinding } from './asl-state-machine.js';

/** The managed EventBridge rule through which Step Functions learns that a `startBuild.sync` build ended. */
export const CODEBUILD_SYNC_RULE = 'StepFunctionsGetEventForCodeBuildStartBuildRule';

/**
 * `Build Image` (codebuild:startBuild.sync): the project's name for `${ImageBuildProjectName}`, and what Step
 * Functions needs to run a build of exactly that project and wait for it: start/stop/poll the build, and the managed
 * EventBridge rule it completes through.
 */
export const buildImageTask = (scope: Construct, project: codebuild.IProject): ServiceTaskBinding => ({
  substitutions: { ImageBuildProjectName: project.projectName },
  statements: [
    new iam.PolicyStatement({
      actions: ['codebuild:StartBuild', 'codebuild:StopBuild', 'codebuild:BatchGetBuilds'],
      resources: [project.projectArn],
    }),
    new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [
        Stack.of(scope).formatArn({
          service: 'events',
          resource: 'rule',
          resourceName: CODEBUILD_SYNC_RULE,
          arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
        }),
      ],
    }),
  ],
});

/** Every service task of SERVICE_TASKS, bound (the type makes a new one a compile error until it is bound here). */
export const serviceTaskBindings = (
  scope: Construct,
  resources: { imageBuild: codebuild.IProject },
): Record<ServiceTaskState, ServiceTaskBinding> => ({
  'Build Image': buildImageTask(scope, resources.imageBuild),
});

/** `arn:<partition>:eks:<region>:<this account>:cluster/<name>` of each cluster the environments name. */
export const eksClusterArns = (
  scope: Construct,
  clusters: readonly { eksClusterName: string; region: string }[],
): string[] =>
  clusters.map((c) =>
    Stack.of(scope).formatArn({
      service: 'eks',
      region: c.region,
      resource: 'cluster',
      resourceName: c.eksClusterName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    }),
  );
