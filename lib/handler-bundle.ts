/**
 * The bundles of the handlers of lib/handlers/: built in process by esbuild with the pinned AWS SDK inside,
 * and cached under node_modules/.cache by a hash of everything that can change them.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildSync, BuildOptions, version as esbuildVersion } from 'esbuild';

const HANDLERS_DIR = path.join(__dirname, 'handlers');
const PROJECT_DIR = path.join(__dirname, '..');

/** esbuild options of a handler bundle (shared with bench/handlers, which measures the same bundle). */
export function handlerBundleOptions(handlerFolder: string, outfile: string): BuildOptions {
  return {
    entryPoints: [path.join(HANDLERS_DIR, handlerFolder, 'index.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // The SDK's ES module builds let esbuild drop the commands and schemas a handler never uses.
    mainFields: ['module', 'main'],
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/** Every file that can change a bundle: the handlers' sources, the pinned dependencies, esbuild's version and options. */
function bundleInputsHash(handlerFolder: string): string {
  const hash = createHash('sha256').update(esbuildVersion).update(JSON.stringify(handlerBundleOptions(handlerFolder, '')));
  const files = (fs.readdirSync(HANDLERS_DIR, { recursive: true }) as string[]).filter((file) => file.endsWith('.ts')).sort();
  for (const file of files) hash.update(file).update(fs.readFileSync(path.join(HANDLERS_DIR, file)));
  const lockFile = path.join(PROJECT_DIR, 'package-lock.json');
  if (fs.existsSync(lockFile)) hash.update(fs.readFileSync(lockFile));
  return hash.digest('hex');
}

/**
 * Builds a handler bundle, or reuses the one built from identical inputs before (about 0.3 s saved per
 * handler on every synth and test run).
 */
function buildHandlerBundle(handlerFolder: string, outputDir: string): void {
  const cached = path.join(PROJECT_DIR, 'node_modules', '.cache', 'iot-core-cdk', `${handlerFolder}-${bundleInputsHash(handlerFolder)}.js`);
  if (!fs.existsSync(cached)) {
    const building = `${cached}.${process.pid}.tmp`;
    buildSync(handlerBundleOptions(handlerFolder, building));
    fs.renameSync(building, cached);
  }
  fs.copyFileSync(cached, path.join(outputDir, 'index.js'));
}

/**
 * Bundles lib/handlers/<folder>/index.ts with the pinned AWS SDK clients inside, so the code that was tested is
 * the code that runs. esbuild runs in-process (NodejsFunction would spawn npx twice per handler, about
 * 2 s of every synth here); Docker is never used. The asset hash is the bundle's, so a template changes
 * only when the bundled code does.
 */
export function bundledHandlerCode(handlerFolder: string): lambda.Code {
  // One folder per handler: the asset cache of a synth is keyed by source path, so handlers must not share one.
  const sourcePath = path.join(HANDLERS_DIR, handlerFolder);
  return lambda.Code.fromAsset(sourcePath, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Required by the bundling API, never pulled: local bundling below always succeeds or throws.
      image: DockerImage.fromRegistry('scratch'),
      local: {
        tryBundle(outputDir: string) {
          buildHandlerBundle(handlerFolder, outputDir);
          return true;
        },
      },
    },
  });
}
