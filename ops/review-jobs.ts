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
  readonly slowStart?: { readonly base: number; readonly factor: number; readonly after: string };
  readonly abort: ReadonlyArray<{ readonly failureType: string; readonly threshold: number; readonly minimum: number }>;
  readonly timeoutMinutes?: number;
  readonly retries: string;
  readonly document: string;
}

function rolloutOf(properties: Record<string, any>): Rollout {
  const rollout = properties.JobExecutionsRolloutConfig ?? {};
  const exponential = rollout.ExponentialRolloutRate;
  const criteria = exponential?.RateIncreaseCriteria ?? {};
  const after = [
    criteria.NumberOfNotifiedThings !== undefined ? `${criteria.NumberOfNotifiedThings} more notified` : '',
    criteria.NumberOfSucceededThings !== undefined ? `${criteria.NumberOfSucceededThings} more succeeded` : '',
  ].filter(Boolean).join(' or ');
  const retries = (properties.JobExecutionsRetryConfig?.RetryCriteriaList ?? []) as Array<{ FailureType: string; NumberOfRetries: number }>;
  return {
    maximum: rollout.MaximumPerMinute ?? DEFAULT_RATE,
    slowStart: exponential ? { base: exponential.BaseRatePerMinute, factor: exponential.IncrementFactor, after } : undefined,
    abort: ((properties.AbortConfig?.CriteriaList ?? []) as Array<Record<string, any>>).map((criterion) => ({
      failureType: criterion.FailureType, threshold: criterion.ThresholdPercentage, minimum: criterion.MinNumberOfExecutedThings,
    })),
    timeoutMinutes: properties.TimeoutConfig?.InProgressTimeoutInMinutes,
    retries: retries.map((retry) => `${retry.NumberOfRetries} after ${retry.FailureType}`).join(', ') || 'none',
    document: typeof properties.Document === 'string' ? properties.Document : JSON.stringify(properties.Document),
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
    const faster = first(is) > first(was) || (is.slowStart!.factor > was.slowStart!.factor);
    changes.push({ riskier: faster, text: `its rollout ${faster ? 'is faster' : 'changes'}: ${slowStartText(is.slowStart)} instead of ${slowStartText(was.slowStart)}` });
  }
  if (is.maximum !== was.maximum) changes.push({ riskier: is.maximum > was.maximum, text: `it notifies at most ${perMinute(is.maximum)} instead of ${perMinute(was.maximum)}` });
  if (is.abort.length && was.abort.length && abortText(is.abort) !== abortText(was.abort)) {
    const later = is.abort.some((criterion, index) => !was.abort[index] || criterion.threshold > was.abort[index].threshold || criterion.minimum > was.abort[index].minimum
      || (was.abort[index].failureType === 'ALL' && criterion.failureType !== 'ALL'));
    changes.push({ riskier: later, text: `it is canceled once ${abortText(is.abort)} executions fail, instead of ${abortText(was.abort)}${later ? ': later, so more devices get a bad job' : ''}` });
  } else if (is.abort.length && !was.abort.length) changes.push({ riskier: false, text: `it gains an abort criterion: canceled once ${abortText(is.abort)} executions fail` });
  if (is.timeoutMinutes !== was.timeoutMinutes) {
    const later = is.timeoutMinutes === undefined || (was.timeoutMinutes !== undefined && is.timeoutMinutes > was.timeoutMinutes);
    changes.push({ riskier: later, text: `an execution in progress ${timeoutText(is.timeoutMinutes)} (it ${timeoutText(was.timeoutMinutes)})` });
  }
  if (is.retries !== was.retries) changes.push({ riskier: false, text: `its retries are ${is.retries} instead of ${was.retries}` });
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
    const was = old.Resources?.[id]?.Type === 'AWS::IoT::JobTemplate' ? rolloutOf(old.Resources[id].Properties ?? {}) : undefined;
    const is = now.Resources?.[id]?.Type === 'AWS::IoT::JobTemplate' ? rolloutOf(now.Resources[id].Properties ?? {}) : undefined;
    const label = `Job template ${name(id, is ? now : old)}`;
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
