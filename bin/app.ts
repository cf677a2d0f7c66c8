#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { environments } from '../config/environments';
import { ConfigError, selectEnvironments } from '../lib/config';
import { IotCoreStack } from '../lib/iot-core-stack';

/** Builds the app: every environment, or the one named with `-c env=<name>`; cdk-nag checks all of it. */
export function buildApp(app: App = new App(), all: Record<string, unknown> = environments): App {
  const selected = app.node.tryGetContext('env') as string | undefined;
  for (const [name, config] of selectEnvironments(all, selected)) {
    new IotCoreStack(app, `IotCore-${name}`, {
      environmentName: name,
      config,
      env: config.account && config.region ? { account: config.account, region: config.region } : undefined,
      description: `AWS IoT Core device ${config.thingName} (${name}): policy, thing, certificate, archive rule, shadow defaults`,
      tags: { project: 'iot-core-cdk', environment: name },
    });
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

if (require.main === module) {
  try {
    buildApp().synth();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // One line, no stack trace: the message names environment, field, value and what is allowed.
    console.error(error.message);
    process.exitCode = 1;
  }
}
