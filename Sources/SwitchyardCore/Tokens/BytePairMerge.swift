/// Byte-pair merging of one piece that is not itself a token.
///
/// The rule (tiktoken's): start from single bytes; repeatedly merge the adjacent pair whose
/// concatenation has the lowest rank, the leftmost such pair on ties; stop when no adjacent pair
/// is a token. Short pieces use that loop directly (quadratic, but tiny). Long pieces use a
/// min-heap keyed by (rank, position) over a linked list of parts, which performs exactly the same
/// merges in the same order in O(n log n), so a megabyte with no split points stays fast.
enum BytePairMerge {
    /// Pieces up to this many bytes use the direct loop.
    static let smallPieceLimit = 96

    @inline(__always)
    static func small<Sink: TokenSink>(_ piece: UnsafePointer<UInt8>, _ count: Int, _ lookup: RankLookup, _ sink: inout Sink) {
        let raw = UnsafeRawPointer(piece)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: count + 1) { starts in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: count) { pairRanks in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: count) { partRanks in
                    // Part k spans starts[k]..<starts[k + 1]; pairRanks[k] is the rank of parts k and k + 1 joined.
                    for k in 0...count { starts[k] = k }
                    for k in 0..<count { partRanks[k] = lookup.byteRanks[Int(piece[k])] }
                    for k in 0..<(count - 1) { pairRanks[k] = lookup.rank(raw + k, 2) }
                    pairRanks[count - 1] = RankLookup.none
                    var parts = count
                    while parts > 1 {
                        var best = RankLookup.none
                        var bestIndex = 0
                        for k in 0..<(parts - 1) where pairRanks[k] < best {
                            best = pairRanks[k]
                            bestIndex = k
                        }
                        if best == RankLookup.none { break }
                        // Merge parts bestIndex and bestIndex + 1: drop part bestIndex + 1.
                        partRanks[bestIndex] = best
                        var k = bestIndex + 1
                        while k < parts - 1 {
                            partRanks[k] = partRanks[k + 1]
                            pairRanks[k] = pairRanks[k + 1]
                            k += 1
                        }
                        k = bestIndex + 1
                        while k < parts {
                            starts[k] = starts[k + 1]
                            k += 1
                        }
                        parts -= 1
                        pairRanks[bestIndex] =
                            bestIndex + 1 < parts
                            ? lookup.rank(raw + starts[bestIndex], starts[bestIndex + 2] - starts[bestIndex]) : RankLookup.none
                        if bestIndex > 0 {
                            pairRanks[bestIndex - 1] = lookup.rank(raw + starts[bestIndex - 1], starts[bestIndex + 1] - starts[bestIndex - 1])
                        }
                    }
                    for k in 0..<parts { sink.append(partRanks[k]) }
                }
            }
        }
    }

    /// Offsets in `large` are `Int32`; pieces this long (which no real input has) are merged in
    /// chunks of this size, the only case where results could differ from tiktoken's.
    static let largePieceLimit = 1 << 30

    static func large<Sink: TokenSink>(_ piece: UnsafePointer<UInt8>, _ count: Int, _ lookup: RankLookup, _ sink: inout Sink) {
        if count > largePieceLimit {
            var start = 0
            while start < count {
                let length = min(largePieceLimit, count - start)
                if length > smallPieceLimit {
                    large(piece + start, length, lookup, &sink)
                } else if length > 1 {
                    small(piece + start, length, lookup, &sink)
                } else {
                    sink.append(lookup.byteRanks[Int(piece[start])])
                }
                start += length
            }
            return
        }
        // Parts are named by the offset of their first byte. `next[k]` is the next part's offset
        // (count at the end), `previous[k]` the previous one's (-1 at the start).
        let raw = UnsafeRawPointer(piece)
        var next = [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for k in 0..<count { buffer[k] = Int32(truncatingIfNeeded: k + 1) }
            initialized = count
        }
        var previous = [Int32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for k in 0..<count { buffer[k] = Int32(truncatingIfNeeded: k - 1) }
            initialized = count
        }
        var partRanks = [UInt32](unsafeUninitializedCapacity: count) { buffer, initialized in
            for k in 0..<count { buffer[k] = lookup.byteRanks[Int(piece[k])] }
            initialized = count
        }
        // pairRanks[k]: rank of part k joined with the next part; none when that is not a token or
        // part k was merged away. A heap entry (rank << 32 | offset) is stale unless it matches.
        var pairRanks = [UInt32](repeating: RankLookup.none, count: count)
        var heap = Heap()
        heap.reserve(count)
        for k in 0..<(count - 1) {
            let rank = lookup.rank(raw + k, 2)
            pairRanks[k] = rank
            if rank != RankLookup.none { heap.push(UInt64(rank) << 32 | UInt64(k)) }
        }
        while let entry = heap.pop() {
            let rank = UInt32(truncatingIfNeeded: entry >> 32)
            let k = Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: entry))
            guard pairRanks[k] == rank else { continue }
            // Merge part k with the next one, j.
            let j = Int(next[k])
            let afterJ = Int(next[j])
            partRanks[k] = rank
            pairRanks[j] = RankLookup.none
            next[k] = Int32(truncatingIfNeeded: afterJ)
            if afterJ < count { previous[afterJ] = Int32(truncatingIfNeeded: k) }
            if afterJ < count {
                let end = Int(next[afterJ])
                let newRank = lookup.rank(raw + k, end - k)
                pairRanks[k] = newRank
                if newRank != RankLookup.none { heap.push(UInt64(newRank) << 32 | UInt64(k)) }
            } else {
                pairRanks[k] = RankLookup.none
            }
            let p = Int(previous[k])
            if p >= 0 {
                let newRank = lookup.rank(raw + p, afterJ - p)
                pairRanks[p] = newRank
                if newRank != RankLookup.none { heap.push(UInt64(newRank) << 32 | UInt64(p)) }
            }
        }
        var k = 0
        while k < count {
            sink.append(partRanks[k])
            k = Int(next[k])
        }
    }

    /// A binary min-heap of packed (rank, offset) keys.
    struct Heap {
        private var items: [UInt64] = []

        mutating func reserve(_ capacity: Int) { items.reserveCapacity(capacity) }

        mutating func push(_ item: UInt64) {
            items.append(item)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                if items[parent] <= item { break }
                items[child] = items[parent]
                child = parent
            }
            items[child] = item
        }

        mutating func pop() -> UInt64? {
            guard let last = items.popLast() else { return nil }
            guard let top = items.first else { return last }
            let count = items.count
            var parent = 0
            while true {
                var child = 2 * parent + 1
                if child >= count { break }
                if child + 1 < count, items[child + 1] < items[child] { child += 1 }
                if last <= items[child] { break }
                items[parent] = items[child]
                parent = child
            }
            items[parent] = last
            return top
        }
    }
}
