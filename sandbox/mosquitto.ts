/**
 * A real Mosquitto broker for the sandbox and the tests: MQTT 5 and 3.1.1 with mutual TLS on a free loopback
 * port, every connection, publish, subscription and delivery decided by the sandbox's registry through the
 * plugin sandbox/broker-plugin/iot-authorizer.c (sandbox/broker-authorizer.ts). Where Mosquitto, or what the
 * plugin is built with (a C compiler, Mosquitto's and OpenSSL's headers), is missing it is installed when that
 * can be done without asking (apt-get as root or with password-less sudo, Homebrew on macOS); otherwise the
 * error names the command to run.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import mqtt, { IClientOptions, MqttClient } from 'mqtt';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import type { BrokerAuthorizer, ServiceIdentity } from './broker-authorizer';
import { CertificateAuthority, Issued } from './pki';
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
  constructor(command: string, what = 'Mosquitto (the local MQTT broker) is not installed') {
    super(`${what} and could not be installed automatically: run \`${command}\`, then try again.`);
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

/**
 * Installs packages where that needs no password: `brew` formulas on macOS, Debian packages with apt-get as root
 * or with password-less sudo. Returns whether it ran; `done` says whether what was needed is there now.
 */
function install(what: string, apt: string, brew: string, done: () => boolean, say: (line: string) => void): boolean {
  const isRoot = process.getuid?.() === 0;
  const run = (command: string) => spawnSync('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'inherit'] }).status === 0;
  if (process.platform === 'darwin') {
    if (!onPath('brew')) return false;
    say(`${what} is missing: installing it with Homebrew (brew install ${brew})...`);
    return run(`brew install ${brew}`) && done();
  }
  if (!onPath('apt-get')) return false;
  const sudo = isRoot ? '' : run('sudo -n true') ? 'sudo -n ' : undefined;
  if (sudo === undefined) return false;
  say(`${what} is missing: installing it with apt-get (Debian packages ${apt})...`);
  return run(`${sudo}apt-get install -y -qq ${apt} || (${sudo}apt-get update -qq && ${sudo}apt-get install -y -qq ${apt})`) && done();
}

const installCommand = (apt: string, brew: string) => (process.platform === 'darwin' ? `brew install ${brew}` : `sudo apt-get install -y ${apt}`);

/** The broker's path, installing it first where that needs no password. */
export function ensureMosquitto(say: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const found = findMosquitto();
  if (found) return found;
  if (install('Mosquitto', 'mosquitto', 'mosquitto', () => findMosquitto() !== undefined, say)) return findMosquitto()!;
  throw new MosquittoMissing(installCommand('mosquitto', 'mosquitto'));
}

const PLUGIN_SOURCE = path.join(__dirname, 'broker-plugin', 'iot-authorizer.c');
const PLUGIN_PACKAGES = { apt: 'gcc libc6-dev mosquitto-dev libmosquitto-dev libssl-dev', brew: 'mosquitto openssl@3' };

/** Compiler flags for Mosquitto's and OpenSSL's headers and libcrypto (Homebrew keeps them under its prefix). */
function pluginFlags(): string[] {
  if (process.platform !== 'darwin') return ['-lcrypto'];
  const prefix = (formula: string) => spawnSync('brew', ['--prefix', formula], { encoding: 'utf8' }).stdout?.trim();
  return [`-I${prefix('mosquitto')}/include`, `-I${prefix('openssl@3')}/include`, `-L${prefix('openssl@3')}/lib`, '-lcrypto', '-undefined', 'dynamic_lookup'];
}

/**
 * The authorizer plugin, compiled once per source version into the temporary folder (a few hundred milliseconds),
 * installing the compiler and headers first where that needs no password.
 */
export function ensureAuthorizerPlugin(say: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const source = fs.readFileSync(PLUGIN_SOURCE);
  const library = path.join(os.tmpdir(), `iot-core-cdk-authorizer-${createHash('sha256').update(source).update(process.platform).digest('hex').slice(0, 16)}.so`);
  if (fs.existsSync(library)) return library;
  const compile = () => {
    // Written beside and renamed: two test workers may build it at once.
    const partial = `${library}.${process.pid}`;
    const built = spawnSync('cc', ['-O2', '-shared', '-fPIC', '-o', partial, PLUGIN_SOURCE, ...pluginFlags()], { encoding: 'utf8' });
    if (built.status !== 0) return built.stderr || built.error?.message || 'cc failed';
    fs.renameSync(partial, library);
    return undefined;
  };
  let failure = compile();
  if (failure && install('What the broker plugin is built with', PLUGIN_PACKAGES.apt, PLUGIN_PACKAGES.brew, () => true, say)) failure = compile();
  if (failure) {
    throw new MosquittoMissing(installCommand(PLUGIN_PACKAGES.apt, PLUGIN_PACKAGES.brew),
      `The sandbox's broker plugin could not be built (cc: ${failure.trim().split('\n')[0]}): a C compiler, Mosquitto's and OpenSSL's headers are needed`);
  }
  return library;
}

export interface BrokerOptions {
  /** Decides every connection, publish, subscription and delivery, and holds the services' credentials. */
  readonly authorizer: BrokerAuthorizer;
  /** The CA that signs the broker's certificate and the certificates it accepts. */
  readonly ca: CertificateAuthority;
  /** Folder for config, certificates and log. @default a new temporary folder */
  readonly dir?: string;
  /** @default a free port */
  readonly port?: number;
}

export class Broker {
  private process?: ChildProcess;

  private constructor(
    readonly binary: string, readonly dir: string, readonly port: number, readonly ca: CertificateAuthority,
    /** The certificate for localhost and 127.0.0.1 the broker serves, which the sandbox's other loopback servers serve too. */
    readonly serverCertificate: Issued,
    private readonly authorizer: BrokerAuthorizer,
  ) {}

  static async start(options: BrokerOptions): Promise<Broker> {
    const binary = ensureMosquitto();
    const plugin = ensureAuthorizerPlugin();
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'mosquitto-'));
    fs.mkdirSync(dir, { recursive: true });
    const { ca } = options;
    const server = ca.issue('localhost', { altNames: ['localhost', '127.0.0.1'] });
    const write = (file: string, content: string, mode = 0o600) => fs.writeFileSync(path.join(dir, file), content, { mode });
    write('ca.pem', ca.certificatePem, 0o644);
    write('server.pem', server.certificatePem, 0o644);
    write('server.key', server.privateKeyPem);
    const broker = new Broker(binary, dir, options.port ?? await freePort(), ca, server, options.authorizer);
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
      // Every decision is the registry's, through the plugin; the CA check only proves the key matches the certificate.
      'allow_anonymous false',
      `plugin ${plugin}`,
      `plugin_opt_socket ${options.authorizer.socketPath}`,
      `listener ${broker.port} 127.0.0.1`,
      `cafile ${path.join(dir, 'ca.pem')}`,
      `certfile ${path.join(dir, 'server.pem')}`,
      `keyfile ${path.join(dir, 'server.key')}`,
      'require_certificate true',
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

  /**
   * The options of an MQTT 5 client of one of the sandbox's services, with its registered certificate, for a client
   * in another process. `persistentSession`: the broker keeps its subscriptions and queues its QoS 1 messages while
   * it is away, across a broker restart too, for an observer that must miss nothing.
   */
  clientOptions(identity: ServiceIdentity, clientId = `${identity}-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, options: { persistentSession?: boolean } = {}): IClientOptions {
    const issued = this.authorizer.credential(identity);
    return {
      protocol: 'mqtts', host: 'localhost', port: this.port, protocolVersion: 5, clientId,
      key: issued.privateKeyPem, cert: issued.certificatePem, ca: this.ca.certificatePem, reconnectPeriod: 200,
      ...(options.persistentSession ? { clean: false, properties: { sessionExpiryInterval: 3600 } } : {}),
    };
  }

  /** An MQTT 5 client connected as clientOptions() describes. */
  async connectAs(identity: ServiceIdentity, clientId?: string, options: { persistentSession?: boolean } = {}): Promise<MqttClient> {
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
