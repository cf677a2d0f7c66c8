/**
 * `npm start [-- --keep]`: synthesizes every environment and plays the seed's hands-on offline on a
 * local sandbox (see sandbox/scenarios/seed-flow.ts). Needs no AWS account and no network.
 */
import { MosquittoMissing } from '../sandbox/mosquitto';
import { runSeedFlow } from '../sandbox/scenarios/seed-flow';

const started = Date.now();
runSeedFlow({ keep: process.argv.includes('--keep') }).then((result) => {
  const tens = result.statuses.filter((s) => s.interval === 10).length;
  console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(0)} s: ${result.environments.length} environments synthesized; `
    + `${result.statuses.length} status messages (${tens} at 10 s after the shadow edit); reported ${JSON.stringify(result.reported)}; `
    + `${result.objects.length} object${result.objects.length === 1 ? '' : 's'} archived; fleet device ${result.fleetDevice.thingName} provisioned by claim, `
    + `${result.fleetDevice.archived.length} of its messages archived, its shadow ${JSON.stringify(result.fleetDevice.shadow?.desired)}. Everything started has been stopped.`);
}, (error: unknown) => {
  console.error(error instanceof MosquittoMissing ? error.message : `npm start failed: ${(error as Error).stack ?? error}`);
  process.exitCode = 1;
});
