import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from '../../local/emulators.js';

/** dynalite + s3rver in-process on free ports, in a fresh temp dir (removed by `stop`). */
export async function withEmulators(names = { table: 'merlin-test', bucket: 'merlin-test-artifacts' }) {
  const dir = mkdtempSync(join(tmpdir(), 'merlin-emu-'));
  const emulators = await startEmulators(dir, names);
  const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  return {
    ...emulators,
    ...names,
    dir,
    dynamodbConfig: { ...clientConfig, endpoint: emulators.dynamodbEndpoint },
    s3Config: { ...clientConfig, endpoint: emulators.s3Endpoint, forcePathStyle: true },
    stop: async () => {
      await emulators.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
