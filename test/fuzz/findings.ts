// Findings of the fuzzer that are reported to the lead and not yet fixed in src/. A failure
// that matches one is counted and printed with its first reproduction, not failed on; once the
// bug is fixed the finding stops matching (and its entry here can go).
import type { Variant } from './mutators.ts'

export interface Failure {
  kind: 'plain-error' | 'store-changed' | 'accepted-invalid' | 'refused-valid' | 'wrong-code' | 'inconsistent' | 'slow' | 'harness'
  message: string
  /** The oracle's rule ids behind its verdict (refusals), or the check that differed (acceptances). */
  rules: string[]
  code?: string
}

export interface KnownFinding {
  id: string
  title: string
  matches(f: Failure, v: Variant): boolean
}

// F1–F7 (a stale prev and size 0 for foreign roots' records, an explicit-v0 CID prefix, meta as
// bytes, duplicate foreign roots, quadratic tiny chunks, size 0 for a foreign root under an
// object recorded earlier) are fixed; regressions are in test/shared/fuzz-findings.spec.ts.
// None is open.
export const KNOWN_FINDINGS: readonly KnownFinding[] = []
