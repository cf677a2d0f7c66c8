// Baseline of bench/device: the least a device program can do with MQTT.js, with the same kit.
// argv: <kit dir> <publish|hold>
'use strict';
const fs = require('fs');
const path = require('path');
const mqtt = require('mqtt');

const [kitDir, mode] = process.argv.slice(2);
const settings = JSON.parse(fs.readFileSync(path.join(kitDir, 'device.json'), 'utf8'));
const client = mqtt.connect({
  protocol: 'mqtts', host: settings.endpoint, port: settings.port, protocolVersion: 5, clientId: `${settings.clientId}`,
  key: fs.readFileSync(path.join(kitDir, 'private.pem.key')), cert: fs.readFileSync(path.join(kitDir, 'certificate.pem.crt')),
  ca: fs.readFileSync(path.join(kitDir, settings.caFile)),
});
client.on('connect', () => {
  if (mode === 'publish') {
    client.publish(settings.dataTopic, '{"name":"s3"}', { qos: 1 }, () => client.end());
  } else {
    process.stdout.write('connected\n');
  }
});
