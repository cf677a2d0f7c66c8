#!/usr/bin/env node
import { Annotations, App, CfnRule, Duration, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { environments, stackNameOf } from '../config/environments';
import { AccountSources, configuredAccount } from '../lib/accounts';
import { ConfigError, EnvironmentConfig, selectEnvironments } from '../lib/config';
import { IotCoreStack, IotCoreStackProps } from '../lib/iot-core-stack';

/** How the app is built for a reader that never deploys it. */
export interface BuildOptions {
  /**
   * Warn at synth of a pinned environment with no account. The sandbox and the tests synthesize stg and prod
   * without accounts on purpose and never deploy them: the warning would repeat in every run, while the
   * template's rule still refuses any deploy. @default true
   */
  readonly accountWarning?: boolean;
}

/**
 * Builds the app: every environment, or the one named with `-c env=<name>`; cdk-nag checks all of it.
 * An environment pinned to a region takes its account from lib/accounts.ts; without one its template
 * carries a CloudFormation rule that fails before any resource is created.
 */
export function buildApp(app: App = new App(), all: Record<string, unknown> = environments, env: NodeJS.ProcessEnv = process.env, options: BuildOptions = {}): App {
  const selected = app.node.tryGetContext('env') as string | undefined;
  const sources: AccountSources = { context: (key) => app.node.tryGetContext(key), env };
  for (const [name, config] of selectEnvironments(all, selected)) {
    const account = config.account ?? (config.region ? configuredAccount(name, sources)?.account : undefined);
    const stack = new IotCoreStack(app, stackNameOf(name), {
      ...stackProps(name, config),
      env: config.region ? { account, region: config.region } : undefined,
      description: `AWS IoT Core device ${config.thingName} (${name}): policy, thing, certificate, archive rule, shadow defaults`,
      tags: { project: 'iot-core-cdk', environment: name },
    });
    if (config.region && !account) refuseToDeploy(stack, name, options.accountWarning ?? true);
  }
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

/** The stack's typed props from an environment's validated settings. */
export function stackProps(name: string, config: EnvironmentConfig): IotCoreStackProps {
  return {
    environmentName: name,
    thingName: config.thingName,
    reportInterval: Duration.seconds(config.reportIntervalSeconds),
    archiveKeyPrefix: config.archiveKeyPrefix,
    archiveKeyPattern: config.archiveKeyPattern,
    archiveRetention: Duration.days(config.archiveRetentionDays),
    removalPolicy: config.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    secretRecoveryWindow: Duration.days(config.secretRecoveryDays),
    certificateRotation: config.certificateRotation ?? 0,
    clearShadowOnDelete: config.clearShadowOnDelete,
    logRetention: config.logRetentionDays as logs.RetentionDays,
    quietIntervals: config.quietIntervals,
    alarmFailureThreshold: config.alarmFailureThreshold,
    alarmFailurePeriod: config.alarmFailurePeriodMinutes === undefined ? undefined : Duration.minutes(config.alarmFailurePeriodMinutes),
    alarmTopicArn: config.alarmTopicArn,
    fleet: config.fleet && { ...config.fleet, serialPattern: new RegExp(config.fleet.serialPattern) },
    jobs: config.jobs && {
      rollout: config.jobs.rollout,
      abort: config.jobs.abort,
      inProgressTimeout: config.jobs.inProgressTimeoutMinutes === undefined ? undefined : Duration.minutes(config.jobs.inProgressTimeoutMinutes),
      retries: config.jobs.retries,
    },
  };
}

/** A rule CloudFormation checks before creating or updating anything: deploying needs a configured account. */
function refuseToDeploy(stack: IotCoreStack, name: string, warn: boolean): void {
  const how = `set it with -c account.${name}=<id>, IOT_CORE_ACCOUNT_${name.toUpperCase()}=<id>, or config/accounts.local.json`;
  new CfnRule(stack, 'AccountNotConfigured', {
    assertions: [{
      assert: Fn.conditionEquals('account configured', 'no account configured'),
      assertDescription: `${stackNameOf(name)} is pinned to a region but no account was configured when it was synthesized: ${how}, then synthesize again.`,
    }],
  });
  if (warn) Annotations.of(stack).addWarningV2('iot-core-cdk:account-not-configured', `No account configured for ${name}: the template cannot be deployed until you ${how}.`);
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
