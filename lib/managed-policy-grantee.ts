import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * Lets the `grantXxx` methods of constructs write into a customer managed policy, which operators then
 * attach to the users or roles they choose (an SSO permission set's role, a CI role): the grants stay
 * those of the constructs, and nobody writes the policy by hand.
 */
export class ManagedPolicyGrantee implements iam.IGrantable {
  public readonly grantPrincipal: iam.IPrincipal;

  constructor(public readonly policy: iam.ManagedPolicy) {
    this.grantPrincipal = new ManagedPolicyPrincipal(policy);
  }
}

class ManagedPolicyPrincipal extends iam.PrincipalBase {
  public readonly principalAccount: string | undefined;

  constructor(private readonly policy: iam.ManagedPolicy) {
    super();
    this.principalAccount = policy.stack.account;
  }

  /** A managed policy is no principal of its own: nothing may trust it. */
  public get policyFragment(): iam.PrincipalPolicyFragment {
    throw new Error(`Managed policy ${this.policy.node.path} is not a principal: it cannot appear in a trust or resource policy`);
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.policy };
  }

  public dedupeString(): string | undefined {
    return `ManagedPolicyPrincipal:${this.policy.node.addr}`;
  }
}
