/**
 * The tests StrykerJS runs against each mutant (`npm run mutate`): the in-process tests of the module being
 * mutated, `MUTATE_GROUP` (an entry of stryker.config.json's `mutate`), listed in jest.mutate.tests.json; all of
 * them without it. One module's tests only, because a mutant of module-level code ("static") runs every test of
 * the run, and with every module's tests the hook's 61 static mutants alone took hours. Tests that reach the code
 * only through a spawned process (the installed bin, the sandbox's broker) cannot see a mutant, which lives in
 * Stryker's copy of the sources, so they are left out; each mutant runs only the tests whose coverage reaches it.
 */
const base = require('./jest.config.js').projects[0];
const testsOf = require('./jest.mutate.tests.json');

const group = process.env.MUTATE_GROUP;
if (group !== undefined && !Object.hasOwn(testsOf, group)) {
  throw new Error(`MUTATE_GROUP is ${JSON.stringify(group)}, not an entry of jest.mutate.tests.json: ${Object.keys(testsOf).join(', ')}`);
}
const tests = group === undefined ? [...new Set(Object.values(testsOf).flat())] : testsOf[group];
// A mutant of what the templates are made of makes another template of the same sources: the sandbox's template cache
// on disk would answer the first one's (sandbox/templates.ts). The other entries keep it: their templates are the code's.
const { TEMPLATE_SOURCES } = require('./sandbox/template-sources.json');
if (group === undefined || TEMPLATE_SOURCES.some((source) => group === source || group.startsWith(`${source}/`))) process.env.IOT_CORE_SYNTH_CACHE = 'off';

module.exports = {
  testEnvironment: base.testEnvironment,
  transform: base.transform,
  setupFiles: base.setupFiles,
  snapshotSerializers: base.snapshotSerializers,
  roots: ['<rootDir>/test'],
  testMatch: tests.map((name) => `<rootDir>/test/${name}.test.ts`),
  testTimeout: 60000,
};
