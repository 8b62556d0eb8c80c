import { monotonicFactory } from 'ulid';
import type { Clock, IdGenerator } from '../core/ports.js';

export const systemClock: Clock = { now: () => new Date() };

const ulid = monotonicFactory();
export const ulidIds: IdGenerator = { deploymentId: () => ulid() };
