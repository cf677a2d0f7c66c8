// Baseline of bench/synth: the smallest app the CDK CLI will synthesize, run the same way as bin/app.ts.
import { App, CfnWaitConditionHandle, Stack } from 'aws-cdk-lib';

const app = new App();
new CfnWaitConditionHandle(new Stack(app, 'Empty'), 'Placeholder');
app.synth();
