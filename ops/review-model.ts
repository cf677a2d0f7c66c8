/**
 * What the review's parts share: a synthesized stack, a finding and its kinds, and how resources are named in
 * the report. The parts: ops/review.ts (resources, certificates, cost, the report), ops/review-access.ts (IoT
 * policies and who holds them), ops/review-rules.ts (what the topic rules do with devices' messages),
 * ops/review-hardening.ts (the archive's protections and cdk-nag's acknowledgements), ops/review-jobs.ts (the job
 * templates' rollouts).
 */

/**
 * The kinds of finding, most serious first; `--fail-on` takes these. `outage`: a device or the claim certificate
 * can no longer do what it does today. `hardening`: a protection of the data is removed or a cdk-nag rule waived.
 * `rollout-unguarded`: a job template without an abort criterion; `rollout-riskier`: a job rollout made faster or
 * canceled later (ops/review-jobs.ts).
 */
export const FINDING_KINDS = [
  'outage', 'data-loss', 'replacement', 'update-refused', 'iot-policy-widened', 'hardening', 'rollout-unguarded', 'rollout-riskier', 'iot-policy-narrowed', 'iam', 'cost', 'change',
] as const;
export type FindingKind = typeof FINDING_KINDS[number];

export interface Finding {
  readonly kind: FindingKind;
  /** One sentence a reviewer reads first. */
  readonly text: string;
}

export interface Template {
  Resources?: Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string; Metadata?: Record<string, unknown> }>;
  Outputs?: Record<string, { Value: unknown }>;
  [key: string]: unknown;
}

/**
 * A stack as `cdk synth` writes it: its template, and the cdk-nag findings acknowledged in it (from the stack's
 * metadata file, `aws:cdk:acknowledged-rules`), by construct path and finding ID, with their reasons.
 */
export interface SynthesizedStack {
  readonly template: Template;
  readonly acknowledged: Record<string, string>;
}

/** A resource's construct path without the stack and the trailing `/Resource`, or its logical ID when the template has no paths. */
export const resourceName = (id: string, template: Template): string => String((template.Resources?.[id]?.Metadata?.['aws:cdk:path'] as string | undefined)
  ?.replace(/^[^/]+\//, '').replace(/(\/Resource)+$/, '') ?? id);

/** A finding's text as a sentence: its first letter capitalized. */
export const sentence = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

export const display = (value: unknown): string => (typeof value === 'string' ? `'${value}'` : JSON.stringify(value));

/** The logical IDs of a template's resources of one type. */
export const resourcesOfType = (template: Template, type: string): string[] => Object.entries(template.Resources ?? {}).filter(([, resource]) => resource.Type === type).map(([id]) => id);
