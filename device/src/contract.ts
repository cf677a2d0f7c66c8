/**
 * Facts the stack and the device program must agree on, defined once here: the device package installs
 * alone (without the CDK), and the stack's constructs import these from it.
 */

/**
 * Claim sessions connect as `<prefix><serial>`, a client-ID namespace of their own: AWS IoT disconnects a
 * connection when another connects with the same client ID (AWS IoT Developer Guide, "MQTT"), so a claim
 * key allowed to use devices' client IDs could knock any device offline. No thing may be named with it.
 */
export const CLAIM_CLIENT_ID_PREFIX = 'claim-';

/**
 * The key of RegisterThing's `deviceConfiguration` (string values only) under which a fleet's provisioning
 * template sends the shadow's desired defaults, as a JSON object in a string.
 */
export const SHADOW_DEFAULTS_CONFIGURATION_KEY = 'ShadowDesiredDefaults';
