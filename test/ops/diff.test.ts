/**
 * `npm run diff` as a pull request's reviewer runs it: a temporary git repository holding this project, a base
 * commit, and head commits that each make one kind of change; the command synthesizes both sides offline and
 * must name each consequence in plain words, with the exit code a CI gate relies on.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'diff-test-'));
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();

/** `npm run diff` in the temporary repository, on its working tree. */
function diff(...args: string[]) {
  const markdown = path.join(repo, '..', `${path.basename(repo)}-review.md`);
  const result = spawnSync('npm', ['run', '--silent', 'diff', '--', ...args, '--markdown', markdown], { cwd: repo, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  const report = fs.existsSync(markdown) ? fs.readFileSync(markdown, 'utf8') : '';
  fs.rmSync(markdown, { force: true });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, markdown: report };
}

/** Checks out a branch from the base, changes one file, commits; the working tree is that head. */
function head(branch: string, file: string, from: string, to: string) {
  git('checkout', '--quiet', '-B', branch, 'base');
  const absolute = path.join(repo, file);
  const text = fs.readFileSync(absolute, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
  fs.writeFileSync(absolute, text.replace(from, to));
  git('commit', '--quiet', '-am', branch);
}

beforeAll(() => {
  // The project as tracked, with the installed dependencies of this checkout.
  for (const file of execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean)) {
    if (!fs.existsSync(path.join(ROOT, file))) continue;
    fs.mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, file), path.join(repo, file));
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(repo, 'node_modules'), 'dir');
  git('init', '--quiet', '-b', 'base');
  // .gitignore's node_modules/ matches directories only, not this link.
  fs.appendFileSync(path.join(repo, '.git', 'info', 'exclude'), 'node_modules\n');
  git('config', 'user.email', 'reviewer@example.com');
  git('config', 'user.name', 'Reviewer');
  git('add', '-A');
  git('commit', '--quiet', '-m', 'base');
});

afterAll(() => {
  fs.rmSync(repo, { recursive: true, force: true });
});

test('no change: exit 0 and says so', () => {
  const result = diff('--base', 'base', '--env', 'dev');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(result.stdout).toContain('IotCore-dev:\n  no change');
  expect(result.markdown).toContain('### IotCore-dev\n\nNo change.');
});

// Three changes of different kinds in one head, so one synthesis of each side serves the three tests below.
let several: ReturnType<typeof diff> | undefined;
function severalChanges() {
  if (several) return several;
  git('checkout', '--quiet', '-B', 'several', 'base');
  const edit = (file: string, from: string, to: string) => {
    const absolute = path.join(repo, file);
    const text = fs.readFileSync(absolute, 'utf8');
    if (!text.includes(from)) throw new Error(`${file} does not contain ${from}`);
    fs.writeFileSync(absolute, text.replace(from, to));
  };
  edit('config/environments.ts', "thingName: 'pi-dev-01',", "thingName: 'pi-dev-01',\n    certificateRotation: 1,");
  edit('config/environments.ts', 'archiveRetentionDays: 30,', 'archiveRetentionDays: 7,');
  edit('lib/iot-core-stack.ts', '    this.node.addValidation({ validate: () => this.resourceBudgetErrors() });',
    "    this.monitoring.failedDeliveries.createAlarm(this, 'ExtraAlarm', { threshold: 1, evaluationPeriods: 1 });\n    this.node.addValidation({ validate: () => this.resourceBudgetErrors() });");
  // What a gate must stop: archiving stopped, failures no longer logged, versioning off, a policy widened.
  edit('lib/iot-core-stack.ts', "FROM '${dataTopicFilter}'", "FROM 'telemetry/+'");
  edit('lib/archive-rule.ts', '      errorAction: { cloudwatchLogs: { logGroupName: props.errorLogGroup.logGroupName, roleArn: this.role.roleArn } },\n', '');
  edit('lib/archive-bucket.ts', 'versioned: true,', 'versioned: false,');
  edit('lib/device-policy.ts', 'arn(\'topic\', `${dataTopicPrefix}/${THING_NAME_VARIABLE}`),', 'arn(\'topic\', `${dataTopicPrefix}/*`),');
  edit('config/environments.ts', 'reportIntervalSeconds: 5,', 'reportIntervalSeconds: 10,');
  git('commit', '--quiet', '-am', 'several');
  several = diff('--base', 'base', '--env', 'dev', '--fail-on', 'replacement,data-loss,outage,hardening,iot-policy-widened');
  return several;
}

test('the certificate rotated: a replacement, which --fail-on replacement gates', () => {
  const result = severalChanges();
  expect(result.status).toBe(3);
  expect(result.stderr).toMatch(/changes of the kinds .*replacement.* \(--fail-on\)/);
  expect(result.markdown).toContain("- The certificate of thing 'pi-dev-01' is replaced (rotation '0' -> '1'): the device needs its new kit");
});

test('the archive\'s retention shortened: data loss', () => {
  const result = severalChanges();
  expect(result.stderr).toMatch(/changes of the kinds .*data-loss.* \(--fail-on\)/);
  expect(result.markdown).toContain('**Data at risk**');
  expect(result.markdown).toContain('- Bucket ArchiveBucket keeps objects 7 days instead of 30: older archived objects are deleted.');
});

test('the archive rule FROM a topic no device publishes to: an outage, and every device\'s messages no longer archived', () => {
  const result = severalChanges();
  expect(result.stderr).toMatch(/changes of the kinds replacement, data-loss, outage, hardening, iot-policy-widened \(--fail-on\)/);
  expect(result.markdown).toContain('**Devices cut off**');
  expect(result.markdown).toContain("- Topic rule 'archive_pi_dev_01' can no longer be reached: no device of the environment may publish to a topic its FROM 'telemetry/+' matches.");
  expect(result.markdown).toContain("- Status messages named s3 (`iot-device run --name s3`) of thing 'pi-dev-01' and every fleet device (pi-dev-fleet-*) are no longer archived in ArchiveBucket under archive/data/<thing>/<timestamp>-<uuid>.json: 'archive_pi_dev_01' selects FROM 'telemetry/+', which data/<thing> does not match.");
});

test('the error action removed and versioning off: failures lost, protections removed', () => {
  const result = severalChanges();
  expect(result.markdown).toContain("- Topic rule 'archive_pi_dev_01' loses its error action: a delivery that fails is no longer logged to FailedDeliveries and its message is lost; Monitoring/FailedDeliveryAlarm and the smoke check's error-log check go blind.");
  expect(result.markdown).toContain('**Protections removed**');
  expect(result.markdown).toContain('- Bucket ArchiveBucket is no longer versioned: an object written under an existing key replaces the old one for good');
});

test('the device policy gains every device\'s data topic: who holds it, and the operations gained', () => {
  const result = severalChanges();
  expect(result.markdown).toMatch(/\*\*IoT policies allow more\*\*\n\n- A certificate with IoT policy DevicePolicy \(held by the certificate of thing 'pi-dev-01' and every fleet device \(pi-dev-fleet-\*\); anyone with the claim key can get a certificate with it by provisioning a serial the hook allows\) may now publish to every device's data topic/);
  // The CDK's own tables follow the plain words; AWS::CDK::Metadata is not among the resources.
  expect(result.markdown).toContain('IAM Statement Changes');
  expect(result.markdown).toContain('[~] AWS::IoT::Policy DevicePolicy');
  expect(result.markdown).not.toContain('AWS::CDK::Metadata');
});

test('a new shadow default: written into the declared thing\'s live shadow', () => {
  const result = severalChanges();
  expect(result.markdown).toContain('- The deploy writes the desired state {"interval":10} (was {"interval":5}) into the live shadow of thing \'pi-dev-01\', over any edit made since in the console or by a job: the running device changes to it.');
});

// dev's thing renamed, stg removed and qa added, in one head: one synthesis of each side serves the tests below.
let environmentChanges: ReturnType<typeof diff> | undefined;
function environmentsChanged() {
  if (environmentChanges) return environmentChanges;
  git('checkout', '--quiet', '-B', 'environments', 'base');
  const file = path.join(repo, 'config', 'environments.ts');
  fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace("thingName: 'pi-dev-01'", "thingName: 'pi-dev-02'")
    .replace('  stg: {', '  qa: {').replace("thingName: 'pi-stg-01'", "thingName: 'pi-qa-01'"));
  git('commit', '--quiet', '-am', 'environments');
  environmentChanges = diff('--base', 'base', '--env', 'dev', '--env', 'stg', '--env', 'qa', '--fail-on', 'data-loss');
  return environmentChanges;
}

test('the thing renamed: the rename and the certificate it takes with it', () => {
  const { markdown } = environmentsChanged();
  const dev = markdown.slice(markdown.indexOf('### IotCore-dev'), markdown.indexOf('### IotCore-stg'));
  expect(dev).toContain("- Thing 'pi-dev-01' is renamed to 'pi-dev-02': the device must connect with the new client ID");
  expect(dev).toContain("- The certificate of thing 'pi-dev-02' is replaced (thing 'pi-dev-01' -> 'pi-dev-02'): the device needs its new kit (`iot-device bootstrap`) before CloudFormation deletes the old certificate");
  // A rename moves the device's own topics with it: no IoT policy allows more or less, and nothing is lost.
  expect(dev).not.toContain('IoT policies allow');
  expect(dev).not.toContain('Data at risk');
});

test('an environment removed and one added: what is left deployed, and what is new', () => {
  const result = environmentsChanged();
  expect(result.status).toBe(3);
  expect(result.markdown).toMatch(/### IotCore-stg\n\n\*\*Data at risk\*\*\n\n- Environment 'stg' is no longer in the config: its deployed stack IotCore-stg is left as it is and unmanaged .*, with thing 'pi-stg-01', /);
  expect(result.markdown).toMatch(/### IotCore-qa\n\n\*\*Cost\*\*\n\n- Billable resources change: .*\n\n\*\*Other changes\*\*\n\n- Environment 'qa' is new: stack IotCore-qa is created with thing 'pi-qa-01'/);
});

test('a change cdk-nag rejects: exit 4 and one line with the rule and the path', () => {
  head('nag', 'lib/nag.ts', '  Validations.of(scope).acknowledge(', '  if (reason) return;\n  Validations.of(scope).acknowledge(');
  const result = diff('--base', 'base', '--env', 'dev');
  expect(result.status).toBe(4);
  expect(result.stdout).toBe('');
  expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^diff: the working tree does not synthesize: The IAM entity contains wildcard permissions .* \[AwsSolutions-IAM5\[Resource::.+\]\] at IotCore-dev\/\S+ \(and \d+ more\)$/)]);
});

test('a report into a folder that does not exist: exit 5 before anything is synthesized', () => {
  const result = spawnSync('npm', ['run', '--silent', 'diff', '--', '--base', 'base', '--markdown', path.join(repo, 'no-such-folder', 'review.md')], { cwd: repo, encoding: 'utf8' });
  expect(result.status).toBe(5);
  expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^diff: --markdown ".*no-such-folder\/review\.md" cannot be written: the folder .*no-such-folder does not exist$/)]);
});

test('a new alarm: its monthly cost', () => {
  const result = severalChanges();
  expect(result.markdown).toMatch(/- Billable resources change: alarms 4 -> 5; fixed monthly price \d+\.\d\d USD -> \d+\.\d\d USD/);
  expect(result.markdown).toContain('[+] AWS::CloudWatch::Alarm ExtraAlarm');
});

describe('bad input: one line, exit 2, no worktree left behind', () => {
  test.each([
    [['--base', 'no-such-ref'], 'diff: --base "no-such-ref" is not a commit of this repository'],
    [['--base', 'base', '--env', 'uat'], 'diff: --env "uat" is not an environment; allowed: dev, stg, prod'],
    [['--base', 'base', '--fail-on', 'everything'], 'diff: --fail-on "everything" is not a kind of change'],
    [['--env', 'dev'], 'diff: --base is missing'],
  ])('%j', (args, message) => {
    const result = diff(...args);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(message);
    expect(git('worktree', 'list').split('\n')).toHaveLength(1);
  });

  test('a ref without this project', () => {
    git('checkout', '--quiet', '--orphan', 'elsewhere');
    git('rm', '-r', '--quiet', '--cached', '.');
    fs.writeFileSync(path.join(repo, 'NOTES.md'), 'another project\n');
    git('add', 'NOTES.md');
    git('commit', '--quiet', '-m', 'elsewhere');
    git('checkout', '--quiet', '-f', 'base');
    const result = diff('--base', 'elsewhere', '--env', 'dev');
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/diff: --base "elsewhere" \([0-9a-f]{12}\) does not contain this project/);
    expect(git('worktree', 'list').split('\n')).toHaveLength(1);
  });
});
