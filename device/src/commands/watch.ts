/** `iot-device watch`: prints what arrives, like the console's MQTT test client. */
import { connect, disconnect } from '../connection';
import { readPems } from '../kit';
import { shadowTopic, shadowUpdatesFilter, subscriptionRefused } from '../shadow';
import { CommandContext, GlobalOptions, kitFrom, untilSignal, warnIfRunning } from './options';

export interface WatchOptions {
  readonly topic?: string;
  readonly count?: number;
}

export async function watchCommand(globals: GlobalOptions, options: WatchOptions, context: CommandContext): Promise<void> {
  const kit = kitFrom(globals);
  // The device policy lets a device subscribe only to its own shadow's responses, not to its data
  // topic: watching data topics needs an identity allowed to subscribe to them (--topic, another kit).
  const filter = options.topic ?? shadowUpdatesFilter(kit.thingName, kit.shadowName);
  warnIfRunning(kit, 'watch', context);
  const client = await connect(kit, readPems(kit), { log: context.log });
  const granted = await client.subscribeAsync(filter, { qos: 1 });
  if (granted.some((grant) => grant.qos > 2)) {
    await disconnect(client);
    throw subscriptionRefused([filter], shadowTopic(kit.thingName, kit.shadowName));
  }
  context.log.info('watching', { filter });
  let received = 0;
  await new Promise<void>((resolve) => {
    client.on('message', (topic, payload) => {
      // Messages already on their way when the count is reached are not printed: --count N prints N.
      if (options.count && received >= options.count) return;
      context.print(globals.json ? `${JSON.stringify({ topic, payload: payload.toString('utf8') })}\n` : `${topic} ${payload.toString('utf8')}\n`);
      if (options.count && ++received >= options.count) resolve();
    });
    untilSignal().then(() => resolve());
  });
  await disconnect(client);
}
