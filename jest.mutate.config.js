/**
 * The tests StrykerJS runs against each mutant (`npm run mutate`): the in-process tests of the modules it
 * mutates (stryker.config.json). Tests that reach the code only through a spawned process (the installed
 * bin, the sandbox's broker) cannot see a mutant, which lives in Stryker's copy of the sources, so they are
 * left out; each mutant runs only the tests whose coverage reaches it.
 */
const base = require('./jest.config.js').projects[0];

module.exports = {
  testEnvironment: base.testEnvironment,
  transform: base.transform,
  setupFiles: base.setupFiles,
  snapshotSerializers: base.snapshotSerializers,
  roots: ['<rootDir>/test'],
  testMatch: [
    'device/settings', 'device/spool', 'device/spool-sender', 'device/kit',
    'device-policy', 'https-publish-policy', 'device-jobs-policy', 'iot-policy', 'least-privilege', 'fleet-provisioning',
    'archive-bucket', 'archive-rule',
    'handlers/pre-provisioning-hook', 'handlers/pre-provisioning-hook-concurrency', 'handlers/certificate',
    'ops/review',
  ].map((name) => `<rootDir>/test/${name}.test.ts`),
  testTimeout: 60000,
};
