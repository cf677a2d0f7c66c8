/**
 * Snapshot serializer: replaces asset hashes (64 hex characters, in S3 keys and asset paths) with a
 * placeholder, so a snapshot changes only when the template does, not when a handler's bundle does.
 */
const ASSET_HASH = /[0-9a-f]{64}/;
module.exports = {
  test: (value) => typeof value === 'string' && ASSET_HASH.test(value),
  serialize: (value) => JSON.stringify(value.replace(new RegExp(ASSET_HASH.source, 'g'), '[ASSET HASH]')),
};
