#!/usr/bin/env node
'use strict';
// The installed command: npm links it as `iot-device`, so the CLI is started here, never by
// guessing from process.argv how the process was launched.
const fs = require('fs');
const path = require('path');
// Not built: dist/cli.js itself is missing. A module it needs that is missing is another error, shown whole.
if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'cli.js'))) {
  console.error('iot-device is not built yet: run `npm install` (or `npm run build`) in the device/ folder.');
  process.exit(1);
}
const cli = require('../dist/cli.js');
cli.main(process.argv);
