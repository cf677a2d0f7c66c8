import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runSeedFlow } from '../sandbox/seed-flow';

/** The `npm start` flow with time compressed: a device second lasts 40 ms. */
const MS_PER_SECOND = 40;

test('npm start flow: default interval, interval change on the wire and in the shadow, exactly the matching payload archived', async () => {
  const localDir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-'));
  const lines: string[] = [];
  const result = await runSeedFlow({ localDir, msPerSecond: MS_PER_SECOND, say: (line) => lines.push(line) });

  expect(result.environments.map((env) => env.stackName).sort()).toEqual(['IotCore-dev', 'IotCore-prod', 'IotCore-stg']);
  // Messages at the default interval, then at 10 s once desired changed; device timestamps show the spacing.
  const fives = result.statuses.filter((s) => s.interval === 5);
  const tens = result.statuses.filter((s) => s.interval === 10);
  expect(fives.length).toBeGreaterThanOrEqual(2);
  expect(tens.length).toBeGreaterThanOrEqual(2);
  expect(fives[1].timestamp - fives[0].timestamp).toBeGreaterThanOrEqual(5 * MS_PER_SECOND - 5);
  expect(tens[1].timestamp - tens[0].timestamp).toBeGreaterThanOrEqual(10 * MS_PER_SECOND - 5);
  expect(result.statuses.findIndex((s) => s.interval === 10)).toBeGreaterThan(result.statuses.findIndex((s) => s.interval === 5));
  expect(result.reported).toEqual({ interval: 10 });

  // Exactly the matching payload, under a key that cannot repeat; the non-matching one wrote nothing.
  expect(result.objects).toEqual([{ key: expect.stringMatching(/^archive\/data\/pi-dev-01\/\d{13}-[0-9a-f-]{36}\.json$/), body: '{"name":"s3"}' }]);
  expect(result.evaluated.map((m) => m.payload)).toEqual(expect.arrayContaining(['{"name":"s3"}', '{"name":"not-s3"}']));

  expect(lines.join('\n')).toMatch(/interval changed from=5 to=10/);
  expect(lines.join('\n')).toMatch(/stopped published=\d+/);
  // Nothing it started is left: no process refers to its folder (the broker's config lives there).
  const leftovers = fs.readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(localDir);
    } catch {
      return false;
    }
  });
  expect(leftovers).toEqual([]);
  fs.rmSync(localDir, { recursive: true, force: true });
});
