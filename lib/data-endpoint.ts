import { CustomResource } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DATA_ENDPOINT_RESOURCE_TYPE } from './handlers/shadow-defaults';
import { ShadowDefaults } from './shadow-defaults';

/** The host devices connect to: the account's AWS IoT data endpoint. */
export interface IDataEndpoint {
  /** The endpoint's address, e.g. `a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com`. @attribute */
  readonly address: string;
}

export interface DataEndpointProps {
  /**
   * The shadow defaults whose handler resolves the endpoint: it needs the endpoint for its own shadow writes and
   * may call iot:DescribeEndpoint, so one function serves both instead of a second handler.
   */
  readonly resolver: ShadowDefaults;
}

/**
 * The account's iot:Data-ATS endpoint, resolved at deploy time with DescribeEndpoint ("Connecting devices to AWS
 * IoT", AWS IoT Developer Guide: the ATS endpoint is the one to use with Amazon Root CA 1); there is no
 * CloudFormation attribute for it.
 */
export class DataEndpoint extends Construct implements IDataEndpoint {
  /** An endpoint known in advance, such as a configurable endpoint's custom domain. */
  public static fromAddress(address: string): IDataEndpoint {
    return { address };
  }

  public readonly address: string;

  constructor(scope: Construct, id: string, props: DataEndpointProps) {
    super(scope, id);
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: props.resolver.handler.serviceToken,
      resourceType: DATA_ENDPOINT_RESOURCE_TYPE,
    });
    this.address = resource.getAttString('Address');
  }
}
