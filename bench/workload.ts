// Cairn's deterministic benchmark workload, shared by the benchmarks (`npm run bench`,
// `npm run bench:peers`): 20,000 events of ~300 bytes over 1,000 streams, appended in
// batches of 1,000. Every figure measured on it can be reproduced event for event.

/** Events in one run of the workload. */
export const EVENTS = 20_000
/** Events per batched append (one commit each). */
export const BATCH = 1_000
/** Streams the events are spread over. */
export const STREAMS = 1_000

/** One event of the workload, as given to `append`. */
export type WorkloadEvent = { stream: string; type: string; data: { i: number; memo: string; amount: number } }

/** The i-th event of the workload: ~300 bytes once encoded as a Cairn event block. */
export const eventAt = (i: number): WorkloadEvent => ({ stream: `acct-${i % STREAMS}`, type: 'entry.posted', data: { i, memo: `payment ${i} `.padEnd(200, '.'), amount: i % 977 } })

/** The events from..from+n-1 of the workload. */
export const batchAt = (from: number, n: number = BATCH): WorkloadEvent[] => Array.from({ length: n }, (_, j) => eventAt(from + j))
