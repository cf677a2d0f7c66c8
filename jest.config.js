/**
 * Three projects. `npm test` runs two: unit tests (in process: constructs, templates, IAM simulation,
 * handlers, evaluators) and integration tests (a real broker, the sandbox, spawned processes).
 * `npm run test:rehearsals` runs the third: commands played whole (`npm start`'s hands-on and the commands
 * it prints, `npm run simulate`'s fleets in real time, `npm run diff` synthesizing two heads of a repository),
 * minutes of work that would take `npm test` past its 3 minutes; CI (.ci/run) runs both.
 * `npm run test:unit` runs the first alone, for the edit loop. Type-checking runs in `npm run build` (tsc);
 * jest only transpiles each file (isolatedModules in tsconfig.json), which keeps the suite fast.
 */
const REHEARSALS = ['e2e', 'ops/diff', 'ops/release', 'ops/simulate'].map((name) => `<rootDir>/test/${name}.test.ts`);
const INTEGRATION = [
  'device/cli', 'device/installed', 'device/jobs-agent', 'device/program-switch', 'device/runner', 'device/service', 'ops/jobs', 'ops/smoke-check', 'reliability',
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
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/**/*.test.ts'], testPathIgnorePatterns: [...INTEGRATION, ...REHEARSALS] },
    { ...common, displayName: 'integration', testMatch: INTEGRATION },
    { ...common, displayName: 'rehearsals', testMatch: REHEARSALS },
  ],
  reporters: ['default', '<rootDir>/test/setup/summary-reporter.js'],
  testTimeout: 60000,
  // Three workers on two cores: most integration tests wait on brokers and processes (measured: 139 s against
  // 174 s with two, BENCHMARKS.md).
  maxWorkers: 3,
};
