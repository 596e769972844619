// Cairn's deterministic benchmark workload (issue 11): 20,000 events on 1,000 streams, each
// ~300 bytes encoded, appended in batches of 1,000. Kept here until a shared bench/workload.ts
// defines the same function.

/** The workload's `i`-th event. */
export function eventAt(i: number): { stream: string; type: string; data: { i: number; memo: string; amount: number } } {
  return { stream: `acct-${i % 1000}`, type: 'entry.posted', data: { i, memo: `payment ${i} `.padEnd(200, '.'), amount: i % 977 } }
}

/** Events of the workload. */
export const EVENTS = 20_000
/** Events per appendMany. */
export const BATCH = 1000
