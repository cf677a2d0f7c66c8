/**
 * Two projects, both run by `npm test`: unit tests (in process: constructs, templates, IAM simulation,
 * handlers, evaluators) and integration tests (a real broker, the sandbox, spawned processes).
 * `npm run test:unit` runs the first alone, for the edit loop. Type-checking runs in `npm run build`
 * (tsc); jest only transpiles each file (isolatedModules in tsconfig.json), which keeps the suite fast.
 */
const INTEGRATION = [
  'device/cli', 'device/installed', 'device/jobs-agent', 'device/program-switch', 'device/runner', 'device/service', 'e2e', 'ops/diff', 'ops/jobs', 'ops/simulate', 'ops/smoke-check', 'reliability',
  'sandbox/fleet-provisioning', 'sandbox/iot-policy', 'sandbox/jobs-conformance', 'sandbox/local-kit', 'sandbox/rule-engine', 'sandbox/sandbox-state', 'sandbox/shadow-conformance',
].map((name) => `<rootDir>/test/${name}.test.ts`);

const common = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  snapshotSerializers: ['<rootDir>/test/setup/asset-hash-serializer.js'],
  setupFiles: ['<rootDir>/test/setup/environment.js'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.test.ts'], testPathIgnorePatterns: INTEGRATION },
    { ...common, displayName: 'integration', testMatch: INTEGRATION },
  ],
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  testTimeout: 60000,
  // Three workers on two cores: most integration tests wait on brokers and processes (measured: 139 s against
  // 174 s with two, BENCHMARKS.md).
  maxWorkers: 3,
};
