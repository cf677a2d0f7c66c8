// On Node 20 the AWS SDK warns, once per process, that its releases after the first week of January 2027 need
// Node 22 (the README says so once, under Requirements). npm test starts dozens of processes that load it; the
// variable is the SDK's own switch for that warning (@aws-sdk/core, emitWarningIfUnsupportedVersion).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
