/**
 * The one reader of the stack-to-device contract (output names in contract.ts): a deployed stack's outputs, as
 * CloudFormation DescribeStacks returns them. `iot-device bootstrap`, the smoke check and the fleet commands each
 * check the outputs they need; errors of the call are the SDK's, for the caller to explain.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

export interface DeployedStack {
  readonly status: string;
  readonly outputs: Record<string, string>;
}

/** The stack's status and outputs, or undefined when DescribeStacks answers with no stack. */
export async function describeStackOutputs(cloudFormation: CloudFormationClient, stackName: string): Promise<DeployedStack | undefined> {
  const { Stacks: [stack] = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
  if (!stack) return undefined;
  return { status: String(stack.StackStatus), outputs: Object.fromEntries((stack.Outputs ?? []).map((output) => [output.OutputKey!, output.OutputValue!])) };
}

/** Whether DescribeStacks failed because the stack is not there (CloudFormation answers ValidationError "Stack with id … does not exist"). */
export const isMissingStack = (error: unknown): boolean => (error as Error)?.name === 'ValidationError' && /does not exist/.test((error as Error).message);

/** What to check when the stack is not there: most often a mistyped --stack, or another Region. */
export const MISSING_STACK_HINT = 'Check --stack (IotCore-<env>) and --region (or AWS_REGION), where the stack was deployed';
