// The in-memory parts of the files engine's block index: the tail's hash table and the
// column concatenation a table write sorts.
import { describe, expect, test } from 'vitest'
import { EntryColumns, TailIndex } from '../../src/storage/files/tail-index.ts'

function tailOf(keys: readonly [number, number][], segment: number): TailIndex {
  const tail = new TailIndex()
  keys.forEach(([hi, lo], i) => {
    tail.add(hi, lo, segment, 100 + i, 10 + i)
  })
  return tail
}

const entriesOf = (c: EntryColumns, order: Iterable<number>): number[][] => [...order].map((e) => [c.hi(e), c.lo(e), c.segment(e), c.offset(e), c.length(e)])

describe('EntryColumns.concat', () => {
  test("holds every part's entries in order, and sorts them stably by key", () => {
    const a = tailOf(
      [
        [3, 1],
        [1, 2],
        [0xffffffff, 0],
      ],
      1,
    )
    // Enough entries to grow the columns past their first size.
    const many: [number, number][] = []
    for (let i = 0; i < 600; i++) many.push([(i * 7919) % 13, i % 5])
    const b = tailOf(many, 2)
    const c = tailOf([[1, 2]], 3)
    const all = EntryColumns.concat([a, b, c])
    expect(all.count).toBe(a.count + b.count + c.count)
    const inOrder = entriesOf(
      all,
      Array.from({ length: all.count }, (_, i) => i),
    )
    const expected = [a, b, c].flatMap((part) =>
      entriesOf(
        part,
        Array.from({ length: part.count }, (_, i) => i),
      ),
    )
    expect(inOrder).toEqual(expected)
    const sorted = entriesOf(all, all.sortedOrder())
    const byKey = expected
      .map((e, i) => ({ e, i }))
      .sort((x, y) => x.e[0]! - y.e[0]! || x.e[1]! - y.e[1]! || x.i - y.i)
      .map((x) => x.e)
    expect(sorted).toEqual(byKey)
  })

  test('one part is returned as it is; the parts keep working as indexes', () => {
    const a = tailOf([[5, 6]], 1)
    expect(EntryColumns.concat([a])).toBe(a)
    const b = tailOf([[7, 8]], 2)
    EntryColumns.concat([a, b])
    expect(a.hasKey(5, 6) && b.hasKey(7, 8) && !a.hasKey(7, 8)).toBe(true)
  })
})

describe('TailIndex.collect', () => {
  test('appends the positions of every entry with the key, in entry order', () => {
    const tail = tailOf(
      [
        [1, 1],
        [2, 2],
        [1, 1],
        [3, 3],
        [1, 1],
      ],
      4,
    )
    expect(tail.collect(9, 9)).toBeUndefined()
    expect(tail.collect(1, 1)).toEqual([
      { segment: 4, offset: 100, length: 10 },
      { segment: 4, offset: 102, length: 12 },
      { segment: 4, offset: 104, length: 14 },
    ])
    const out = [{ segment: 1, offset: 2, length: 3 }]
    expect(tail.collect(3, 3, out)).toBe(out)
    expect(out).toEqual([
      { segment: 1, offset: 2, length: 3 },
      { segment: 4, offset: 103, length: 13 },
    ])
  })
})
