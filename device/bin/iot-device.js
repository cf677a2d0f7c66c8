#!/usr/bin/env node
'use strict';
// The installed command: npm links it as `iot-device`, so the CLI is started here, never by
// guessing from process.argv how the process was launched.
let cli;
try {
  cli = require('../dist/cli.js');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && /dist[\\/]cli\.js/.test(error.message)) {
    console.error('iot-device is not built yet: run `npm install` (or `npm run build`) in the device/ folder.');
    process.exit(1);
  }
  throw error;
}
cli.main(process.argv);
