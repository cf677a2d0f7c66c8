/**
 * Deployment environments. Each entry becomes one stack, `IotCore-<name>`.
 *
 * stg and prod are pinned to a region here and to an account given outside version control (see
 * lib/accounts.ts: `-c account.stg=...`, IOT_CORE_ACCOUNT_STG, or config/accounts.local.json); until one
 * is given, their templates refuse to deploy. dev is environment-agnostic: it deploys to whatever
 * account and region your credentials select.
 */
/** The stack of an environment: every tool that names a stack by default takes its name from here. */
export const stackNameOf = (environment: string): string => `IotCore-${environment}`;

/** The environment the sandbox and `npm start` play. */
export const SANDBOX_ENVIRONMENT = 'dev';

export const environments = {
  dev: {
    thingName: 'pi-dev-01',
    reportIntervalSeconds: 5,
    archiveKeyPrefix: 'archive/',
    archiveKeyPattern: '${topic()}/${timestamp()}-${newuuid()}.json',
    archiveRetentionDays: 30,
    removalPolicy: 'destroy',
    secretRecoveryDays: 0,
    clearShadowOnDelete: true,
    logRetentionDays: 14,
    // Devices provisioned by claim: pi-dev-fleet-<serial>, serials of 8 to 16 capitals and digits.
    fleet: { thingNamePrefix: 'pi-dev-fleet-', serialPattern: '[A-Z0-9]{8,16}' },
    // Jobs start at 10 devices a minute and double after each 10 that succeed; canceled once 20 % of at least 10 fail.
    jobs: {
      rollout: { maximumPerMinute: 1000, exponential: { baseRatePerMinute: 10, incrementFactor: 2, afterSucceeded: 10 } },
      abort: [{ failureType: 'ALL', thresholdPercentage: 20, minExecutedThings: 10 }],
      inProgressTimeoutMinutes: 10,
      retries: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }],
    },
  },
  stg: {
    region: 'eu-west-1',
    thingName: 'pi-stg-01',
    reportIntervalSeconds: 5,
    archiveKeyPrefix: 'archive/',
    archiveKeyPattern: '${topic()}/${timestamp()}-${newuuid()}.json',
    archiveRetentionDays: 90,
    removalPolicy: 'destroy',
    secretRecoveryDays: 7,
    clearShadowOnDelete: true,
    logRetentionDays: 30,
    jobs: {
      rollout: { maximumPerMinute: 500, exponential: { baseRatePerMinute: 5, incrementFactor: 2, afterSucceeded: 10 } },
      abort: [{ failureType: 'ALL', thresholdPercentage: 10, minExecutedThings: 10 }],
      inProgressTimeoutMinutes: 10,
      retries: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }],
    },
  },
  prod: {
    region: 'eu-west-1',
    thingName: 'pi-prod-01',
    reportIntervalSeconds: 5,
    archiveKeyPrefix: 'archive/',
    archiveKeyPattern: '${topic()}/${timestamp()}-${newuuid()}.json',
    archiveRetentionDays: 365,
    removalPolicy: 'retain',
    secretRecoveryDays: 30,
    clearShadowOnDelete: false,
    logRetentionDays: 365,
    // The alarms' defaults, spelled out: quiet after 3 intervals; any failure within 5 minutes.
    quietIntervals: 3,
    alarmFailureThreshold: 1,
    alarmFailurePeriodMinutes: 5,
    // A canary of 2 devices a minute, doubling after each 5 that succeed; canceled once 5 % of at least 20 fail.
    jobs: {
      rollout: { maximumPerMinute: 200, exponential: { baseRatePerMinute: 2, incrementFactor: 2, afterSucceeded: 5 } },
      abort: [{ failureType: 'ALL', thresholdPercentage: 5, minExecutedThings: 20 }],
      inProgressTimeoutMinutes: 15,
      retries: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }],
    },
  },
} as const;
