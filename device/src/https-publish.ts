/**
 * Publishing over HTTPS: POST https://<endpoint>:8443/topics/<url-encoded topic>?qos=1 with the
 * device certificate (AWS IoT Developer Guide, "HTTPS" and "Device communication protocols"); on port 443 AWS IoT needs ALPN x-amzn-http-ca, on 8443 none.
 */
import * as https from 'https';
import { checkPayloadSize } from './connection';
import { preflight } from './certificate';
import { CERTIFICATE_REFUSED_HINT, DeviceError, EXIT, explainConnectionError } from './errors';
import { Kit, KitPems } from './kit';

export function publishHttps(kit: Kit, pems: KitPems, topic: string, payload: string): Promise<number> {
  try {
    checkPayloadSize(payload);
    preflight(kit, pems);
  } catch (error) {
    return Promise.reject(error);
  }
  const size = Buffer.byteLength(payload);
  return new Promise((resolve, reject) => {
    const request = https.request({
      host: kit.endpoint,
      port: kit.httpsPort,
      method: 'POST',
      path: `/topics/${encodeURIComponent(topic)}?qos=1`,
      key: pems.privateKey,
      cert: pems.certificate,
      ca: pems.ca,
      servername: kit.endpoint,
      agent: kit.httpsPort === 443 ? new https.Agent({ ALPNProtocols: ['x-amzn-http-ca'] }) : undefined,
      headers: { 'content-type': 'application/json', 'content-length': size },
      timeout: 15_000,
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => { body += chunk; });
      response.on('end', () => {
        if (response.statusCode === 200) return resolve(200);
        reject(new DeviceError(`HTTPS publish to ${topic} answered ${response.statusCode}: ${body.slice(0, 300)}`,
          response.statusCode === 403 ? EXIT.notAuthorized : EXIT.unexpected,
          response.statusCode === 403 ? (topic === kit.dataTopic ? `It is the device's own data topic. ${CERTIFICATE_REFUSED_HINT}` : `Check that the policy allows iot:Publish on topic ${topic}`) : 'Run iot-device doctor'));
      });
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    request.on('error', (error) => reject(explainConnectionError(error, kit.endpoint, kit.httpsPort)));
    request.end(payload);
  });
}
