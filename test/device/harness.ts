import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MqttClient } from 'mqtt';
import { Kit } from '../../device/src/kit';
import { LocalKitOptions, LocalSandbox, LocalSandboxOptions, startLocalSandbox } from '../../sandbox';
import { CertificateRecord, IotControlPlane } from '../../sandbox/iot-control-plane';
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

/** The local sandbox plus an observer with console rights that keeps everything on data/# and the shadows. */
export class Sandbox {
  private constructor(private readonly base: LocalSandbox, readonly observer: Observer) {}

  static async start(options: LocalSandboxOptions = {}): Promise<Sandbox> {
    const base = await startLocalSandbox(options);
    const observerClient = await base.broker.connectAs('console');
    await observerClient.subscribeAsync(['data/#', '$aws/things/+/shadow/#'], { qos: 1 });
    return new Sandbox(base, new Observer(observerClient));
  }

  get broker(): Broker { return this.base.broker; }
  get shadow(): ShadowService { return this.base.shadow; }
  get dir(): string { return this.base.dir; }
  get registry(): IotControlPlane { return this.base.registry; }

  /** The certificate registered for `thingName` (its first principal). */
  certificateOf(thingName: string): CertificateRecord {
    return this.registry.describeCertificate(this.registry.describeThing(thingName).certificateIds[0]);
  }
  get local(): LocalSandbox { return this.base; }

  /** A kit as `iot-device bootstrap` writes it, issued by the sandbox CA for `thingName`. */
  kit(thingName: string, overrides: LocalKitOptions = {}): Kit {
    return this.base.kit(thingName, overrides);
  }

  shadowOf(thingName: string): { state: Record<string, any>; version: number } | undefined {
    return this.base.shadowOf(thingName);
  }

  async stop(): Promise<void> {
    await this.observer.client.endAsync();
    await this.base.stop();
  }
}

/**
 * A copy of a kit outside /tmp and /var/tmp, where a systemd service sees it (its unit sets PrivateTmp=yes):
 * under /dev/shm where there is one. The caller removes it.
 */
export function kitOutsideTmp(kit: Kit): Kit {
  const dir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.homedir(), 'iot-kit-'));
  fs.cpSync(kit.dir, dir, { recursive: true });
  const at = (file: string) => path.join(dir, path.relative(kit.dir, file));
  return { ...kit, dir, certificatePath: at(kit.certificatePath), privateKeyPath: at(kit.privateKeyPath), caPath: at(kit.caPath) };
}
