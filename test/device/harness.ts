import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MqttClient } from 'mqtt';
import { Kit } from '../../device/src/kit';
import { LocalKitOptions, writeLocalKit } from '../../sandbox/local-kit';
import { Broker } from '../../sandbox/mosquitto';
import { ShadowService } from '../../sandbox/shadow-service';

export interface Received {
  readonly topic: string;
  readonly payload: string;
  readonly at: number;
}

/** A console-like observer: subscribes to everything and keeps what arrives. */
export class Observer {
  readonly messages: Received[] = [];
  private waiters: Array<() => void> = [];

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      this.messages.push({ topic, payload: payload.toString('utf8'), at: Date.now() });
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  on(topic: string): Received[] {
    return this.messages.filter((message) => message.topic === topic);
  }

  /** Resolves when `done` holds for what has arrived (checked at every message). */
  async until<T>(done: () => T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = done();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; received ${this.messages.length} messages`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }
}

/** A broker, the shadow service, an observer with console rights, and a kit per thing. */
export class Sandbox {
  private constructor(readonly broker: Broker, readonly shadow: ShadowService, readonly observer: Observer, readonly dir: string) {}

  static async start(): Promise<Sandbox> {
    const broker = await Broker.start();
    const shadow = await ShadowService.start(broker);
    const observerClient = await broker.connectAs('console');
    await observerClient.subscribeAsync(['data/#', '$aws/things/+/shadow/#'], { qos: 1 });
    return new Sandbox(broker, shadow, new Observer(observerClient), fs.mkdtempSync(path.join(os.tmpdir(), 'iot-kits-')));
  }

  /** A kit as `iot-device bootstrap` writes it, issued by the sandbox CA for `thingName`. */
  kit(thingName: string, overrides: LocalKitOptions = {}): Kit {
    return writeLocalKit(this.broker, path.join(this.dir, thingName), thingName, overrides);
  }

  /** The shadow document as the service holds it (through a get on the store), or undefined. */
  shadowOf(thingName: string): { state: Record<string, any>; version: number } | undefined {
    const [response] = this.shadow.store.handle(`$aws/things/${thingName}/shadow/get`, '{}');
    return response.topic.endsWith('/accepted') ? JSON.parse(response.payload) : undefined;
  }

  async stop(): Promise<void> {
    await this.observer.client.endAsync();
    await this.shadow.stop();
    await this.broker.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
