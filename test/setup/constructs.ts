import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { newApp } from './synth';

/**
 * A fresh stack in an app with the feature flags of cdk.json, as a CDK user's own stack would be. CDK's
 * built-in CloudFormation schema validation is left out (about 2.5 s a file): the constructs' resources are
 * validated in full where the environment templates are (iot-core-stack.test.ts).
 */
export function freshStack(env?: { account: string; region: string }): Stack {
  return new Stack(newApp({}, { validate: false }), 'Test', { env });
}

/** cdk-nag AwsSolutions findings of the stack's app that nothing acknowledged: `<rule> <logical IDs>`. */
export function nagFindings(stack: Stack): string[] {
  const app = stack.node.root as App;
  return new AwsSolutionsChecks(app).validateScope(app).violations
    .map((violation) => `${violation.ruleName} ${violation.violatingResources.map((resource) => resource.resourceLogicalId).join(',')}`);
}

export const templateOf = (stack: Stack) => Template.fromStack(stack);
