/**
 * A stand-in platform for the orphan test: starts one model server through a ProcessCluster, prints its pid once it
 * is ready, then idles until it is killed (with SIGKILL, so no shutdown code runs).
 */
import { ProcessCluster } from '../../../adapters/local/process-cluster.js';
import { FAKE_COMMAND, revisionSpec, settle } from './helpers.js';

const cluster = new ProcessCluster({ command: FAKE_COMMAND, healthIntervalMs: 20 });
const spec = revisionSpec('orphan-1-r1');
await cluster.applyRevision(spec);
const status = await settle(cluster, spec);
const pid = cluster.list().revisions[0]?.pid;
process.stdout.write(`state=${status.state} pid=${pid}\n`);
setInterval(() => {}, 60_000);
