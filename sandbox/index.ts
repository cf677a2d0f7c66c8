/**
 * The local sandbox's front door: what scenarios, tests, benchmarks and scripts use. Start one from a
 * synthesized template with startLocalSandbox; the stand-ins behind it (broker, shadow service, HTTPS
 * endpoint, rule engine, S3-compatible server, AWS API stand-ins, fleet provisioning, IoT control plane)
 * live in their own files, the helpers they share in errors.ts, ports.ts, pki.ts and resolved-template.ts.
 */
export { startLocalSandbox } from './local-kit';
export type { LocalKitOptions, LocalSandbox, LocalSandboxOptions } from './local-kit';
export { environmentTemplate, synthesizeTemplates } from './templates';
export type { Template } from './templates';
export { NotSupportedError } from './errors';
export { freePort } from './ports';
export { S3_CREDENTIALS } from './s3-server';
export { MosquittoMissing } from './mosquitto';
export type { RuleOutcome } from './rule-engine';
export { waitFor } from './wait';
