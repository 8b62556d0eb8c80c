import type { Clock } from './ports.js';

export const isoNow = (clock: Clock): string => clock.now().toISOString();
