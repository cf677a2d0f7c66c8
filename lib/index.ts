/**
 * The constructs of this project, for reuse in other CDK apps: a device policy built on policy
 * variables, a thing, a certificate whose private key is kept in Secrets Manager, a hardened archive
 * bucket and topic rule, shadow defaults, and the stack that puts them together per environment.
 */
export * from './archive-bucket';
export * from './archive-rule';
export * from './certificate-provider';
export * from './custom-resource-handler';
export * from './data-endpoint';
export { HANDLER_RUNTIME } from './handler-function';
export * from './device-certificate';
export * from './device-monitoring';
export * from './device-policy';
export * from './device-jobs-policy';
export * from './device-thing';
export * from './https-publish-policy';
export * from './iot-policy';
export * from './iot-core-stack';
export * from './shadow-defaults';
export * from './managed-policy-grantee';
export * from './fleet-provisioning';
export * from './job-template';
export * from './thing-group-membership';
