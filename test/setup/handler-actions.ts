import * as fs from 'fs';
import * as path from 'path';

/** IAM service prefix of each AWS SDK v3 client package the project's code imports. */
const SERVICE_OF_CLIENT: Record<string, string> = {
  iot: 'iot', 'iot-data-plane': 'iot', 'secrets-manager': 'secretsmanager', cloudformation: 'cloudformation', s3: 's3', 'cloudwatch-logs': 'logs',
};

/**
 * The API calls a handler's code makes, as `<IAM service prefix>:<operation>`: the SDK commands it and the
 * project modules it imports (relative imports, followed) send with `new XxxCommand(`. `file`: a handler folder
 * under lib/handlers, or a path from the project root ending in .ts.
 */
export function actionsCalledBy(file: string): string[] {
  const root = path.join(__dirname, '..', '..');
  const actions = new Set<string>();
  const visited = new Set<string>();
  const visit = (absolute: string) => {
    if (visited.has(absolute)) return;
    visited.add(absolute);
    const source = fs.readFileSync(absolute, 'utf8');
    for (const [, names, client] of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      const service = SERVICE_OF_CLIENT[client];
      if (!service) throw new Error(`${path.relative(root, absolute)} imports @aws-sdk/client-${client}: add its IAM service prefix here`);
      for (const command of names.split(',').map((name) => name.trim()).filter((name) => name.endsWith('Command'))) {
        if (source.includes(`new ${command}(`)) actions.add(`${service}:${command.replace(/Command$/, '')}`);
      }
    }
    // Modules of the project it runs (type-only imports run nothing).
    for (const [, specifier] of source.matchAll(/^import\s+(?!type\b)[^;]*?from\s*'(\.{1,2}\/[^']+)'/gm)) {
      const target = path.resolve(path.dirname(absolute), specifier);
      const candidate = [`${target}.ts`, path.join(target, 'index.ts')].find((name) => fs.existsSync(name));
      if (candidate) visit(candidate);
    }
  };
  visit(path.join(root, ...(file.endsWith('.ts') ? [file] : ['lib', 'handlers', file, 'index.ts'])));
  return [...actions].sort();
}
