import { badKitMatrix, expectedOutcome, outageExperiment, shadowFuzz } from '../sandbox/scenarios/faults';
import { LocalSandbox, startLocalSandbox } from '../sandbox';

let sandbox: LocalSandbox;
beforeAll(async () => { sandbox = await startLocalSandbox(); });
afterAll(async () => { await sandbox.stop(); });

describe('faults (the short form of npm run reliability)', () => {
  test('a broker outage and a SIGKILL lose no status message', async () => {
    const result = await outageExperiment(sandbox, { outageMs: 2000, msPerSecond: 40, settleMs: 500 });
    expect(result.missing).toEqual([]);
    expect(result.produced).toBeGreaterThan(10);
    expect(result.received + result.stillSpooled).toBe(result.produced);
  });

  test('fuzzed desired documents: no crash, every invalid value rejected and reported, every valid one applied', async () => {
    const result = await shadowFuzz(sandbox, 150, 7);
    expect(result.mismatches).toEqual([]);
    expect(result.deviceRunning).toBe(true);
    // Every document that reached the device was either applied or rejected and reported: none is left uncounted.
    expect(result.applied + result.rejectedAndReported).toBe(result.deliveredToDevice);
    expect(result.deliveredToDevice + result.noDelta + Object.values(result.rejectedByShadowService).reduce((sum, n) => sum + n, 0)).toBe(result.documents);
    expect(result.applied).toBeGreaterThan(5);
    expect(result.rejectedAndReported).toBeGreaterThan(50);
    expect(Object.keys(result.rejectedByShadowService).length).toBeGreaterThan(0);
  });

  test('the fuzz oracle itself', () => {
    expect(expectedOutcome({ interval: 10 }, 5)).toEqual({ interval: 10, rejected: false });
    expect(expectedOutcome({ interval: '10' }, 5)).toEqual({ interval: 5, rejected: true });
    expect(expectedOutcome({ interval: 7, color: 'red' }, 5)).toEqual({ interval: 7, rejected: true });
    expect(expectedOutcome({ color: 'red' }, 5)).toEqual({ interval: 5, rejected: true });
  });

  test('each broken kit gets its own exit code, a one-line error and the matching doctor finding', async () => {
    const cases = await badKitMatrix(sandbox);
    const summary = Object.fromEntries(cases.map((c) => [c.name, [c.exitCode, c.doctorExitCode]]));
    expect(summary).toEqual({
      'certificate file missing': [10, 20],
      'private key unreadable (a folder in its place)': [12, 20],
      'key and certificate do not match': [13, 20],
      'certificate not yet valid (clock behind)': [15, 20],
      'certificate expired': [15, 20],
      'wrong CA in the kit': [14, 20],
      'endpoint unreachable': [16, 20],
    });
    for (const c of cases) {
      expect(c.error).toMatch(/^iot-device: [^\n]+$/);
    }
    const finding = (name: string) => cases.find((c) => c.name === name)!.doctorFinding;
    expect(finding('certificate file missing')).toMatch(/^FAIL kit files: Kit file not found/);
    expect(finding('key and certificate do not match')).toMatch(/^FAIL certificate and key/);
    expect(finding('certificate not yet valid (clock behind)')).toMatch(/^FAIL clock: the device clock is behind/);
    expect(finding('certificate expired')).toMatch(/^FAIL clock: the certificate has expired/);
    expect(finding('wrong CA in the kit')).toMatch(/^FAIL TLS handshake: .*not signed by the CA in the kit/);
    expect(finding('endpoint unreachable')).toMatch(/^FAIL TCP \d+ \(MQTT\): .*ECONNREFUSED/);
  });
});
