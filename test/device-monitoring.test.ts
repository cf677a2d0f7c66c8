import { Duration } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { DeviceMonitoring, DeviceMonitoringProps } from '../lib/device-monitoring';
import { freshStack, nagFindings, templateOf } from './setup/constructs';

function monitoring(props: Partial<DeviceMonitoringProps> = {}) {
  const stack = freshStack();
  const construct = new DeviceMonitoring(stack, 'Monitoring', {
    dataTopic: 'data/pi-01', reportInterval: Duration.seconds(5), archiveRuleName: 'archive_pi_01',
    errorLogGroup: new logs.LogGroup(stack, 'Errors'), metricNamespace: 'IotCore/Test', ...props,
  });
  const alarms = () => Object.values(templateOf(stack).findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties);
  return { stack, construct, alarms };
}

/** The dashboard's widgets, its body's tokens (region, alarm ARNs) as placeholders. */
function widgetsOf(stack: ReturnType<typeof freshStack>): any[] {
  const [dashboard] = Object.values(templateOf(stack).findResources('AWS::CloudWatch::Dashboard'));
  const body = dashboard.Properties.DashboardBody;
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((part: unknown) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  return JSON.parse(text).widgets;
}

describe('DeviceMonitoring', () => {
  test('alarms on the archive rule\'s AWS/IoT Failure and ParseError, on any failed delivery, and on a quiet device; cdk-nag clean', () => {
    const { stack, alarms } = monitoring();
    const byMetric = Object.fromEntries(alarms().map((alarm) => [alarm.Metrics ? `query ${alarm.Metrics[0].Expression}` : `${alarm.Namespace}/${alarm.MetricName}`, alarm]));
    expect(Object.keys(byMetric).sort()).toEqual([
      'AWS/IoT/ParseError', 'IotCore/Test/FailedDeliveries', 'IotCore/Test/StatusMessages', 'query SELECT SUM(Failure) FROM "AWS/IoT" WHERE RuleName = \'archive_pi_01\'',
    ]);
    // AWS never lists ActionType's values: the failures of every action type of the rule, summed by a Metrics Insights query.
    expect(byMetric['query SELECT SUM(Failure) FROM "AWS/IoT" WHERE RuleName = \'archive_pi_01\''])
      .toMatchObject({ Metrics: [{ Id: expect.any(String), Period: 300, ReturnData: true }], Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    expect(byMetric['AWS/IoT/ParseError']).toMatchObject({ Dimensions: [{ Name: 'RuleName', Value: 'archive_pi_01' }], Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    // 3 intervals of 5 s, rounded up to CloudWatch's one-minute period; no datapoint at all is a quiet device.
    expect(byMetric['IotCore/Test/StatusMessages']).toMatchObject({ Period: 60, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching', Statistic: 'Sum' });
    expect(nagFindings(stack)).toEqual([]);
  });

  test('counts status messages with a rule on the data topic and its CloudWatch metric action, its role limited to the namespace', () => {
    const { stack } = monitoring();
    const template = templateOf(stack);
    template.hasResourceProperties('AWS::IoT::TopicRule', { TopicRulePayload: {
      Sql: "SELECT * FROM 'data/pi-01'", AwsIotSqlVersion: '2016-03-23',
      Actions: [{ CloudwatchMetric: { MetricNamespace: 'IotCore/Test', MetricName: 'StatusMessages', MetricValue: '1', MetricUnit: 'Count' } }],
    } });
    template.hasResourceProperties('AWS::IAM::Policy', { PolicyDocument: { Statement: [{
      Action: 'cloudwatch:PutMetricData', Resource: '*', Condition: { StringEquals: { 'cloudwatch:namespace': 'IotCore/Test' } },
    }] } });
    template.hasResourceProperties('AWS::Logs::MetricFilter', { FilterPattern: '', MetricTransformations: [{ MetricNamespace: 'IotCore/Test', MetricName: 'FailedDeliveries', MetricValue: '1' }] });
  });

  test('the quiet window is quietIntervals intervals, in whole minutes', () => {
    const { alarms } = monitoring({ reportInterval: Duration.seconds(50), quietIntervals: 4 });
    expect(alarms().find((alarm) => alarm.MetricName === 'StatusMessages').Period).toBe(240);
  });

  test('notifies the SNS topic when one is given, on alarm and on recovery', () => {
    const stack = freshStack();
    const topic = sns.Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:eu-west-1:210987654321:oncall');
    new DeviceMonitoring(stack, 'Monitoring', { dataTopic: 'data/pi-01', reportInterval: Duration.seconds(5), archiveRuleName: 'r', errorLogGroup: new logs.LogGroup(stack, 'Errors'), alarmTopic: topic });
    const alarms = Object.values(templateOf(stack).findResources('AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(4);
    for (const alarm of alarms) {
      expect([alarm.Properties.AlarmActions, alarm.Properties.OKActions]).toEqual([['arn:aws:sns:eu-west-1:210987654321:oncall'], ['arn:aws:sns:eu-west-1:210987654321:oncall']]);
    }
  });

  test('has a dashboard of matched and archived messages, failures, liveness and the alarms', () => {
    const { stack } = monitoring();
    const [dashboard] = Object.values(templateOf(stack).findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(stack.resolve(dashboard.Properties.DashboardBody));
    for (const title of ['Messages matched and archived', 'Failures', 'Device liveness: status messages', 'Alarms']) expect(body).toContain(title);
    for (const metric of ['TopicMatch', 'Success', 'Failure', 'ParseError', 'FailedDeliveries', 'StatusMessages']) expect(body).toContain(metric);
  });

  test.each([1, 101, 2.5])('refuses quietIntervals %d', (quietIntervals) => {
    expect(() => monitoring({ quietIntervals })).toThrow(`DeviceMonitoring quietIntervals must be a whole number from 2 to 100, received: ${quietIntervals}`);
  });

  test('failure alarms take their threshold and period from the props', () => {
    const { alarms } = monitoring({ failureThreshold: 3, failurePeriod: Duration.minutes(15) });
    const failures = alarms().filter((alarm) => alarm.Metrics || ['ParseError', 'FailedDeliveries'].includes(alarm.MetricName));
    expect(failures.map((alarm) => [alarm.MetricName ?? 'Failure query', alarm.Threshold, alarm.Period ?? alarm.Metrics[0].Period]).sort())
      .toEqual([['FailedDeliveries', 3, 900], ['Failure query', 3, 900], ['ParseError', 3, 900]]);
  });

  test('with a fleet: devices reporting from the archive rule\'s own TopicMatch, free of any per-message action; no alarm per device', () => {
    const { stack, alarms } = monitoring({ devicesReporting: true });
    const template = templateOf(stack);
    // The liveness rule of the declared device is the only rule: no second rule calls PutMetricData for every fleet message.
    template.resourceCountIs('AWS::IoT::TopicRule', 1);
    expect(alarms()).toHaveLength(4);
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(stack.resolve(dashboard.Properties.DashboardBody));
    expect(body).toContain('Devices reporting');
    // Messages in the 1-minute window divided by the 5 s intervals in it.
    expect(body).toContain('messages / (PERIOD(messages) / 5)');
    expect(body).toContain('[\\"AWS/IoT\\",\\"TopicMatch\\",\\"RuleName\\",\\"archive_pi_01\\",{\\"id\\":\\"messages\\",\\"visible\\":false,\\"period\\":60,\\"stat\\":\\"Sum\\"}]');
    expect(nagFindings(stack)).toEqual([]);
  });

  test('with a job ID prefix: executions per status over the environment\'s jobs, found by a search on the JobId dimension AWS publishes', () => {
    const { stack } = monitoring({ jobIdPrefix: 'iot-core-dev-' });
    const widget = widgetsOf(stack).find((candidate: any) => candidate.properties.title === 'Job executions per status (jobs iot-core-dev-*)');
    expect(widget.properties.metrics.map(([metric]: any[]) => [metric.label, metric.expression])).toEqual(
      [['QUEUED', 'Queued'], ['IN_PROGRESS', 'InProgress'], ['SUCCEEDED', 'Succeded'], ['FAILED', 'Failed'], ['REJECTED', 'Rejected'], ['CANCELED', 'Canceled'], ['REMOVED', 'Removed']]
        .map(([label, metric]) => [label, `SUM(SEARCH('{AWS/IoT,JobId} MetricName="${metric}JobExecutionCount" "iot-core-dev"', 'Sum', 300))`]),
    );
    expect(JSON.stringify(widgetsOf(monitoring().stack))).not.toContain('JobExecution');
  });

  test.each([0, 10_001, 1.5])('refuses failureThreshold %d', (failureThreshold) => {
    expect(() => monitoring({ failureThreshold })).toThrow(`DeviceMonitoring failureThreshold must be a whole number from 1 to 10000, received: ${failureThreshold}`);
  });

  test.each([Duration.seconds(30), Duration.seconds(90), Duration.days(2)])('refuses failurePeriod %s', (failurePeriod) => {
    expect(() => monitoring({ failurePeriod })).toThrow(`DeviceMonitoring failurePeriod in minutes must be a whole number from 1 to 1440, received: ${failurePeriod.toHumanString()}`);
  });
});
