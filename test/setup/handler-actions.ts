import * as fs from 'fs';
import * as path from 'path';

/** IAM service prefix of each AWS SDK v3 client package the project's code imports. */
const SERVICE_OF_CLIENT: Record<string, string> = {
  iot: 'iot', 'iot-data-plane': 'iot', 'secrets-manager': 'secretsmanager', cloudformation: 'cloudformation', s3: 's3', 'cloudwatch-logs': 'logs',
};

/**
 * The API calls a handler's code makes, as `<IAM service prefix>:<operation>`: the SDK commands it
 * imports and sends with `new XxxCommand(`. `file`: a handler folder under lib/handlers, or a path from
 * the project root ending in .ts.
 */
export function actionsCalledBy(file: string): string[] {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', ...(file.endsWith('.ts') ? [file] : ['lib', 'handlers', file, 'index.ts'])), 'utf8');
  const actions = new Set<string>();
  for (const [, names, client] of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
    const service = SERVICE_OF_CLIENT[client];
    if (!service) throw new Error(`${file} imports @aws-sdk/client-${client}: add its IAM service prefix here`);
    for (const command of names.split(',').map((name) => name.trim()).filter((name) => name.endsWith('Command'))) {
      if (source.includes(`new ${command}(`)) actions.add(`${service}:${command.replace(/Command$/, '')}`);
    }
  }
  return [...actions].sort();
}
