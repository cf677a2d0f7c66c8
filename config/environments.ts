/**
 * Deployment environments. Each entry becomes one stack, `IotCore-<name>`.
 *
 * stg and prod are pinned to an account and region so that they cannot be deployed into the wrong
 * account by accident: replace the placeholder account IDs with yours before deploying them.
 * dev is environment-agnostic: it deploys to whatever account and region your credentials select.
 */
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
  },
  stg: {
    account: '111111111111',
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
  },
  prod: {
    account: '222222222222',
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
  },
} as const;
