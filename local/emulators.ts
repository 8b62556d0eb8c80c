/**
 * The embedded AWS stand-ins: dynalite (DynamoDB) and s3rver (S3), in-process, on disk under the data dir, on free
 * loopback ports. Table and bucket are created when missing, so state survives a restart.
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo, Server } from 'node:net';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { tableDefinition } from '../adapters/dynamodb/table.js';
import { s3Client } from '../adapters/s3/artifact-store.js';

const require = createRequire(import.meta.url);

export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const LOCAL_REGION = 'us-east-1';

export interface Emulators {
  dynamodbEndpoint: string;
  s3Endpoint: string;
  stop(): Promise<void>;
}

async function startDynalite(dir: string): Promise<{ url: string; server: Server }> {
  const dynalite = require('dynalite') as (o: object) => Server;
  const server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}

async function startS3rver(dir: string): Promise<{ url: string; server: S3rverInstance }> {
  const S3rver = require('s3rver') as new (o: object) => S3rverInstance;
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const { port } = await server.run();
  return { url: `http://127.0.0.1:${port}`, server };
}

async function ensureTable(endpoint: string, table: string): Promise<void> {
  const ddb = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    await ddb.send(new DescribeTableCommand({ TableName: table }));
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
    await ddb.send(new CreateTableCommand(tableDefinition(table)));
  } finally {
    ddb.destroy();
  }
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

export async function startEmulators(dataDir: string, names: { table: string; bucket: string }): Promise<Emulators> {
  const ddbDir = join(dataDir, 'dynamodb');
  const s3Dir = join(dataDir, 's3');
  mkdirSync(ddbDir, { recursive: true });
  mkdirSync(s3Dir, { recursive: true });
  const [ddb, s3] = await Promise.all([startDynalite(ddbDir), startS3rver(s3Dir)]);
  const client = s3Client({
    endpoint: s3.url,
    region: LOCAL_REGION,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  try {
    await Promise.all([ensureTable(ddb.url, names.table), ensureBucket(client, names.bucket)]);
  } finally {
    client.destroy();
  }
  return {
    dynamodbEndpoint: ddb.url,
    s3Endpoint: s3.url,
    stop: async () => {
      await Promise.all([s3.server.close(), new Promise<void>((resolve) => ddb.server.close(() => resolve()))]);
    },
  };
}
