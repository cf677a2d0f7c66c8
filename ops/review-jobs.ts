/**
 * What a change of the job templates does to the fleet's rollouts, in plain words: how fast a job reaches its
 * devices, its slow start, when it is canceled, how long an execution may run, its retries and its document, and
 * which devices a job started from it reaches. A template left without an abort criterion is `rollout-unguarded`
 * (a bad document then reaches every targeted device whatever fails); a rollout made riskier (faster, its slow
 * start removed, canceled later, timing out later or never) is `rollout-riskier`; one made safer is a `change`.
 * AWS's defaults where a template is silent ("Job rollout, scheduling, and abort configurations", AWS IoT
 * Developer Guide): 1,000 things a minute, no abort, no timeout, no retries.
 */
import { fleetPrefixOf } from './review-access';
import { display, Finding, resourceName as name, resourcesOfType, Template } from './review-model';

const DEFAULT_RATE = 1000;

/** What a template's rollout is, read from its CloudFormation properties. */
interface Rollout {
  readonly maximum: number;
  readonly slowStart?: { readonly base: number; readonly factor: number; readonly after: string; readonly increase: { readonly notified?: number; readonly succeeded?: number } };
  readonly abort: ReadonlyArray<{ readonly failureType: string; readonly threshold: number; readonly minimum: number }>;
  readonly timeoutMinutes?: number;
  readonly retries: string;
  readonly document: string;
  /** How long the package URLs AWS IoT signs for each device stay valid (PresignedUrlConfig); none: no URL is signed. */
  readonly urlSeconds?: number;
}

/** A number of the template, or an error naming it: a token (Ref, Fn::If, ...) is not judged on a guess. */
function numberAt(value: unknown, where: string): number;
function numberAt(value: unknown, where: string, optional: true): number | undefined;
function numberAt(value: unknown, where: string, optional = false): number | undefined {
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'number') throw new Error(`${where} is ${JSON.stringify(value)}, not a number the review can judge`);
  return value;
}

function rolloutOf(properties: Record<string, any>, label: string): Rollout {
  for (const key of ['JobExecutionsRolloutConfig', 'AbortConfig', 'TimeoutConfig', 'JobExecutionsRetryConfig']) {
    const value = properties[key];
    if (value !== undefined && (typeof value !== 'object' || value === null || Object.keys(value).some((name) => name.startsWith('Fn::') || name === 'Ref'))) {
      throw new Error(`${label}'s ${key} is ${JSON.stringify(value)}, which the review cannot judge`);
    }
  }
  const rollout = properties.JobExecutionsRolloutConfig ?? {};
  const exponential = rollout.ExponentialRolloutRate;
  const criteria = exponential?.RateIncreaseCriteria ?? {};
  const increase = { notified: numberAt(criteria.NumberOfNotifiedThings, `${label}'s NumberOfNotifiedThings`, true), succeeded: numberAt(criteria.NumberOfSucceededThings, `${label}'s NumberOfSucceededThings`, true) };
  const after = [
    criteria.NumberOfNotifiedThings !== undefined ? `${criteria.NumberOfNotifiedThings} more notified` : '',
    criteria.NumberOfSucceededThings !== undefined ? `${criteria.NumberOfSucceededThings} more succeeded` : '',
  ].filter(Boolean).join(' or ');
  const retries = (properties.JobExecutionsRetryConfig?.RetryCriteriaList ?? []) as Array<{ FailureType: string; NumberOfRetries: number }>;
  const criteriaList = properties.AbortConfig?.CriteriaList ?? [];
  if (!Array.isArray(criteriaList)) throw new Error(`${label}'s CriteriaList is ${JSON.stringify(criteriaList)}, which the review cannot judge`);
  return {
    maximum: numberAt(rollout.MaximumPerMinute, `${label}'s MaximumPerMinute`, true) ?? DEFAULT_RATE,
    slowStart: exponential ? {
      base: numberAt(exponential.BaseRatePerMinute, `${label}'s BaseRatePerMinute`), factor: numberAt(exponential.IncrementFactor, `${label}'s IncrementFactor`), after, increase,
    } : undefined,
    // AWS cancels on any criterion: each is known by its failure type.
    abort: (criteriaList as Array<Record<string, any>>).map((criterion) => ({
      failureType: String(criterion.FailureType), threshold: numberAt(criterion.ThresholdPercentage, `${label}'s ThresholdPercentage`),
      minimum: numberAt(criterion.MinNumberOfExecutedThings, `${label}'s MinNumberOfExecutedThings`),
    })).sort((a, b) => a.failureType.localeCompare(b.failureType)),
    timeoutMinutes: numberAt(properties.TimeoutConfig?.InProgressTimeoutInMinutes, `${label}'s InProgressTimeoutInMinutes`, true),
    retries: retries.map((retry) => `${retry.NumberOfRetries} after ${retry.FailureType}`).join(', ') || 'none',
    document: typeof properties.Document === 'string' ? properties.Document : JSON.stringify(properties.Document),
    // AWS's default lifetime is 3600 s ("Managing jobs: Presigned URLs"); the role is a token of the stack, not judged.
    urlSeconds: properties.PresignedUrlConfig === undefined ? undefined : numberAt(properties.PresignedUrlConfig.ExpiresInSec, `${label}'s ExpiresInSec`, true) ?? 3600,
  };
}

const perMinute = (rate: number) => `${rate} a minute`;
const slowStartText = (start: Rollout['slowStart']) => (start ? `${perMinute(start.base)} at first, times ${start.factor} after each ${start.after}` : 'no slow start');
const abortText = (abort: Rollout['abort']) => abort.map((criterion) => `${criterion.threshold} % ${criterion.failureType} of at least ${criterion.minimum}`).join(' or ');
const timeoutText = (minutes: number | undefined) => (minutes === undefined ? 'never times out' : `times out after ${minutes} minutes`);

/** The rollout's changes, each a phrase, with whether it makes the rollout riskier. */
function rolloutChanges(was: Rollout, is: Rollout): Array<{ readonly riskier: boolean; readonly text: string }> {
  const changes: Array<{ riskier: boolean; text: string }> = [];
  const first = (rollout: Rollout) => rollout.slowStart?.base ?? rollout.maximum;
  if (was.slowStart && !is.slowStart) changes.push({ riskier: true, text: `its slow start is removed: every targeted device may be notified at up to ${perMinute(is.maximum)} from the first (was ${slowStartText(was.slowStart)})` });
  else if (!was.slowStart && is.slowStart) changes.push({ riskier: false, text: `it gains a slow start: ${slowStartText(is.slowStart)}` });
  else if (slowStartText(was.slowStart) !== slowStartText(is.slowStart)) {
    // Sooner increases are faster too: fewer things to wait for, or notified where it waited for successes.
    const sooner = (now?: number, before?: number) => now !== undefined && (before === undefined || now < before);
    const faster = first(is) > first(was) || is.slowStart!.factor > was.slowStart!.factor
      || sooner(is.slowStart!.increase.succeeded, was.slowStart!.increase.succeeded) || sooner(is.slowStart!.increase.notified, was.slowStart!.increase.notified);
    changes.push({ riskier: faster, text: `its rollout ${faster ? 'is faster' : 'changes'}: ${slowStartText(is.slowStart)} instead of ${slowStartText(was.slowStart)}` });
  }
  if (is.maximum !== was.maximum) changes.push({ riskier: is.maximum > was.maximum, text: `it notifies at most ${perMinute(is.maximum)} instead of ${perMinute(was.maximum)}` });
  if (is.abort.length && was.abort.length && abortText(is.abort) !== abortText(was.abort)) {
    // Later: a failure type no longer counted (ALL counts every one), or one counted at a higher threshold or minimum.
    const counts = (rollout: Rollout, type: string) => rollout.abort.find((criterion) => criterion.failureType === type || criterion.failureType === 'ALL');
    const later = was.abort.some((before) => {
      const types = before.failureType === 'ALL' ? ['FAILED', 'REJECTED', 'TIMED_OUT'] : [before.failureType];
      return types.some((type) => {
        const now = counts(is, type);
        return !now || now.threshold > before.threshold || now.minimum > before.minimum;
      });
    });
    changes.push({ riskier: later, text: `it is canceled once ${abortText(is.abort)} executions fail, instead of ${abortText(was.abort)}${later ? ': later, so more devices get a bad job' : ''}` });
  } else if (is.abort.length && !was.abort.length) changes.push({ riskier: false, text: `it gains an abort criterion: canceled once ${abortText(is.abort)} executions fail` });
  if (is.timeoutMinutes !== was.timeoutMinutes) {
    const later = is.timeoutMinutes === undefined || (was.timeoutMinutes !== undefined && is.timeoutMinutes > was.timeoutMinutes);
    changes.push({ riskier: later, text: `an execution in progress ${timeoutText(is.timeoutMinutes)} (it ${timeoutText(was.timeoutMinutes)})` });
  }
  if (is.retries !== was.retries) changes.push({ riskier: false, text: `its retries are ${is.retries} instead of ${was.retries}` });
  if (was.urlSeconds !== undefined && is.urlSeconds === undefined) {
    // fleet release's URL is the presigned URL placeholder, which AWS IoT replaces only for a template that signs.
    changes.push({ riskier: true, text: 'it no longer has AWS IoT sign its package URL (PresignedUrlConfig removed): every device of a release is given the placeholder, not a URL, and fails the job' });
  } else if (was.urlSeconds !== is.urlSeconds && was.urlSeconds !== undefined && is.urlSeconds !== undefined) {
    changes.push({ riskier: false, text: `the package URL signed for each device stays valid ${is.urlSeconds} s instead of ${was.urlSeconds} s` });
  }
  if (is.document !== was.document) changes.push({ riskier: false, text: `its document is ${is.document} instead of ${was.document}` });
  return changes;
}

/** Which devices a job of this environment reaches: its fleet's thing group, with the declared thing and the provisioned devices. */
function reach(template: Template): string {
  const group = resourcesOfType(template, 'AWS::IoT::ThingGroup').map((id) => template.Resources![id].Properties?.ThingGroupName).find((value) => typeof value === 'string');
  const things = resourcesOfType(template, 'AWS::IoT::Thing').map((id) => template.Resources![id].Properties?.ThingName).filter((value): value is string => typeof value === 'string');
  const prefix = fleetPrefixOf(template);
  const devices = [...things.map((thing) => `thing ${display(thing)}`), ...(prefix ? [`every device provisioned as ${prefix}*`] : [])].join(' and ');
  return group ? `a job started from it for the fleet's group ${display(group)} reaches ${devices}` : `a job started from it reaches the things it targets (${devices})`;
}

/** The findings of the job templates' change from `old` to `now`, matched by logical ID. */
export function jobTemplateFindings(old: Template, now: Template): Finding[] {
  const findings: Finding[] = [];
  const ids = [...new Set([...resourcesOfType(old, 'AWS::IoT::JobTemplate'), ...resourcesOfType(now, 'AWS::IoT::JobTemplate')])];
  for (const id of ids) {
    const label = `Job template ${name(id, now.Resources?.[id] ? now : old)}`;
    const was = old.Resources?.[id]?.Type === 'AWS::IoT::JobTemplate' ? rolloutOf(old.Resources[id].Properties ?? {}, label) : undefined;
    const is = now.Resources?.[id]?.Type === 'AWS::IoT::JobTemplate' ? rolloutOf(now.Resources[id].Properties ?? {}, label) : undefined;
    if (!is) {
      findings.push({ kind: 'change', text: `${label} is removed: \`npm run fleet -- job start\` no longer offers it; jobs already started from it run on.` });
      continue;
    }
    const unguarded = !is.abort.length && (!was || was.abort.length > 0);
    if (unguarded) {
      findings.push({ kind: 'rollout-unguarded', text: `${label} ${was ? 'loses its abort criteria' : 'has no abort criterion'} (was ${was ? abortText(was.abort) : 'none'}): a job started from it is never canceled, whatever fails, so a bad document reaches every device it targets; ${reach(now)}.` });
    }
    if (!was) {
      if (!unguarded) findings.push({ kind: 'change', text: `A new ${label.charAt(0).toLowerCase()}${label.slice(1)}: ${slowStartText(is.slowStart)}, at most ${perMinute(is.maximum)}, canceled once ${abortText(is.abort)} executions fail; ${reach(now)}.` });
      continue;
    }
    const changes = rolloutChanges(was, is);
    const riskier = changes.filter((change) => change.riskier);
    if (riskier.length) findings.push({ kind: 'rollout-riskier', text: `${label}: ${riskier.map((change) => change.text).join('; ')}; ${reach(now)}.` });
    const other = changes.filter((change) => !change.riskier);
    // A template's ID carries a hash of its configuration, so any change replaces it under a new ID; jobs already started keep theirs.
    if (other.length) findings.push({ kind: 'change', text: `${label}: ${other.map((change) => change.text).join('; ')}. It is replaced under a new ID; jobs already started keep their configuration.` });
    else if (riskier.length) findings.push({ kind: 'change', text: `${label} is replaced under a new ID; jobs already started keep their configuration.` });
  }
  return findings;
}
