/**
 * A real Mosquitto broker for the sandbox and the tests: MQTT 5 with mutual TLS on a free loopback
 * port, client identity = certificate CN, and an ACL generated from the template's IoT policies. Where
 * Mosquitto is missing it is installed when that can be done without asking (apt-get as root or with
 * password-less sudo, Homebrew on macOS); otherwise the error names the command to run.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { CertificateAuthority, createCertificateAuthority, createCrl, Issued } from './pki';
import { freePort } from './ports';

const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/opt/homebrew/sbin/mosquitto', '/usr/bin/mosquitto'];

/** An MQTT client connected with `options`, once its first CONNACK arrives. */
export async function connectWith(options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(options);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}

export class MosquittoMissing extends Error {
  constructor(command: string) {
    super(`Mosquitto (the local MQTT broker) is not installed and could not be installed automatically: run \`${command}\`, then try again.`);
    this.name = 'MosquittoMissing';
  }
}

function onPath(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

export function findMosquitto(): string | undefined {
  return onPath('mosquitto') ?? CANDIDATES.find((candidate) => fs.existsSync(candidate));
}

/** The broker's path, installing it first where that needs no password. */
export function ensureMosquitto(say: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const found = findMosquitto();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  const run = (command: string) => spawnSync('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'inherit'] }).status === 0;
  if (process.platform === 'darwin') {
    if (onPath('brew')) {
      say('Mosquitto is missing: installing it with Homebrew (brew install mosquitto)...');
      if (run('brew install mosquitto')) return findMosquitto() ?? failMissing('brew install mosquitto');
    }
    return failMissing('brew install mosquitto');
  }
  if (onPath('apt-get')) {
    const sudo = isRoot ? '' : run('sudo -n true') ? 'sudo -n ' : undefined;
    if (sudo !== undefined) {
      say('Mosquitto is missing: installing it with apt-get (Debian package mosquitto)...');
      if (run(`${sudo}apt-get install -y -qq mosquitto || (${sudo}apt-get update -qq && ${sudo}apt-get install -y -qq mosquitto)`)) {
        return findMosquitto() ?? failMissing('sudo apt-get install -y mosquitto');
      }
    }
    return failMissing('sudo apt-get install -y mosquitto');
  }
  return failMissing('install the mosquitto package of your system');
}

function failMissing(command: string): never {
  throw new MosquittoMissing(command);
}


export interface BrokerOptions {
  /** The ACL file's content: who may publish and subscribe to what (IotRegistry.mosquittoAcl). */
  readonly acl: string;
  /** Folder for config, certificates and log. @default a new temporary folder */
  readonly dir?: string;
  /** @default a new CA */
  readonly ca?: CertificateAuthority;
  /** @default a free port */
  readonly port?: number;
}

export class Broker {
  private process?: ChildProcess;

  private constructor(
    readonly binary: string, readonly dir: string, readonly port: number, readonly ca: CertificateAuthority,
    /** The certificate for localhost and 127.0.0.1 the broker serves, which the sandbox's other loopback servers serve too. */
    readonly serverCertificate: Issued,
  ) {}

  static async start(options: BrokerOptions): Promise<Broker> {
    const binary = ensureMosquitto();
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mosquitto-'));
    fs.mkdirSync(dir, { recursive: true });
    const ca = options.ca ?? createCertificateAuthority();
    const server = ca.issue('localhost', { altNames: ['localhost', '127.0.0.1'] });
    const write = (file: string, content: string, mode = 0o600) => fs.writeFileSync(path.join(dir, file), content, { mode });
    write('ca.pem', ca.certificatePem, 0o644);
    write('server.pem', server.certificatePem, 0o644);
    write('server.key', server.privateKeyPem);
    write('acl', options.acl);
    // A CRL from the start: revoking a certificate rewrites it and restarts the broker (setRevoked).
    write('crl.pem', await createCrl(ca, []), 0o644);
    const broker = new Broker(binary, dir, options.port ?? await freePort(), ca, server);
    write('mosquitto.conf', [
      // When started as root, Mosquitto would switch to user "mosquitto", which cannot read this folder.
      `user ${os.userInfo().username}`,
      'per_listener_settings false',
      // Sessions and their queued QoS 1 messages survive a restart (pause, resume), as AWS IoT keeps a persistent
      // session's messages while its client is away; clean sessions, which devices use, are not kept.
      'persistence true',
      // The sandbox's own subscribers (the rule engine, observers) must not lose a message when they fall behind,
      // as the AWS IoT rules engine does not: no cap on a client's queue (Mosquitto drops past 1,000 by default).
      // Devices use clean sessions and read only their shadow's answers, which no cap concerns.
      'max_queued_messages 0',
      `persistence_location ${dir}${path.sep}`,
      'persistence_file mosquitto.db',
      `log_dest file ${path.join(dir, 'mosquitto.log')}`,
      'log_type error', 'log_type warning', 'log_type notice',
      'allow_anonymous false',
      `acl_file ${path.join(dir, 'acl')}`,
      `listener ${broker.port} 127.0.0.1`,
      `cafile ${path.join(dir, 'ca.pem')}`,
      `certfile ${path.join(dir, 'server.pem')}`,
      `keyfile ${path.join(dir, 'server.key')}`,
      'require_certificate true',
      `crlfile ${path.join(dir, 'crl.pem')}`,
      'use_identity_as_username true',
      'tls_version tlsv1.2',
      // Small MQTT packets both ways: without it, Nagle and delayed ACKs add ~40 ms to each round trip.
      'set_tcp_nodelay true',
      '',
    ].join('\n'), 0o644);
    await broker.resume();
    return broker;
  }

  /** The broker process's ID while it runs (for its CPU and memory), else undefined. */
  get pid(): number | undefined {
    return this.process?.exitCode === null ? this.process.pid : undefined;
  }

  /** The PEM file of the CA that signed the broker's certificate (what `bootstrap --ca-file` takes). */
  get caFile(): string {
    return path.join(this.dir, 'ca.pem');
  }

  /** A client certificate with CN = identity (a thing name or a service identity of the ACL). */
  issueClient(identity: string): Issued {
    return this.ca.issue(identity);
  }

  /** One certificate per identity for connectAs. */
  private readonly connectCertificates = new Map<string, Issued>();

  /**
   * The options of an MQTT 5 client with a certificate of `identity` (a thing name, or a service identity of the
   * ACL), for a client in another process. `persistentSession`: the broker keeps its subscriptions and queues its
   * QoS 1 messages while it is away, across a broker restart too, for an observer that must miss nothing.
   */
  clientOptions(identity: string, clientId = `${identity}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, options: { persistentSession?: boolean } = {}): IClientOptions {
    const issued = this.connectCertificates.get(identity) ?? this.issueClient(identity);
    this.connectCertificates.set(identity, issued);
    return {
      protocol: 'mqtts', host: 'localhost', port: this.port, protocolVersion: 5, clientId,
      key: issued.privateKeyPem, cert: issued.certificatePem, ca: this.ca.certificatePem, reconnectPeriod: 200,
      ...(options.persistentSession ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : {}),
    };
  }

  /** An MQTT 5 client connected as clientOptions() describes. */
  async connectAs(identity: string, clientId?: string, options: { persistentSession?: boolean } = {}): Promise<MqttClient> {
    return connectWith(this.clientOptions(identity, clientId, options));
  }

  /** Starts (or restarts) the broker process and waits until it accepts connections. */
  async resume(): Promise<void> {
    const child = spawn(this.binary, ['-c', path.join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk) => { stderr += chunk; });
    this.process = child;
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill();
        const log = fs.existsSync(path.join(this.dir, 'mosquitto.log')) ? fs.readFileSync(path.join(this.dir, 'mosquitto.log'), 'utf8') : '';
        throw new Error(`Mosquitto did not start on 127.0.0.1:${this.port}: ${stderr}${log}`.trim());
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private revoked: readonly string[] = [];

  /** The CRL the broker checks client certificates against (PEM). */
  get crlPem(): string {
    return fs.readFileSync(path.join(this.dir, 'crl.pem'), 'utf8');
  }

  /**
   * Refuses the certificates with these serial numbers (hex) from now on: a new CRL, and a restart that
   * drops their connections, as AWS IoT disconnects the devices of a certificate that is no longer ACTIVE
   * ("UpdateCertificate", AWS IoT API Reference). Every other client reconnects.
   */
  async setRevoked(serials: readonly string[]): Promise<void> {
    if (serials.length === this.revoked.length && serials.every((serial) => this.revoked.includes(serial))) return;
    this.revoked = [...serials];
    fs.writeFileSync(path.join(this.dir, 'crl.pem'), await createCrl(this.ca, serials), { mode: 0o644 });
    if (this.process) {
      await this.pause();
      await this.resume();
    }
  }

  /** Stops the broker process (the broker can be resumed on the same port). */
  async pause(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  /** Stops the broker and removes its folder. */
  async stop(): Promise<void> {
    await this.pause();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
