#!/usr/bin/env node
'use strict';
try {
  require('../dist/cli.js');
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && /dist[\\/]cli\.js/.test(error.message)) {
    console.error('iot-device is not built yet: run `npm install` (or `npm run build`) in the device/ folder.');
    process.exit(1);
  }
  throw error;
}
