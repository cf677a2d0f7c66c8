import * as fs from 'fs';
import * as path from 'path';

/** IAM service prefix of each AWS SDK v3 client package a handler imports. */
const SERVICE_OF_CLIENT: Record<string, string> = { iot: 'iot', 'iot-data-plane': 'iot', 'secrets-manager': 'secretsmanager' };

/** The IAM actions a handler's code calls: the SDK commands it imports and sends with `new XxxCommand(`. */
export function actionsCalledBy(handlerFolder: string): string[] {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', 'lib', 'handlers', handlerFolder, 'index.ts'), 'utf8');
  const actions = new Set<string>();
  for (const [, names, client] of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z-]+)'/g)) {
    const service = SERVICE_OF_CLIENT[client];
    if (!service) throw new Error(`${handlerFolder} imports @aws-sdk/client-${client}: add its IAM service prefix here`);
    for (const command of names.split(',').map((name) => name.trim()).filter((name) => name.endsWith('Command'))) {
      if (source.includes(`new ${command}(`)) actions.add(`${service}:${command.replace(/Command$/, '')}`);
    }
  }
  return [...actions].sort();
}
