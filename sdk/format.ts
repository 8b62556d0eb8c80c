/** Small formatting helpers shared by the SDK's progress events and the CLI. */

/** `533 B`, `12.4 KiB`, `1.5 GiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** `12 ms`, `1.6 s`, `2 min 5 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** `version 3 90%, version 4 10%, mirror version 5 10%`. */
export function formatRule(rule: {
  destinations: { version: number; weight: number }[];
  mirror?: { version: number; percent: number } | undefined;
}): string {
  const parts = rule.destinations.map((d) => `version ${d.version} ${d.weight}%`);
  if (rule.mirror) parts.push(`mirror version ${rule.mirror.version} ${rule.mirror.percent}%`);
  return parts.join(', ');
}
