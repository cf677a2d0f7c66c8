/**
 * The synthesized templates the sandbox is built from: the CDK app of this project synthesized in
 * process with the feature flags of cdk.json, templates and cdk-nag as `cdk synth` produces them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../bin/app';
import type { RawTemplate } from './resolved-template';

export type Template = RawTemplate & { Resources: Record<string, { Type: string; Properties: Record<string, any> }>; Outputs: Record<string, { Value: unknown; Description?: string }> };

/** Synthesizes every environment (or the one named) into `outdir`; templates by stack name. */
export function synthesizeTemplates(outdir: string, environment?: string): Record<string, Template> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { context } = require('../cdk.json');
  const assembly = buildApp(new App({ context: { ...context, ...(environment ? { env: environment } : {}) }, outdir })).synth();
  return Object.fromEntries(assembly.stacks.map((stack) => [stack.stackName, stack.template as Template]));
}

const synthesized = new Map<string, Template>();

/** One environment's template, synthesized once per process. */
export function environmentTemplate(environment = 'dev'): Template {
  if (!synthesized.has(environment)) {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-out-'));
    try {
      synthesized.set(environment, synthesizeTemplates(outdir, environment)[`IotCore-${environment}`]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  }
  return synthesized.get(environment)!;
}
