import { Duration, IResource, Names, Resource } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import { Construct } from 'constructs';
import { createHash } from 'crypto';
import { iotArn } from './iot-policy';
import { check, RULES } from './rules';

/** How fast a job reaches its targets ("Job rollout, scheduling, and abort configurations", AWS IoT Developer Guide). */
export interface JobRollout {
  /** Things notified a minute at most, 1 to 1000. @default 1000 (AWS's default) */
  readonly maximumPerMinute?: number;
  /** A rate that starts low and multiplies as the rollout goes well. @default a constant rate */
  readonly exponential?: {
    /** Things notified a minute at first, 1 to 1000. */
    readonly baseRatePerMinute: number;
    /** What the rate is multiplied by each time the criterion is met, 1.1 to 5. */
    readonly incrementFactor: number;
    /** Multiply once this many more things were notified. @default - only `afterSucceeded` */
    readonly afterNotified?: number;
    /** Multiply once this many more things succeeded. @default - only `afterNotified` */
    readonly afterSucceeded?: number;
  };
}

/** When AWS IoT cancels the job: failures of a type reaching a share of the things notified. */
export interface JobAbortCriterion {
  readonly failureType: 'FAILED' | 'REJECTED' | 'TIMED_OUT' | 'ALL';
  /** Above 0 and at most 100, two decimals at most. */
  readonly thresholdPercentage: number;
  /** Things that must have been notified before the job may be canceled. */
  readonly minExecutedThings: number;
}

/** Retries of an execution that ended in a failure of this type. */
export interface JobRetry {
  readonly failureType: 'FAILED' | 'TIMED_OUT' | 'ALL';
  /** 0 to 10. */
  readonly numberOfRetries: number;
}

/** How a template's jobs run: rollout, abort criteria, timeout, retries (an environment's `jobs` config). */
export interface JobConfiguration {
  /** @default AWS's default: 1000 things a minute */
  readonly rollout?: JobRollout;
  /** @default none: the job runs to its end whatever fails */
  readonly abort?: readonly JobAbortCriterion[];
  /** An execution IN_PROGRESS longer than this ends TIMED_OUT; whole minutes, 1 minute to 7 days. @default none */
  readonly inProgressTimeout?: Duration;
  /** @default no retries */
  readonly retries?: readonly JobRetry[];
}

export interface JobTemplateProps extends JobConfiguration {
  /**
   * The template's ID. Its configuration is part of it (a short hash), because CloudFormation replaces a job
   * template on nearly any change ("AWS::IoT::JobTemplate": Update requires: Replacement) and cannot replace a
   * resource with a fixed name. @default - a name unique to the construct, with that hash
   */
  readonly jobTemplateIdPrefix?: string;
  readonly description: string;
  /**
   * The job document: what each device's jobs agent runs. String values of the form `${name}` are parameters
   * that `npm run fleet -- job start --document-parameters name=value` fills in (AWS IoT accepts
   * documentParameters only for its managed templates).
   */
  readonly document: Record<string, unknown>;
  /**
   * The role AWS IoT signs the document's presigned URL placeholders with (lib/presigned-url.ts), and how long they last
   * once a device asks for the document (60 s to 1 hour). @default - the document holds no presigned URL
   */
  readonly presignedUrls?: { readonly role: iam.IRole; readonly expiresIn: Duration };
}

/** An AWS IoT job template. */
export interface IJobTemplate extends IResource {
  /** @attribute */
  readonly jobTemplateId: string;
  /** @attribute */
  readonly jobTemplateArn: string;
  /** Lets `grantee` read the template (DescribeJobTemplate), as `job start` does before it makes a job. */
  grantRead(grantee: iam.IGrantable): iam.Grant;
}

abstract class JobTemplateBase extends Resource implements IJobTemplate {
  public abstract readonly jobTemplateId: string;
  public abstract readonly jobTemplateArn: string;

  public grantRead(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['iot:DescribeJobTemplate'], resourceArns: [this.jobTemplateArn] });
  }
}

const TEMPLATE_ID = /^[a-zA-Z0-9_-]{1,64}$/;
/** The parameters of a job document: whole string values `${name}`. */
export const DOCUMENT_PARAMETER = /^\$\{([a-zA-Z][a-zA-Z0-9_]*)\}$/;

/** The names of a document's parameters, in order of appearance. */
export function documentParameters(document: unknown): string[] {
  if (typeof document === 'string') return DOCUMENT_PARAMETER.test(document) ? [DOCUMENT_PARAMETER.exec(document)![1]] : [];
  if (typeof document !== 'object' || document === null) return [];
  return [...new Set(Object.values(document).flatMap(documentParameters))];
}

/** Checks a job configuration against AWS IoT Jobs' ranges; `where` names it in errors. */
export function validateJobConfiguration(configuration: JobConfiguration, where: string): void {
  const { rollout, abort = [], retries = [], inProgressTimeout } = configuration;
  if (rollout?.maximumPerMinute !== undefined) check(RULES.jobMaximumPerMinute, rollout.maximumPerMinute, `${where} rollout.maximumPerMinute`);
  const exponential = rollout?.exponential;
  if (exponential) {
    check(RULES.jobBaseRatePerMinute, exponential.baseRatePerMinute, `${where} rollout.exponential.baseRatePerMinute`);
    check(RULES.jobIncrementFactor, exponential.incrementFactor, `${where} rollout.exponential.incrementFactor`);
    if (exponential.afterNotified === undefined && exponential.afterSucceeded === undefined) throw new Error(`${where} rollout.exponential must give afterNotified or afterSucceeded`);
    if (exponential.afterNotified !== undefined) check(RULES.jobRateIncreaseThings, exponential.afterNotified, `${where} rollout.exponential.afterNotified`);
    if (exponential.afterSucceeded !== undefined) check(RULES.jobRateIncreaseThings, exponential.afterSucceeded, `${where} rollout.exponential.afterSucceeded`);
  }
  abort.forEach((criterion, index) => {
    check(RULES.jobAbortThresholdPercentage, criterion.thresholdPercentage, `${where} abort[${index}].thresholdPercentage`);
    check(RULES.jobAbortMinExecutedThings, criterion.minExecutedThings, `${where} abort[${index}].minExecutedThings`);
  });
  retries.forEach((retry, index) => check(RULES.jobRetries, retry.numberOfRetries, `${where} retries[${index}].numberOfRetries`));
  if (inProgressTimeout !== undefined) {
    const minutes = inProgressTimeout.toMinutes({ integral: false });
    check(RULES.jobInProgressTimeoutMinutes, minutes, `${where} inProgressTimeout (minutes)`);
  }
}

/**
 * An AWS IoT job template ("Job templates", AWS IoT Developer Guide): a job document with its rollout, abort
 * criteria, timeout and retries, from which an operator starts jobs for the fleet (`npm run fleet -- job start`).
 */
export class JobTemplate extends JobTemplateBase {
  /** A template made elsewhere, by ID. */
  public static fromJobTemplateId(scope: Construct, id: string, jobTemplateId: string): IJobTemplate {
    class Import extends JobTemplateBase {
      public readonly jobTemplateId = jobTemplateId;
      public readonly jobTemplateArn = iotArn(scope, 'jobtemplate', jobTemplateId);
    }
    return new Import(scope, id);
  }

  public readonly jobTemplateId: string;
  public readonly jobTemplateArn: string;
  /** The parameters its document takes (`${name}` values). */
  public readonly parameters: readonly string[];

  constructor(scope: Construct, id: string, props: JobTemplateProps) {
    super(scope, id);
    validateJobConfiguration(props, `JobTemplate ${id}`);
    if (props.presignedUrls) check(RULES.jobPresignedUrlSeconds, props.presignedUrls.expiresIn.toSeconds({ integral: false }), `JobTemplate ${id} presignedUrls.expiresIn (seconds)`);
    const document = JSON.stringify(props.document);
    this.parameters = documentParameters(props.document);
    const { rollout, abort, retries, inProgressTimeout, presignedUrls } = props;
    const properties = {
      description: props.description,
      document,
      // The L1 takes these as CloudFormation's own JSON (their type is `any`), so their keys are CloudFormation's.
      presignedUrlConfig: presignedUrls ? { RoleArn: presignedUrls.role.roleArn, ExpiresInSec: presignedUrls.expiresIn.toSeconds() } : undefined,
      jobExecutionsRolloutConfig: rollout ? {
        ...(rollout.maximumPerMinute !== undefined ? { MaximumPerMinute: rollout.maximumPerMinute } : {}),
        ...(rollout.exponential ? {
          ExponentialRolloutRate: {
            BaseRatePerMinute: rollout.exponential.baseRatePerMinute, IncrementFactor: rollout.exponential.incrementFactor,
            RateIncreaseCriteria: {
              ...(rollout.exponential.afterNotified !== undefined ? { NumberOfNotifiedThings: rollout.exponential.afterNotified } : {}),
              ...(rollout.exponential.afterSucceeded !== undefined ? { NumberOfSucceededThings: rollout.exponential.afterSucceeded } : {}),
            },
          },
        } : {}),
      } : undefined,
      abortConfig: abort?.length ? {
        CriteriaList: abort.map((criterion) => ({ Action: 'CANCEL', FailureType: criterion.failureType, ThresholdPercentage: criterion.thresholdPercentage, MinNumberOfExecutedThings: criterion.minExecutedThings })),
      } : undefined,
      timeoutConfig: inProgressTimeout ? { InProgressTimeoutInMinutes: inProgressTimeout.toMinutes() } : undefined,
      jobExecutionsRetryConfig: retries?.length ? { retryCriteriaList: retries.map((retry) => ({ failureType: retry.failureType, numberOfRetries: retry.numberOfRetries })) } : undefined,
    };
    // The role by its construct path: its ARN is a token, whose text changes with the tokens made before it.
    const hashed = { ...properties, presignedUrlConfig: presignedUrls ? { role: presignedUrls.role.node.path, expiresInSec: properties.presignedUrlConfig!.ExpiresInSec } : undefined };
    const hash = createHash('sha256').update(JSON.stringify(hashed)).digest('hex').slice(0, 8);
    const prefix = props.jobTemplateIdPrefix ?? Names.uniqueResourceName(this, { maxLength: 55, separator: '-', allowedSpecialCharacters: '_-' });
    const jobTemplateId = `${prefix}-${hash}`;
    if (!TEMPLATE_ID.test(jobTemplateId)) throw new Error(`JobTemplate ${id}: the ID '${jobTemplateId}' must match ${TEMPLATE_ID.source} (a prefix of at most 55 of [a-zA-Z0-9_-])`);
    const resource = new iot.CfnJobTemplate(this, 'Resource', { jobTemplateId, ...properties });
    this.jobTemplateId = jobTemplateId;
    this.jobTemplateArn = resource.attrArn;
  }
}
