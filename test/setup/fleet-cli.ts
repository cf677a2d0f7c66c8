import { main as fleetCli } from '../../scripts/fleet';

/**
 * `npm run fleet -- ...` in process, with the SDK pointed at a sandbox as the user's shell would be (`environment`:
 * the sandbox's awsEnvironment); the exit code and what it printed.
 */
export async function runFleet(environment: Record<string, string>, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = { ...process.env };
  Object.assign(process.env, environment);
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await fleetCli(args, { out: (line) => out.push(line), err: (line) => err.push(line) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    process.env = saved;
  }
}
