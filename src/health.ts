import { z } from 'zod';

/** `health`: the server runs; `time` is its clock. */
export const HealthOutput = z.object({ ok: z.literal(true), time: z.date() });
