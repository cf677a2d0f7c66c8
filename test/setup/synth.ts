import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../bin/app';
import * as cdkJson from '../../cdk.json';
import { environments } from '../../config/environments';
import { IotCoreStack } from '../../lib/iot-core-stack';

export const ENVIRONMENT_NAMES = Object.keys(environments);

/**
 * An app with the feature flags of cdk.json, as the CDK CLI would create it. `validate: false` leaves out
 * CDK's built-in CloudFormation schema validation (about 2.5 s a process) where a test checks something
 * else of templates that the environment tests (iot-core-stack, nag) validate in full.
 */
export function newApp(context: Record<string, unknown> = {}, options: { validate?: boolean } = {}): App {
  return new App({ context: { ...cdkJson.context, ...context }, builtinCloudFormationValidation: options.validate ?? true });
}

const cache = new Map<string, { stack: IotCoreStack; template: Template }>();

/** The stack and template of one environment, built once per test file the way `cdk synth -c env=<name>` builds it. */
export function synthEnvironment(name: string): { stack: IotCoreStack; template: Template } {
  if (!cache.has(name)) {
    const app = buildApp(newApp({ env: name }), undefined, undefined, { accountWarning: false });
    const stack = app.node.findChild(`IotCore-${name}`) as IotCoreStack;
    cache.set(name, { stack, template: Template.fromStack(stack) });
  }
  return cache.get(name)!;
}
