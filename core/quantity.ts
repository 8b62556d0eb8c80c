/**
 * Kubernetes resource quantities as the API accepts them: CPU in cores ("2", "0.5") or millicores ("500m"); memory in
 * bytes with a decimal (K, M, G, T) or binary (Ki, Mi, Gi, Ti) suffix. Parsed to numbers so that limits compare
 * exactly (Merlin compared them with AsInt64, which rounds "500m" to 0).
 */
const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Millicores of a CPU quantity, or undefined when it is not one. */
export function parseCpu(q: string): number | undefined {
  const milli = /^([0-9]+)m$/.exec(q);
  if (milli) return Number(milli[1]);
  if (/^[0-9]+(\.[0-9]+)?$/.test(q)) return Math.round(Number(q) * 1000);
  return undefined;
}

/** Bytes of a memory quantity, or undefined when it is not one. */
export function parseMemory(q: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(q);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * MEMORY_UNITS[m[2] ?? '']!);
}
