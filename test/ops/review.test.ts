/**
 * The review of a change, on the dev template as synthesized and copies of it changed the way a pull request
 * would change them: each consequence a reviewer must see is named in plain words, with its kind. (Synthesized in
 * process, the template has no construct paths, so resources are named by logical ID here.)
 */
import { reviewStack, Template, toMarkdown } from '../../ops/review';
import { environmentTemplate } from '../../sandbox/templates';

const base = environmentTemplate('dev') as unknown as Template;
/** A copy of the dev template with `change` applied to it. */
function changed(change: (resources: Record<string, any>) => void): Template {
  const copy = JSON.parse(JSON.stringify(base)) as Template;
  change(copy.Resources!);
  return copy;
}
/** The resources of a type whose logical ID starts with `prefix`. */
const ofType = (resources: Record<string, any>, type: string, prefix = '') => Object.entries(resources)
  .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix)).map(([, resource]) => resource);
const findings = (after: Template) => reviewStack('IotCore-dev', base, after).findings;

test('the same template: no change, no finding', () => {
  const review = reviewStack('IotCore-dev', base, base);
  expect(review).toMatchObject({ changed: false, findings: [] });
  expect(toMarkdown([review], 'main', 'head')).toContain('### IotCore-dev\n\nNo change.');
});

test('data/+ in place of data/<thing> is literal in an IoT policy ("Publish/Subscribe policy examples"): the device loses its own topic, and gains none', () => {
  const after = changed((resources) => {
    const publish = ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument.Statement[1];
    publish.Resource[0] = JSON.parse(JSON.stringify(publish.Resource[0]).replace('${iot:Connection.Thing.ThingName}', '+'));
  });
  expect(findings(after).filter((finding) => finding.kind.startsWith('iot-policy'))).toEqual([
    { kind: 'iot-policy-narrowed', text: expect.stringMatching(/^A certificate with IoT policy DevicePolicy[0-9A-F]{8} \(held by the certificate of thing 'pi-dev-01' and every fleet device \(pi-dev-fleet-\*\); anyone with the claim key can get a certificate with it by provisioning a serial the hook allows\) may no longer publish to its own data topic \(data\/<thing>\)\.$/) },
  ]);
  // The HTTPS policy every device also holds names its data topic literally, for any protocol: no device loses it.
  expect(findings(after).filter((finding) => finding.kind === 'outage' || finding.kind === 'data-loss')).toEqual([]);
});

test.each([
  ['every device\'s shadow', '$aws/things/${iot:Connection.Thing.ThingName}/shadow/update', '$aws/things/*/shadow/update', 'may now update another device\'s shadow; subscribe to another device\'s shadow responses; receive another device\'s shadow responses.'],
  ['every device\'s echo topic', 'echo/${iot:Connection.Thing.ThingName}', 'echo/*', 'may now subscribe to another device\'s echo topic; receive another device\'s echo topic.'],
])('the device policy widened to %s: which grant, and who holds it', (_, from, to, gained) => {
  const after = changed((resources) => {
    const policy = ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument;
    policy.Statement = JSON.parse(JSON.stringify(policy.Statement).split(from).join(to));
  });
  expect(findings(after).filter((finding) => finding.kind === 'iot-policy-widened')).toEqual([
    { kind: 'iot-policy-widened', text: expect.stringMatching(new RegExp(`^A certificate with IoT policy DevicePolicy[0-9A-F]{8} \\(held by the certificate of thing 'pi-dev-01' and every fleet device .*\\) ${gained.replace(/[.$^*()]/g, '\\$&')}$`)) },
  ]);
});

test('the claim policy allowing any client ID: a claim certificate may now take over devices', () => {
  const after = changed((resources) => {
    const connect = ofType(resources, 'AWS::IoT::Policy', 'FleetClaimPolicy')[0].Properties.PolicyDocument.Statement[0];
    connect.Resource = JSON.parse(JSON.stringify(connect.Resource).replace('claim-*', '*'));
  });
  expect(findings(after)).toContainEqual({
    kind: 'iot-policy-widened',
    text: 'A certificate with IoT policy FleetClaimPolicyC12BA720 (held by the fleet\'s claim certificate) may now connect as its own thing; connect as another device (take over its client ID); connect as a fleet device (pi-dev-fleet-*).',
  });
});

test('the claim certificate rotated: every factory needs the new claim kit', () => {
  const after = changed((resources) => { ofType(resources, 'Custom::DeviceCertificate', 'FleetClaimCertificate')[0].Properties.Rotation = '1'; });
  expect(findings(after)).toContainEqual(expect.objectContaining({ kind: 'replacement', text: expect.stringMatching(/^the fleet's claim certificate is replaced \(rotation '0' -> '1'\): every factory needs the new claim kit/) }));
});

test('a new ServiceToken for a certificate: an update CloudFormation refuses', () => {
  const after = changed((resources) => { ofType(resources, 'Custom::DeviceCertificate', 'Certificate4E7ABB08')[0].Properties.ServiceToken = { 'Fn::GetAtt': ['Another', 'Arn'] }; });
  expect(findings(after)).toContainEqual(expect.objectContaining({ kind: 'update-refused', text: expect.stringContaining('CloudFormation refuses ("Modifying service token is not allowed")') }));
});

test.each([
  ['the failed-deliveries log group kept a day', (resources: Record<string, any>) => { ofType(resources, 'AWS::Logs::LogGroup', 'FailedDeliveries')[0].Properties.RetentionInDays = 1; }, /^Log group FailedDeliveries[0-9A-F]{8} keeps events 1 days instead of \d+\.$/],
  ['the archive bucket removed', (resources: Record<string, any>) => { delete resources[Object.keys(resources).find((id) => /^ArchiveBucket[0-9A-F]{8}$/.test(id))!]; }, /^Bucket ArchiveBucket[0-9A-F]{8} is removed: its archived objects are deleted with it\.$/],
])('%s: data at risk', (_, change, text) => {
  expect(findings(changed(change))).toContainEqual({ kind: 'data-loss', text: expect.stringMatching(text) });
});

test('a retained bucket that would be deleted with the stack: data at risk', () => {
  const retained = changed((resources) => { for (const bucket of ofType(resources, 'AWS::S3::Bucket')) Object.assign(bucket, { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' }); });
  const destroyed = changed((resources) => { for (const bucket of ofType(resources, 'AWS::S3::Bucket')) Object.assign(bucket, { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' }); });
  expect(reviewStack('IotCore-dev', retained, destroyed).findings).toContainEqual({ kind: 'data-loss', text: expect.stringMatching(/^ArchiveBucket[0-9A-F]{8} \(AWS::S3::Bucket\) is now deleted with the stack: DeletionPolicy Retain -> Delete\.$/) });
});

const archiveRule = (resources: Record<string, any>) => ofType(resources, 'AWS::IoT::TopicRule', 'ArchiveRule')[0].Properties.TopicRulePayload;
const ofKind = (after: Template, kind: string) => findings(after).filter((finding) => finding.kind === kind).map((finding) => finding.text);
const BOTH = "of thing 'pi-dev-01' and every fleet device (pi-dev-fleet-*)";

describe('outage: what a device or the claim certificate does today, refused by the head', () => {
  test('the device policy without its echo topic: the C++ sample\'s line bootstrap prints is refused, for every device', () => {
    const after = changed((resources) => {
      for (const statement of ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument.Statement) {
        if (Array.isArray(statement.Resource)) statement.Resource = statement.Resource.filter((resource: unknown) => !JSON.stringify(resource).includes('echo/'));
      }
    });
    expect(ofKind(after, 'outage')).toEqual([
      expect.stringMatching(/^thing 'pi-dev-01' can no longer publish to echo\/<thing>; subscribe to echo\/<thing>; receive echo\/<thing>: /),
      expect.stringMatching(/^every fleet device \(pi-dev-fleet-\*\) can no longer publish to echo\/<thing>; subscribe to echo\/<thing>; receive echo\/<thing>: /),
    ]);
  });

  test('the device policy without its shadow subscriptions: the declared thing and every fleet device are named', () => {
    const after = changed((resources) => {
      const statements = ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument.Statement;
      statements.splice(statements.findIndex((statement: any) => statement.Sid === 'SubscribeOwnEchoAndShadowResponses'), 1);
    });
    const outages = ofKind(after, 'outage');
    expect(outages).toHaveLength(2);
    expect(outages[0]).toMatch(/^thing 'pi-dev-01' can no longer subscribe to echo\/<thing>; subscribe to \$aws\/things\/<thing>\/shadow\/get\/accepted; subscribe to .*update\/delta: /);
    expect(outages[1]).toMatch(/^every fleet device \(pi-dev-fleet-\*\) can no longer subscribe to echo\/<thing>; subscribe to \$aws\/things\/<thing>\/shadow\/get\/accepted;/);
  });

  test('the claim policy without the provisioning topic: the claim certificate can provision no device', () => {
    const after = changed((resources) => {
      const publish = ofType(resources, 'AWS::IoT::Policy', 'FleetClaimPolicy')[0].Properties.PolicyDocument.Statement[1];
      publish.Resource = [publish.Resource[0]];
    });
    expect(ofKind(after, 'outage')).toEqual(["the fleet's claim certificate can no longer publish $aws/provisioning-templates/<template>/provision/json: no new device can be provisioned."]);
  });

  test('the provisioning template disabled', () => {
    const after = changed((resources) => { ofType(resources, 'AWS::IoT::ProvisioningTemplate')[0].Properties.Enabled = false; });
    expect(ofKind(after, 'outage')).toEqual([expect.stringMatching(/^Provisioning template 'IotCore-dev_Fleet_[0-9A-F]{8}' is disabled: every device provisioning by claim is refused/)]);
  });

  test('the archive rule disabled: an outage, and every device\'s archived messages lost', () => {
    const after = changed((resources) => { archiveRule(resources).RuleDisabled = true; });
    expect(ofKind(after, 'outage')).toEqual(["Topic rule 'archive_pi_dev_01' is disabled: it acts on no device's message."]);
    expect(ofKind(after, 'data-loss')).toContain(`Status messages named s3 (\`iot-device run --name s3\`) ${BOTH} are no longer archived in ArchiveBucket7C124431 under archive/data/<thing>/<timestamp>-<uuid>.json: 'archive_pi_dev_01' is disabled.`);
  });
});

describe('behaviour of the rules: sample messages of every device through both sides\' rules', () => {
  test('FROM a topic no device publishes to: unreachable (outage), and nothing of any device archived (data-loss)', () => {
    const after = changed((resources) => { archiveRule(resources).Sql = "SELECT name FROM 'telemetry/+' WHERE name = 's3'"; });
    expect(ofKind(after, 'outage')).toEqual(["Topic rule 'archive_pi_dev_01' can no longer be reached: no device of the environment may publish to a topic its FROM 'telemetry/+' matches."]);
    expect(ofKind(after, 'data-loss')).toEqual([
      `Status messages named s3 (\`iot-device run --name s3\`) ${BOTH} are no longer archived in ArchiveBucket7C124431 under archive/data/<thing>/<timestamp>-<uuid>.json: 'archive_pi_dev_01' selects FROM 'telemetry/+', which data/<thing> does not match.`,
      `Messages named s3 over HTTPS (the smoke check's, \`iot-device publish --https\`) ${BOTH} are no longer archived in ArchiveBucket7C124431 under archive/data/<thing>/<timestamp>-<uuid>.json: 'archive_pi_dev_01' selects FROM 'telemetry/+', which data/<thing> does not match.`,
    ]);
  });

  test('a condition that leaves the fleet out: only the fleet\'s messages are lost', () => {
    const after = changed((resources) => { archiveRule(resources).Sql = "SELECT name FROM 'data/+' WHERE name = 's3' AND topic(2) = 'pi-dev-01'"; });
    expect(ofKind(after, 'outage')).toEqual([]);
    expect(ofKind(after, 'data-loss')).toContain("Status messages named s3 (`iot-device run --name s3`) of every fleet device (pi-dev-fleet-*) are no longer archived in ArchiveBucket7C124431 under archive/data/<thing>/<timestamp>-<uuid>.json: the condition of 'archive_pi_dev_01' leaves them out.");
  });

  test('no condition: messages the rule skipped are archived too', () => {
    const after = changed((resources) => { archiveRule(resources).Sql = "SELECT name FROM 'data/+'"; });
    expect(ofKind(after, 'data-loss')).toEqual([]);
    expect(ofKind(after, 'change')).toContain(`Status messages without a name (\`iot-device run\`) ${BOTH} are now archived in ArchiveBucket7C124431 under archive/data/<thing>/<timestamp>-<uuid>.json.`);
  });

  test('another key: where the archive moves to, for the readers of the bucket', () => {
    const after = changed((resources) => { archiveRule(resources).Actions[0].S3.Key = 'archive/${topic(2)}/${newuuid()}.json'; });
    expect(ofKind(after, 'data-loss')).toEqual([]);
    expect(ofKind(after, 'change')).toContain(`Status messages named s3 (\`iot-device run --name s3\`) ${BOTH} are archived under archive/<thing>/<uuid>.json instead of archive/data/<thing>/<timestamp>-<uuid>.json: whatever reads the archive by key (the smoke check, consumers of the bucket) must follow.`);
  });

  test('the error action removed: failed deliveries lost, and what read them goes blind', () => {
    const after = changed((resources) => { delete archiveRule(resources).ErrorAction; });
    expect(ofKind(after, 'data-loss')).toEqual([expect.stringMatching(/^Topic rule 'archive_pi_dev_01' loses its error action: a delivery that fails is no longer logged to FailedDeliveries[0-9A-F]{8} and its message is lost; MonitoringFailedDeliveryAlarm[0-9A-F]{8} and the smoke check's error-log check go blind\.$/)]);
  });

  test('the rule\'s role without s3:PutObject: every archive write refused', () => {
    const after = changed((resources) => { ofType(resources, 'AWS::IAM::Policy', 'ArchiveRuleRoleDefaultPolicy')[0].Properties.PolicyDocument.Statement[0].Action = 's3:GetObject'; });
    expect(ofKind(after, 'data-loss')).toContain(`Status messages named s3 (\`iot-device run --name s3\`) ${BOTH} are no longer archived in ArchiveBucket7C124431 under archive/data/<thing>/<timestamp>-<uuid>.json: S3 refuses the rule's write.`);
  });

  test('the rule renamed: created before the old one is deleted; the same name under another logical ID: refused', () => {
    const renamed = changed((resources) => { ofType(resources, 'AWS::IoT::TopicRule', 'ArchiveRule')[0].Properties.RuleName = 'archive_v2'; });
    expect(reviewStack('IotCore-dev', base, renamed).findings).toContainEqual({ kind: 'replacement', text: expect.stringMatching(/^Topic rule 'archive_pi_dev_01' is replaced by 'archive_v2': CloudFormation creates the new rule first and deletes the old one at the end of the update, so for that moment both act on every message/) });
    const moved = changed((resources) => {
      const id = Object.keys(resources).find((key) => key.startsWith('ArchiveRule3'))!;
      resources.ArchiveRuleMoved = resources[id];
      delete resources[id];
    });
    expect(ofKind(moved, 'update-refused')).toEqual(["Topic rule 'archive_pi_dev_01' moves to another logical ID under the same name: CloudFormation creates the new rule before deleting the old one, and the name is taken, so the update fails."]);
  });
});

describe('hardening: protections of what the stack keeps', () => {
  test.each([
    ['versioning off', (bucket: any) => { delete bucket.Properties.VersioningConfiguration; }, /^Bucket ArchiveBucket[0-9A-F]{8} is no longer versioned: .*the smoke check's --clean\) deletes its archived objects instead of leaving a delete marker\.$/],
    ['encryption removed', (bucket: any) => { delete bucket.Properties.BucketEncryption; }, /^Bucket ArchiveBucket[0-9A-F]{8}'s default encryption \(AES256\) is removed/],
    ['public access block opened', (bucket: any) => { bucket.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy = false; }, /public access block no longer sets BlockPublicPolicy: a bucket policy or ACL could make its archived objects public\.$/],
    ['access logging off', (bucket: any) => { delete bucket.Properties.LoggingConfiguration; }, /no longer logs access/],
  ])('%s', (_, change, text) => {
    const after = changed((resources) => { change(ofType(resources, 'AWS::S3::Bucket', 'ArchiveBucket7')[0]); });
    expect(ofKind(after, 'hardening')).toEqual([expect.stringMatching(text)]);
  });

  test('the TLS-only statement removed from the bucket policy', () => {
    const after = changed((resources) => { ofType(resources, 'AWS::S3::BucketPolicy', 'ArchiveBucketPolicy')[0].Properties.PolicyDocument.Statement.shift(); });
    expect(ofKind(after, 'hardening')).toEqual([expect.stringMatching(/^Bucket ArchiveBucket[0-9A-F]{8}'s policy no longer denies requests without TLS/)]);
  });

  test('the error log kept forever', () => {
    const after = changed((resources) => { delete ofType(resources, 'AWS::Logs::LogGroup', 'FailedDeliveries')[0].Properties.RetentionInDays; });
    expect(ofKind(after, 'hardening')).toEqual([expect.stringMatching(/^Log group FailedDeliveries[0-9A-F]{8} keeps its events forever instead of \d+ days/)]);
  });

  test('a cdk-nag finding acknowledged anew, with its path and reason', () => {
    const review = reviewStack('IotCore-dev', { template: base, acknowledged: {} }, { template: base, acknowledged: { 'Fleet/HookRole/DefaultPolicy/Resource\nAnnotation::AwsSolutions-IAM5[Resource::*]': 'because' } });
    expect(review.findings).toEqual([{ kind: 'hardening', text: 'cdk-nag\'s AwsSolutions-IAM5[Resource::*] is newly acknowledged on Fleet/HookRole/DefaultPolicy/Resource: "because".' }]);
  });

  test('a DeletionPolicy Retain removed reads like one changed to Delete', () => {
    const retained = changed((resources) => { for (const bucket of ofType(resources, 'AWS::S3::Bucket')) bucket.DeletionPolicy = 'Retain'; });
    const removed = changed((resources) => { for (const bucket of ofType(resources, 'AWS::S3::Bucket')) delete bucket.DeletionPolicy; });
    expect(reviewStack('IotCore-dev', retained, removed).findings).toContainEqual({ kind: 'data-loss', text: expect.stringMatching(/^ArchiveBucket[0-9A-F]{8} \(AWS::S3::Bucket\) is now deleted with the stack: DeletionPolicy Retain -> none \(CloudFormation's default is Delete\)\.$/) });
  });

  test('the access-log bucket\'s retention is about access logs, not the archive', () => {
    const after = changed((resources) => { ofType(resources, 'AWS::S3::Bucket', 'ArchiveBucketAccessLogs')[0].Properties.LifecycleConfiguration.Rules[0].ExpirationInDays = 7; });
    expect(ofKind(after, 'data-loss')).toEqual([expect.stringMatching(/^Bucket ArchiveBucketAccessLogs[0-9A-F]{8} keeps objects 7 days instead of \d+: older access logs are deleted\.$/)]);
  });
});

describe('consequences told in full', () => {
  test('new shadow defaults are written into the declared thing\'s live shadow', () => {
    const after = changed((resources) => { ofType(resources, 'Custom::ShadowDefaults')[0].Properties.DesiredJson = '{"interval":10}'; });
    expect(ofKind(after, 'change')).toContain('The deploy writes the desired state {"interval":10} (was {"interval":5}) into the live shadow of thing \'pi-dev-01\', over any edit made since in the console or by a job: the running device changes to it.');
  });

  test('an IoT policy narrowed is not "broadened" IAM; a role\'s new permission is', () => {
    const narrowed = changed((resources) => { ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument.Statement.pop(); });
    expect(ofKind(narrowed, 'iam')).toEqual([]);
    const widened = changed((resources) => { ofType(resources, 'AWS::IAM::Policy', 'ArchiveRuleRoleDefaultPolicy')[0].Properties.PolicyDocument.Statement.push({ Effect: 'Allow', Action: 's3:DeleteObject', Resource: '*' }); });
    expect(ofKind(widened, 'iam')).toEqual(["IAM permissions (the CDK's security table, IoT policies aside: they are judged above) are broadened."]);
  });

  test('AWS::CDK::Metadata is left out', () => {
    const withMetadata = changed((resources) => { resources.CDKMetadata = { Type: 'AWS::CDK::Metadata', Properties: { Analytics: 'v2:deflate64:H4sIAAAA' } }; });
    expect(reviewStack('IotCore-dev', base, withMetadata)).toMatchObject({ changed: false, findings: [] });
  });
});

describe('environments', () => {
  test('removed from the config: what is left deployed and unmanaged, as data at risk', () => {
    const review = reviewStack('IotCore-stg', base, undefined);
    expect(review.findings[0]).toEqual({ kind: 'data-loss', text: expect.stringMatching(/^Environment 'stg' is no longer in the config: its deployed stack IotCore-stg is left as it is and unmanaged .* with thing 'pi-dev-01', the fleet's provisioning \(pi-dev-fleet-\*\), 2 certificates with their keys in Secrets Manager, .*bucket ArchiveBucket[0-9A-F]{8} with its archived objects, bucket ProgramArtifactsBucket[0-9A-F]{8} with its objects, 4 alarms, \d+\.\d\d USD a month; destroy it first/) });
  });

  test('new: what it creates and its cost, and nothing else', () => {
    const review = reviewStack('IotCore-qa', undefined, base);
    expect(review.findings.map((finding) => finding.kind)).toEqual(['change', 'cost']);
    expect(review.findings[0].text).toMatch(/^Environment 'qa' is new: stack IotCore-qa is created with thing 'pi-dev-01'/);
  });
});

test('a rule the sandbox cannot run (two actions): the review says it cannot evaluate the rules, and is not silent', () => {
  const after = changed((resources) => { archiveRule(resources).Actions.push(archiveRule(resources).Actions[0]); });
  expect(ofKind(after, 'change')).toContainEqual(expect.stringMatching(/^The review cannot evaluate topic rules on these templates \(not supported by the local sandbox: 2 actions in rule ArchiveRule[0-9A-F]{8}/));
});

describe('job templates: their rollouts in plain words, and which devices they reach', () => {
  const REACH = /a job started from it for the fleet's group 'IotCore-dev-Fleet-[0-9A-F]{8}' reaches thing 'pi-dev-01' and every device provisioned as pi-dev-fleet-\*\.$/;
  const withJobs = (change: (properties: Record<string, any>) => void) => changed((resources) => change(ofType(resources, 'AWS::IoT::JobTemplate')[0].Properties));
  const jobFindings = (after: Template) => findings(after).filter((finding) => finding.kind.startsWith('rollout') || /Job template/.test(finding.text));

  test('abort criteria removed: a rollout never canceled, its own kind, naming the devices it reaches; no generic replacement', () => {
    const after = withJobs((properties) => { delete properties.AbortConfig; });
    expect(jobFindings(after)).toEqual([
      { kind: 'rollout-unguarded', text: expect.stringMatching(/^Job template DesiredStateJob[0-9A-F]{8} loses its abort criteria \(was 20 % ALL of at least 10\): a job started from it is never canceled, whatever fails, so a bad document reaches every device it targets; /) },
    ]);
    expect(jobFindings(after)[0].text).toMatch(REACH);
    expect(findings(after).filter((finding) => finding.kind === 'replacement')).toEqual([]);
  });

  test('faster, its slow start removed, canceled later, timing out never: riskier, each said; a retry change is a change', () => {
    const slowStartGone = withJobs((properties) => { delete properties.JobExecutionsRolloutConfig.ExponentialRolloutRate; });
    expect(jobFindings(slowStartGone).map((finding) => finding.kind)).toEqual(['rollout-riskier', 'change']);
    expect(jobFindings(slowStartGone)[0].text).toContain('its slow start is removed: every targeted device may be notified at up to 1000 a minute from the first (was 10 a minute at first, times 2 after each 10 more succeeded)');
    expect(jobFindings(slowStartGone)[1].text).toMatch(/is replaced under a new ID; jobs already started keep their configuration\.$/);

    const riskier = withJobs((properties) => {
      properties.JobExecutionsRolloutConfig.ExponentialRolloutRate.BaseRatePerMinute = 100;
      properties.AbortConfig.CriteriaList[0].ThresholdPercentage = 50;
      delete properties.TimeoutConfig;
      properties.JobExecutionsRetryConfig.RetryCriteriaList[0].NumberOfRetries = 3;
    });
    const [risk, change] = jobFindings(riskier);
    expect(risk.kind).toBe('rollout-riskier');
    expect(risk.text.split('; ').slice(0, 3)).toEqual([
      expect.stringMatching(/^Job template DesiredStateJob[0-9A-F]{8}: its rollout is faster: 100 a minute at first, times 2 after each 10 more succeeded instead of 10 a minute at first, times 2 after each 10 more succeeded$/),
      'it is canceled once 50 % ALL of at least 10 executions fail, instead of 20 % ALL of at least 10: later, so more devices get a bad job',
      'an execution in progress never times out (it times out after 10 minutes)',
    ]);
    expect(risk.text).toMatch(REACH);
    expect(change).toEqual({ kind: 'change', text: expect.stringContaining('its retries are 3 after TIMED_OUT instead of 1 after TIMED_OUT. It is replaced under a new ID') });
  });

  test('a safer rollout is a change, not a risk: slower, canceled sooner, timing out sooner', () => {
    const safer = withJobs((properties) => {
      properties.JobExecutionsRolloutConfig.ExponentialRolloutRate.BaseRatePerMinute = 2;
      properties.AbortConfig.CriteriaList[0].ThresholdPercentage = 5;
      properties.TimeoutConfig.InProgressTimeoutInMinutes = 5;
    });
    expect(jobFindings(safer).map((finding) => finding.kind)).toEqual(['change']);
    expect(jobFindings(safer)[0].text).toContain('its rollout changes: 2 a minute at first');
  });

  test('abort criteria are known by their failure type: reordered is no change; one dropped, or counting another type, is riskier', () => {
    const two = (criteria: Array<[string, number]>) => withJobs((properties) => {
      properties.AbortConfig.CriteriaList = criteria.map(([FailureType, ThresholdPercentage]) => ({ Action: 'CANCEL', FailureType, ThresholdPercentage, MinNumberOfExecutedThings: 10 }));
    });
    const before = two([['FAILED', 20], ['TIMED_OUT', 30]]);
    expect(reviewStack('IotCore-dev', before, two([['TIMED_OUT', 30], ['FAILED', 20]])).findings).toEqual([]);
    const kinds = (after: Template) => reviewStack('IotCore-dev', before, after).findings.filter((finding) => finding.kind.startsWith('rollout')).map((finding) => finding.kind);
    expect(kinds(two([['FAILED', 20]]))).toEqual(['rollout-riskier']);
    expect(kinds(two([['REJECTED', 20], ['TIMED_OUT', 30]]))).toEqual(['rollout-riskier']);
    expect(kinds(two([['ALL', 20]]))).toEqual([]);
  });

  test('a rate that grows sooner (after fewer successes, or after notifications) is riskier', () => {
    const sooner = withJobs((properties) => { properties.JobExecutionsRolloutConfig.ExponentialRolloutRate.RateIncreaseCriteria = { NumberOfSucceededThings: 1 }; });
    expect(jobFindings(sooner).map((finding) => finding.kind)).toEqual(['rollout-riskier', 'change']);
    const notified = withJobs((properties) => { properties.JobExecutionsRolloutConfig.ExponentialRolloutRate.RateIncreaseCriteria = { NumberOfNotifiedThings: 10 }; });
    expect(jobFindings(notified)[0]).toEqual({ kind: 'rollout-riskier', text: expect.stringContaining('times 2 after each 10 more notified instead of 10 a minute at first, times 2 after each 10 more succeeded') });
  });

  test('the update template\'s package URL: its lifetime changed is said; no longer signed is riskier', () => {
    const updateTemplate = (resources: Record<string, any>) => ofType(resources, 'AWS::IoT::JobTemplate').find((resource: any) => resource.Properties.PresignedUrlConfig).Properties;
    const longer = changed((resources) => { updateTemplate(resources).PresignedUrlConfig.ExpiresInSec = 7200; });
    expect(jobFindings(longer)).toEqual([{ kind: 'change', text: expect.stringMatching(/^Job template UpdateProgramJob[0-9A-F]{8}: the package URL signed for each device stays valid 7200 s instead of 3600 s\. It is replaced under a new ID/) }]);
    const unsigned = changed((resources) => { delete updateTemplate(resources).PresignedUrlConfig; });
    expect(jobFindings(unsigned).map((finding) => finding.kind)).toEqual(['rollout-riskier', 'change']);
    expect(jobFindings(unsigned)[0].text).toMatch(/^Job template UpdateProgramJob[0-9A-F]{8}: it no longer has AWS IoT sign its package URL \(PresignedUrlConfig removed\): every device of a release is given the placeholder, not a URL, and fails the job; a job started from it/);
  });

  test('a value the review cannot read (a token) is said, not judged on a guess', () => {
    const token = withJobs((properties) => { properties.AbortConfig = { 'Fn::If': ['IsProd', properties.AbortConfig, { Ref: 'AWS::NoValue' }] }; });
    expect(findings(token).filter((finding) => finding.kind.startsWith('rollout'))).toEqual([]);
    expect(findings(token).filter((finding) => finding.text.includes('job templates'))).toEqual([
      { kind: 'change', text: expect.stringMatching(/^The review cannot evaluate job templates on these templates \(Job template DesiredStateJob[0-9A-F]{8}'s AbortConfig is .* which the review cannot judge\): read that part of the diff yourself\.$/) },
    ]);
  });

  test('a new template without an abort criterion is unguarded; a removed one is said', () => {
    const added = changed((resources) => {
      resources.RebootJob = { Type: 'AWS::IoT::JobTemplate', Properties: { JobTemplateId: 'reboot-1', Description: 'x', Document: '{"operation":"reboot"}' } };
    });
    expect(jobFindings(added)).toEqual([{ kind: 'rollout-unguarded', text: expect.stringMatching(/^Job template RebootJob has no abort criterion \(was none\)/) }]);
    const removed = changed((resources) => { for (const id of Object.keys(resources)) if (resources[id].Type === 'AWS::IoT::JobTemplate') delete resources[id]; });
    expect(jobFindings(removed)).toEqual(['DesiredStateJob', 'UpdateProgramJob'].map((template) => ({ kind: 'change', text: expect.stringMatching(new RegExp(`^Job template ${template}[0-9A-F]{8} is removed: \`npm run fleet -- job start\` no longer offers it; jobs already started from it run on\\.$`)) })));
  });
});

/**
 * Every request the review asks about an IoT policy, and every operation a holder performs, named in the report:
 * a head that flips exactly those requests (one statement each, on the literal resource) is reported with each of
 * them, in the review's words, the same as a head that allows or denies everything.
 */
describe('the requests the IoT access review asks, each named', () => {
  const ARN = 'arn:aws:iot:*:*';
  const policyOf = (resources: Record<string, any>, prefix: string) => Object.entries(resources).find(([id, resource]) => resource.Type === 'AWS::IoT::Policy' && id.startsWith(prefix))![1];
  const withStatements = (prefix: string, statements: Array<[string, string, 'Allow' | 'Deny']>) => changed((resources) => {
    policyOf(resources, prefix).Properties.PolicyDocument.Statement.push(...statements.map(([action, resource, effect]) => ({ Effect: effect, Action: action, Resource: `${ARN}:${resource}` })));
  });
  const textOf = (after: Template, kind: string, start: string) => findings(after).filter((finding) => finding.kind === kind && finding.text.startsWith(start)).map((finding) => finding.text);
  const WIDENED = [
    'connect as another device (take over its client ID)', 'connect in the claim namespace (claim-*)',
    "publish to every device's data topic (another device's, data/another-device)", "update another device's shadow", 'publish to topics outside the data and shadow layout',
    "subscribe to another device's shadow responses", "subscribe to every device's data (data/#)", 'subscribe to every topic (#)', "receive another device's shadow responses",
    "receive another device's data", "subscribe to another device's echo topic", "receive another device's echo topic", "take another device's jobs (start-next)",
    'call fleet provisioning ($aws/certificates/create-from-csr/json)', 'call fleet provisioning ($aws/provisioning-templates/+/provision/json)',
    'publish over HTTPS to its own data topic (data/<thing>)', "publish over HTTPS to another device's data topic",
  ];
  const NARROWED = [
    'connect as its own thing', 'publish to its own data topic (data/<thing>)',
    'update its own shadow', "subscribe to its own shadow's responses", "receive its own shadow's responses", 'connect as a fleet device (pi-dev-fleet-*)',
  ];
  const device = (verb: string, words: string[]) => `A certificate with IoT policy ${Object.keys(base.Resources!).find((id) => id.startsWith('DevicePolicy'))} (held by the certificate of thing 'pi-dev-01' and every fleet device (pi-dev-fleet-*); anyone with the claim key can get a certificate with it by provisioning a serial the hook allows) may ${verb} ${words.join('; ')}.`;

  test('what the device policy newly allows: each request another device\'s, named', () => {
    const everything = withStatements('DevicePolicy', [['iot:*', '*', 'Allow']]);
    const exactly = withStatements('DevicePolicy', [
      ['iot:Connect', 'client/another-device', 'Allow'], ['iot:Connect', 'client/claim-x', 'Allow'], ['iot:Publish', 'topic/data/another-device', 'Allow'], ['iot:Publish', 'topic/$aws/things/another-device/shadow/update', 'Allow'], ['iot:Publish', 'topic/some/other/topic', 'Allow'],
      ['iot:Subscribe', 'topicfilter/$aws/things/another-device/shadow/update/accepted', 'Allow'], ['iot:Subscribe', 'topicfilter/data/#', 'Allow'], ['iot:Subscribe', 'topicfilter/#', 'Allow'],
      ['iot:Receive', 'topic/$aws/things/another-device/shadow/update/accepted', 'Allow'], ['iot:Receive', 'topic/data/another-device', 'Allow'],
      ['iot:Subscribe', 'topicfilter/echo/another-device', 'Allow'], ['iot:Receive', 'topic/echo/another-device', 'Allow'], ['iot:Publish', 'topic/$aws/things/another-device/jobs/start-next', 'Allow'],
      ['iot:Publish', 'topic/$aws/certificates/create-from-csr/json', 'Allow'], ['iot:Publish', 'topic/$aws/provisioning-templates/any-template/provision/json', 'Allow'],
      ['iot:Publish', 'topic/data/pi-dev-01', 'Allow'],
    ]);
    for (const after of [everything, exactly]) expect(textOf(after, 'iot-policy-widened', 'A certificate with IoT policy DevicePolicy')).toEqual([device('now', WIDENED)]);
  });

  test('what the device policy no longer allows: each request of its own, named', () => {
    const everything = withStatements('DevicePolicy', [['iot:*', '*', 'Deny']]);
    const exactly = withStatements('DevicePolicy', [
      ['iot:Connect', 'client/pi-dev-01', 'Deny'], ['iot:Publish', 'topic/data/pi-dev-01', 'Deny'],
      ['iot:Publish', 'topic/$aws/things/pi-dev-01/shadow/update', 'Deny'], ['iot:Subscribe', 'topicfilter/$aws/things/pi-dev-01/shadow/update/accepted', 'Deny'],
      ['iot:Receive', 'topic/$aws/things/pi-dev-01/shadow/update/accepted', 'Deny'], ['iot:Connect', 'client/pi-dev-fleet-SERIAL0001', 'Deny'],
    ]);
    for (const after of [everything, exactly]) expect(textOf(after, 'iot-policy-narrowed', 'A certificate with IoT policy DevicePolicy')).toEqual([device('no longer', NARROWED)]);
  });

  test('an outage names every operation of the device program and of the claim certificate that the head refuses', () => {
    const shadow = '$aws/things/pi-dev-01/shadow';
    const jobs = '$aws/things/pi-dev-01/jobs';
    const ownTopics = ['data/pi-dev-01', 'echo/pi-dev-01', `${shadow}/get`, `${shadow}/update`, `${jobs}/start-next`, `${jobs}/job-1/update`];
    const filters = ['echo/pi-dev-01', ...['get/accepted', 'get/rejected', 'update/accepted', 'update/rejected', 'update/delta'].map((end) => `${shadow}/${end}`),
      ...['notify-next', 'start-next/accepted', 'start-next/rejected', '+/update/accepted', '+/update/rejected'].map((end) => `${jobs}/${end}`)];
    const exactly = withStatements('DevicePolicy', [
      ['iot:Connect', 'client/pi-dev-01', 'Deny'],
      ...ownTopics.map((topic): [string, string, 'Deny'] => ['iot:Publish', `topic/${topic}`, 'Deny']),
      ...filters.map((filter): [string, string, 'Deny'] => ['iot:Subscribe', `topicfilter/${filter}`, 'Deny']),
      ...filters.map((filter): [string, string, 'Deny'] => ['iot:Receive', `topic/${filter.replace('+', 'job-1')}`, 'Deny']),
    ]);
    const words = (text: string) => text.split('pi-dev-01').join('<thing>');
    const operations = [
      'connect as itself (client ID <thing>)', 'publish its status to data/<thing>', 'publish over HTTPS to data/<thing>', 'publish to echo/<thing>', 'subscribe to echo/<thing>', 'receive echo/<thing>',
      ...[`${shadow}/get`, `${shadow}/update`].map((topic) => `publish ${words(topic)}`),
      ...filters.slice(1, 6).map((filter) => `subscribe to ${words(filter)}`), ...filters.slice(1, 6).map((filter) => `receive ${words(filter)}`),
      `publish ${words(jobs)}/start-next`, `publish ${words(jobs)}/job-1/update`,
      ...filters.slice(6).map((filter) => `subscribe to ${words(filter)}`), ...filters.slice(6).map((filter) => `receive ${words(filter.replace('+', 'job-1'))}`),
    ];
    expect(textOf(exactly, 'outage', "thing 'pi-dev-01'")).toEqual([`thing 'pi-dev-01' can no longer ${operations.join('; ')}: what it does today is refused and the device program stops or retries.`]);

    const claim = '$aws/certificates/create-from-csr/json';
    const provision = '$aws/provisioning-templates/*/provision/json';
    const claimExactly = withStatements('FleetClaimPolicy', [
      ['iot:Connect', 'client/claim-SERIAL0001', 'Deny'],
      ...[claim, provision].flatMap((topic): Array<[string, string, 'Deny']> => [['iot:Publish', `topic/${topic}`, 'Deny'],
        ...['accepted', 'rejected'].flatMap((answer): Array<[string, string, 'Deny']> => [['iot:Subscribe', `topicfilter/${topic}/${answer}`, 'Deny'], ['iot:Receive', `topic/${topic}/${answer}`, 'Deny']])]),
    ]);
    const template = '$aws/provisioning-templates/<template>/provision/json';
    const claimOperations = ['connect as claim-<serial>', ...[claim, template].flatMap((topic) => [`publish ${topic}`, ...['accepted', 'rejected'].flatMap((answer) => [`subscribe to ${topic}/${answer}`, `receive ${topic}/${answer}`])])];
    expect(textOf(claimExactly, 'outage', 'the fleet\'s claim certificate')).toEqual([`the fleet's claim certificate can no longer ${claimOperations.join('; ')}: no new device can be provisioned.`]);
  });
});

describe('whom an IoT policy\'s requests concern, in every environment', () => {
  const stg = environmentTemplate('stg') as unknown as Template;
  const copyOf = (template: Template, change: (resources: Record<string, any>) => void) => {
    const copy = JSON.parse(JSON.stringify(template)) as Template;
    change(copy.Resources!);
    return copy;
  };
  const cannotEvaluate = (review: { findings: Array<{ text: string }> }) => review.findings.filter((finding) => finding.text.startsWith('The review cannot evaluate'));
  const connectStatement = (resources: Record<string, any>) => ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument.Statement
    .find((statement: any) => statement.Action === 'iot:Connect');

  test('the device policy\'s Connect for any client ID: a device may take over another device\'s; any client ID of an attached thing only widens nothing', () => {
    const anyClient = changed((resources) => {
      const connect = connectStatement(resources);
      connect.Resource = 'arn:aws:iot:*:*:client/*';
      delete connect.Condition;
    });
    expect(ofKind(anyClient, 'iot-policy-widened')).toEqual([expect.stringMatching(/^A certificate with IoT policy DevicePolicy[0-9A-F]{8} \(held by .*\) may now connect as another device \(take over its client ID\); connect in the claim namespace \(claim-\*\)\.$/)]);
    // A Connect resource of the connection's own client ID is any client ID: the request names it.
    const ownClientId = changed((resources) => {
      const connect = connectStatement(resources);
      connect.Resource = 'arn:aws:iot:*:*:client/${iot:ClientId}';
      delete connect.Condition;
    });
    expect(ofKind(ownClientId, 'iot-policy-widened')).toEqual(ofKind(anyClient, 'iot-policy-widened'));
    // AWS IoT resolves IsAttached only for a client ID that names a thing attached to the certificate.
    const attachedOnly = changed((resources) => { connectStatement(resources).Resource = 'arn:aws:iot:*:*:client/*'; });
    expect(ofKind(attachedOnly, 'iot-policy-widened')).toEqual([]);
  });

  test('an environment without a fleet (stg): its thing alone holds the device policy, and no fleet device is asked about', () => {
    const review = reviewStack('IotCore-stg', stg, copyOf(stg, (resources) => {
      ofType(resources, 'AWS::IoT::Policy', 'DevicePolicy')[0].Properties.PolicyDocument.Statement.push({ Effect: 'Deny', Action: 'iot:*', Resource: '*' });
    }));
    expect(cannotEvaluate(review)).toEqual([]);
    expect(review.findings.filter((finding) => finding.kind === 'iot-policy-narrowed').map((finding) => finding.text)).toEqual([expect.stringMatching(
      /^A certificate with IoT policy DevicePolicy[0-9A-F]{8} \(held by the certificate of thing 'pi-stg-01'\) may no longer connect as its own thing; publish to its own data topic \(data\/<thing>\); update its own shadow; subscribe to its own shadow's responses; receive its own shadow's responses\.$/,
    )]);
    const outages = review.findings.filter((finding) => finding.kind === 'outage').map((finding) => finding.text);
    expect(outages).toContainEqual(expect.stringMatching(/^thing 'pi-stg-01' can no longer connect as itself/));
    expect(outages.join('\n')).not.toMatch(/fleet|claim/);
  });

  test('a fleet added: its devices and claim certificate are new holders, with nothing they did before to lose', () => {
    const beforeTheFleet = copyOf(base, (resources) => {
      for (const id of Object.keys(resources)) if (resources[id].Type === 'AWS::IoT::ProvisioningTemplate') delete resources[id];
    });
    const review = reviewStack('IotCore-dev', beforeTheFleet, base);
    expect(cannotEvaluate(review)).toEqual([]);
    expect(review.findings.filter((finding) => finding.kind === 'outage')).toEqual([]);
  });

  test('the fleet\'s prefix renamed: the requests are said with the head\'s names', () => {
    const renamed = JSON.parse(JSON.stringify(base).split('pi-dev-fleet-').join('pi-dev-line-')) as Template;
    const connect = ofType(renamed.Resources!, 'AWS::IoT::Policy', 'FleetClaimPolicy')[0].Properties.PolicyDocument.Statement[0];
    connect.Resource = JSON.parse(JSON.stringify(connect.Resource).replace('claim-*', '*'));
    expect(findings(renamed)).toContainEqual({
      kind: 'iot-policy-widened',
      text: 'A certificate with IoT policy FleetClaimPolicyC12BA720 (held by the fleet\'s claim certificate) may now connect as its own thing; connect as another device (take over its client ID); connect as a fleet device (pi-dev-line-*).',
    });
  });

  test('a new IoT policy attached to no certificate is said as such, and the policies are told in the order of their IDs', () => {
    const after = changed((resources) => {
      resources.AdminPolicy = { Type: 'AWS::IoT::Policy', Properties: { PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }] } } };
      connectStatement(resources).Resource = 'arn:aws:iot:*:*:client/*';
      delete connectStatement(resources).Condition;
    });
    const widened = ofKind(after, 'iot-policy-widened');
    expect(widened).toHaveLength(2);
    expect(widened[0]).toMatch(/^A certificate with IoT policy AdminPolicy \(held by no certificate of the stack\) may now connect as its own thing; connect as another device/);
    expect(widened[1]).toMatch(/^A certificate with IoT policy DevicePolicy[0-9A-F]{8} \(held by the certificate of thing 'pi-dev-01' and every fleet device/);
  });

  test('a certificate attached to another thing lends its policies to no other holder', () => {
    const after = changed((resources) => {
      const claimCertificate = Object.keys(resources).find((id) => resources[id].Type === 'Custom::DeviceCertificate' && !resources[id].Properties.ThingName)!;
      resources.BenchAttachment = { Type: 'AWS::IoT::ThingPrincipalAttachment', Properties: { ThingName: 'pi-dev-01', Principal: { 'Fn::GetAtt': [claimCertificate, 'CertificateArn'] } } };
      const connect = ofType(resources, 'AWS::IoT::Policy', 'FleetClaimPolicy')[0].Properties.PolicyDocument.Statement[0];
      connect.Resource = JSON.parse(JSON.stringify(connect.Resource).replace('claim-*', '*'));
    });
    // Attached to the declared thing, the claim certificate is that thing's too: the review says so.
    expect(ofKind(after, 'iot-policy-widened')).toContainEqual(expect.stringMatching(/^A certificate with IoT policy FleetClaimPolicyC12BA720 \(held by the certificate of thing 'pi-dev-01' and the fleet's claim certificate\)/));
    const elsewhere = JSON.parse(JSON.stringify(after).replace('"ThingName":"pi-dev-01","Principal"', '"ThingName":"bench-01","Principal"')) as Template;
    expect(ofKind(elsewhere, 'iot-policy-widened')).toContainEqual(expect.stringMatching(/^A certificate with IoT policy FleetClaimPolicyC12BA720 \(held by the fleet's claim certificate\)/));
  });

  test('a Deny unless the connection is an attached thing (IsAttached false) refuses nothing over HTTPS, which has no such key', () => {
    const after = changed((resources) => {
      ofType(resources, 'AWS::IoT::Policy', 'HttpsPublish')[0].Properties.PolicyDocument.Statement.push({ Effect: 'Deny', Action: 'iot:*', Resource: '*', Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'false' } } });
    });
    expect(findings(after).filter((finding) => ['outage', 'iot-policy-narrowed'].includes(finding.kind))).toEqual([]);
  });
});
