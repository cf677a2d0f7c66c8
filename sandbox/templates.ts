/**
 * The synthesized templates the sandbox is built from: the CDK app of this project synthesized in
 * process with the feature flags of cdk.json, templates and cdk-nag as `cdk synth` produces them.
 */
import { SANDBOX_ENVIRONMENT, stackNameOf } from '../config/environments';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../bin/app';
import type { RawTemplate } from './resolved-template';
import { TEMPLATE_SOURCES } from './template-sources.json';

export type Template = RawTemplate & { Resources: Record<string, { Type: string; Properties: Record<string, any> }>; Outputs: Record<string, { Value: unknown; Description?: string }> };

/** Synthesizes every environment (or the one named) into `outdir`; templates by stack name. */
export function synthesizeTemplates(outdir: string, environment?: string): Record<string, Template> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { context } = require('../cdk.json');
  const assembly = buildApp(new App({ context: { ...context, ...(environment ? { env: environment } : {}) }, outdir }), undefined, undefined, { accountWarning: false }).synth();
  return Object.fromEntries(assembly.stacks.map((stack) => [stack.stackName, stack.template as Template]));
}

const synthesized = new Map<string, Template>();
const ROOT = path.join(__dirname, '..');
/**
 * What a template is made of: the app, the constructs and handlers, the config, the device's contract and settings
 * rules (lib imports both), the feature flags and the locked dependencies (template-sources.json: the mutation run
 * reads it too).
 */
const SOURCES: readonly string[] = TEMPLATE_SOURCES;

/** A hash of every file the templates are synthesized from. */
export function sourcesHash(): string {
  const hash = createHash('sha256');
  const add = (relative: string) => {
    const absolute = path.join(ROOT, relative);
    if (fs.statSync(absolute).isDirectory()) {
      for (const entry of fs.readdirSync(absolute).sort()) add(path.join(relative, entry));
    } else {
      hash.update(relative).update('\0').update(fs.readFileSync(absolute)).update('\0');
    }
  };
  for (const source of SOURCES) add(source);
  return hash.digest('hex').slice(0, 16);
}

/**
 * One environment's template, synthesized once per process, and kept on disk (node_modules/.cache) under
 * the hash of its sources, so the processes of one test run, and `npm start` after them, share one synth
 * while nothing it is made of changes. `IOT_CORE_SYNTH_CACHE=off` synthesizes without the disk: the mutation run
 * sets it, because there the same sources make another template with each mutant.
 */
export function environmentTemplate(environment = SANDBOX_ENVIRONMENT): Template {
  if (!synthesized.has(environment)) {
    const cached = process.env.IOT_CORE_SYNTH_CACHE !== 'off';
    const cacheFile = path.join(ROOT, 'node_modules', '.cache', 'iot-core-cdk', `${stackNameOf(environment)}-${sourcesHash()}.template.json`);
    if (cached && fs.existsSync(cacheFile)) {
      synthesized.set(environment, JSON.parse(fs.readFileSync(cacheFile, 'utf8')));
    } else {
      const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-out-'));
      try {
        const template = synthesizeTemplates(outdir, environment)[stackNameOf(environment)];
        synthesized.set(environment, template);
        if (!cached) return template;
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true });
        // Written aside and renamed: a process reading it meanwhile sees the whole file or none.
        const partial = `${cacheFile}.${process.pid}`;
        fs.writeFileSync(partial, JSON.stringify(template));
        fs.renameSync(partial, cacheFile);
      } finally {
        fs.rmSync(outdir, { recursive: true, force: true });
      }
    }
  }
  return synthesized.get(environment)!;
}
