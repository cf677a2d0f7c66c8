import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KIT_FILES, validateSettings, writeKit } from '../../device/src/kit';

const settings = {
  endpoint: 'abc-ats.iot.eu-west-1.amazonaws.com', port: 8883, httpsPort: 8443, clientId: 'pi-fleet-SN1', thingName: 'pi-fleet-SN1',
  dataTopic: 'data/pi-fleet-SN1', shadowName: 'classic', caFile: 'AmazonRootCA1.pem',
};

describe('device.json', () => {
  test('keeps the shadow defaults a fleet device got from its provisioning template', () => {
    expect(validateSettings({ ...settings, shadowDesiredDefaults: { interval: 5 } }, 'device.json')).toMatchObject({ shadowDesiredDefaults: { interval: 5 } });
    expect(validateSettings(settings, 'device.json')).not.toHaveProperty('shadowDesiredDefaults');
  });

  test.each([
    [{ interval: 0 }, 'interval 0 rejected: must be a whole number of seconds from 1 to 3600'],
    [{ colour: 'red' }, 'unknown setting "colour" rejected: the only setting is interval'],
    ['{"interval":5}', 'desired state must be an object'],
  ])('refuses shadow defaults the device could not apply: %j', (shadowDesiredDefaults, why) => {
    expect(() => validateSettings({ ...settings, shadowDesiredDefaults }, 'device.json'))
      .toThrow(`device.json: shadowDesiredDefaults is ${JSON.stringify(shadowDesiredDefaults)} but must be an object of valid settings (${why}`);
  });
});

describe('writeKit', () => {
  const pems = { certificate: 'CERT', privateKey: 'KEY', ca: 'CA' };

  test('rewriting a kit with another CA (bootstrap --force --ca-file) leaves only that CA in it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kit-'));
    writeKit(dir, { ...settings, caFile: KIT_FILES.amazonRootCa }, pems, false);
    writeKit(dir, { ...settings, caFile: KIT_FILES.customCa }, { ...pems, ca: 'OTHER CA' }, true);
    expect(fs.readdirSync(dir).sort()).toEqual([KIT_FILES.customCa, KIT_FILES.certificate, KIT_FILES.settings, KIT_FILES.privateKey].sort());
    writeKit(dir, { ...settings, caFile: KIT_FILES.amazonRootCa }, pems, true);
    expect(fs.existsSync(path.join(dir, KIT_FILES.customCa))).toBe(false);
    expect(fs.statSync(path.join(dir, KIT_FILES.privateKey)).mode & 0o777).toBe(0o600);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
