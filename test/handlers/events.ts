import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type { HandlerContext } from '../../lib/handlers/retry';

/** A CloudFormation custom-resource event with the fields a test cares about. */
export function cfnEvent(fields: Partial<CloudFormationCustomResourceEvent> & Pick<CloudFormationCustomResourceEvent, 'RequestType' | 'ResourceProperties'>): CloudFormationCustomResourceEvent {
  return {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:provider',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/IotCore-dev/guid',
    RequestId: '11111111-2222-3333-4444-555555555555',
    LogicalResourceId: 'Certificate',
    ResourceType: 'Custom::Test',
    ...fields,
  } as CloudFormationCustomResourceEvent;
}

/** A handler context on a fake clock: sleeping advances time, so retries run instantly and deadlines are exact. */
export function fakeContext(deadlineMs = 110_000): HandlerContext & { lines: string[]; clock: { now: number } } {
  const clock = { now: 0 };
  const lines: string[] = [];
  return {
    lines,
    clock,
    log: (line: string) => lines.push(line),
    deadline: deadlineMs,
    now: () => clock.now,
    sleep: async (ms: number) => { clock.now += ms; },
  };
}
