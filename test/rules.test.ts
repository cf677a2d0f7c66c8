/**
 * Each validation rule is written once (lib/rules.ts): the environment config and the construct that
 * takes the same value refuse it with the same words.
 */
import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import { environments } from '../config/environments';
import { validateEnvironment } from '../lib/config';
import { DeviceCertificate } from '../lib/device-certificate';
import { DeviceMonitoring } from '../lib/device-monitoring';
import { DevicePolicy } from '../lib/device-policy';
import { FleetProvisioning } from '../lib/fleet-provisioning';
import { RULES } from '../lib/rules';
import { INTERVAL_RANGE } from '../device/src/settings';
import { freshStack } from './setup/constructs';

const configError = (change: Record<string, unknown>) => {
  try {
    validateEnvironment('stg', { ...environments.stg, ...change });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('the config was accepted');
};

describe('one rule, one wording, in the config and the construct', () => {
  test('quietIntervals', () => {
    expect(configError({ quietIntervals: 1 })).toContain(`quietIntervals is 1 but must be ${RULES.quietIntervals.allowed}`);
    const stack = freshStack();
    expect(() => new DeviceMonitoring(stack, 'M', { dataTopic: 'data/t', reportInterval: Duration.seconds(5), archiveRuleName: 'r', errorLogGroup: new logs.LogGroup(stack, 'E'), quietIntervals: 1 }))
      .toThrow(`DeviceMonitoring quietIntervals must be ${RULES.quietIntervals.allowed}, received: 1`);
  });

  test('secret recovery days', () => {
    expect(configError({ secretRecoveryDays: 3 })).toContain(`secretRecoveryDays is 3 but must be ${RULES.secretRecoveryDays.allowed}`);
    const stack = freshStack();
    expect(() => new DeviceCertificate(stack, 'C', { policy: new DevicePolicy(stack, 'P'), secretRecoveryWindow: Duration.days(3) }))
      .toThrow(`DeviceCertificate secretRecoveryWindow in days must be ${RULES.secretRecoveryDays.allowed}, received: 3 days`);
  });

  test('a fleet\'s thing-name prefix', () => {
    expect(configError({ fleet: { thingNamePrefix: 'claim-x-', serialPattern: '[0-9]{8}' } })).toContain(`fleet.thingNamePrefix is "claim-x-" but must be ${RULES.thingNamePrefix.allowed}`);
    const stack = freshStack();
    expect(() => new FleetProvisioning(stack, 'F', { devicePolicy: new DevicePolicy(stack, 'P'), thingNamePrefix: 'claim-x-' }))
      .toThrow(`FleetProvisioning thingNamePrefix must be ${RULES.thingNamePrefix.allowed}, received: "claim-x-"`);
  });

  test('the report interval is what the device itself accepts from its shadow', () => {
    expect(RULES.reportIntervalSeconds.allowed).toBe(`a whole number from ${INTERVAL_RANGE.min} to ${INTERVAL_RANGE.max}`);
    expect(configError({ reportIntervalSeconds: INTERVAL_RANGE.max + 1 })).toContain(`reportIntervalSeconds is ${INTERVAL_RANGE.max + 1} but must be ${RULES.reportIntervalSeconds.allowed}`);
  });
});
