/**
 * Synth time of one environment's stack as devices are declared in it (1, 10, 50, 100, 150 things, each with its
 * certificate), against the stack with its one thing in the same run. Past the resource budget synth
 * stops with the error pointing to fleet provisioning; that time is measured too.
 * Usage: npm run bench:things [-- runs]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { stackProps } from '../bin/app';
import * as cdkJson from '../cdk.json';
import { environments } from '../config/environments';
import { DeviceCertificate } from '../lib/device-certificate';
import { DeviceThing } from '../lib/device-thing';
import { IotCoreStack } from '../lib/iot-core-stack';
import { median } from './measure';

const runs = Number(process.argv[2] ?? 3);

/** Synthesizes the stg stack with `things` things in all; the wall time, the resource count, or the error. */
function synth(things: number): { ms: number; outcome: string } {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-things-'));
  const started = process.hrtime.bigint();
  let outcome: string;
  try {
    const app = new App({ context: cdkJson.context, outdir });
    const stack = new IotCoreStack(app, 'Things', stackProps('stg', environments.stg as never));
    for (let n = 2; n <= things; n += 1) {
      const thing = new DeviceThing(stack, `Thing${n}`, { thingName: `pi-stg-${n}` });
      new DeviceCertificate(stack, `Certificate${n}`, { thing, policy: stack.policy });
    }
    const template = app.synth().getStackByName('Things').template as { Resources: object };
    outcome = `${Object.keys(template.Resources).length} resources`;
  } catch (error) {
    const found = /has (\d+) resources/.exec((error as Error).message);
    if (!found) throw error;
    outcome = `refused: ${found[1]} resources, over the budget`;
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  fs.rmSync(outdir, { recursive: true, force: true });
  return { ms, outcome };
}

const results = new Map<number, { ms: number[]; outcome: string }>();
for (let run = 0; run < runs; run++) {
  for (const things of [1, 10, 50, 100, 150]) {
    const { ms, outcome } = synth(things);
    const entry = results.get(things) ?? { ms: [], outcome };
    entry.ms.push(ms);
    results.set(things, entry);
  }
}
const baseline = median(results.get(1)!.ms);
for (const [things, { ms, outcome }] of results) {
  console.log(`${String(things).padStart(3)} thing(s): ${median(ms).toFixed(0)} ms (median of ${runs}) = ${(median(ms) / baseline).toFixed(2)}x the one-thing stack; ${outcome}`);
}
