/**
 * Releasing a device program to the fleet (`npm run fleet -- release`): the package `npm pack` made of device/ is
 * checked to be the iot-device program, uploaded to the stack's artifacts bucket under its SHA-256, and the
 * update-program job started from the stack's template, its URL a presigned URL placeholder that AWS IoT signs for
 * each device with the template's role (lib/presigned-url.ts). The template's rollout and abort criteria apply.
 */
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import { IoTClient } from '@aws-sdk/client-iot';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { programKey } from '../device/src/contract';
import { presignedUrlPlaceholder } from '../lib/presigned-url';
import { JobParametersRefused, startJob } from './jobs';

/** A package that is not the device program: nothing was uploaded or started. */
export class ReleaseRefused extends Error {}

export interface ProgramPackage {
  readonly file: string;
  readonly version: string;
  readonly sha256: string;
}

/** The package at `file`, read as npm packs it (package/package.json): refused unless it is the iot-device program. */
export function readProgramPackage(file: string): ProgramPackage {
  let manifest: { name?: unknown; version?: unknown; bin?: Record<string, unknown> };
  try {
    manifest = JSON.parse(execFileSync('tar', ['-xzOf', file, 'package/package.json'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString());
  } catch {
    throw new ReleaseRefused(`${file} is not a package npm pack made (no readable package/package.json in a gzipped tarball)`);
  }
  if (manifest.name !== 'iot-device' || typeof manifest.bin?.['iot-device'] !== 'string') {
    throw new ReleaseRefused(`${file} is the package ${JSON.stringify(manifest.name)}, not the device program (iot-device, with its iot-device command): pack it with npm pack in device/`);
  }
  if (typeof manifest.version !== 'string' || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(manifest.version)) {
    throw new ReleaseRefused(`${file}'s version ${JSON.stringify(manifest.version)} is not a semantic version (1.2.3)`);
  }
  return { file, version: manifest.version, sha256: createHash('sha256').update(fs.readFileSync(file)).digest('hex') };
}

export interface ReleaseRequest {
  readonly program: ProgramPackage;
  readonly bucket: string;
  readonly region: string;
  readonly jobTemplateId: string;
  readonly jobId: string;
  readonly targets: readonly string[];
}

/**
 * Uploads the package and starts the update job. The upload is made every time: the operator may put packages but
 * not read them (least privilege), and the same bytes under the same key only add a version the bucket expires.
 */
export async function releaseProgram(iot: IoTClient, s3: S3Client, request: ReleaseRequest): Promise<{ jobId: string; key: string }> {
  const { program, bucket } = request;
  const key = programKey(program.sha256);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fs.readFileSync(program.file), ContentType: 'application/gzip' }));
  try {
    const started = await startJob(iot, {
      jobTemplateId: request.jobTemplateId, jobId: request.jobId, targets: request.targets,
      // As JSON strings: a hash of digits alone would otherwise be read as a number.
      parameters: Object.fromEntries(Object.entries({ version: program.version, url: presignedUrlPlaceholder({ region: request.region, bucket, key }), sha256: program.sha256 }).map(([name, value]) => [name, JSON.stringify(value)])),
    });
    return { jobId: started.jobId, key };
  } catch (error) {
    if (error instanceof JobParametersRefused) throw new ReleaseRefused(error.message);
    throw error;
  }
}
