/// Token byte strings and their ranks, stored flat so that looking up a slice of the input
/// allocates nothing.
///
/// Every token's bytes live back to back in `bytes`; `starts[rank]` and `lengths[rank]` locate
/// them (length 0: no token has that rank). `slots` is an open-addressing hash table with
/// linear probing: each slot holds the upper 32 bits of the token's hash (a tag that spares most
/// byte comparisons) and its rank; `emptySlot` marks a free slot. The load factor stays below 1/2.
struct RankTable: Sendable {
    static let emptySlot = UInt64.max
    /// The largest rank a ranks file may use; keeps a malformed file from allocating gigabytes.
    static let maximumRank = (1 << 24) - 1

    let bytes: [UInt8]
    let starts: [UInt32]
    let lengths: [UInt32]
    let slots: [UInt64]
    /// The rank of each single byte, or `UInt32.max` when a byte is not a token.
    let byteRanks: [UInt32]
    /// How many tokens the table holds.
    let count: Int

    /// Builds the table; `tokens` are (rank, start, length) triples into `bytes`, with ranks in
    /// `0...maximumRank` and lengths of at least 1. Throws when a rank or a byte string repeats.
    init(bytes: [UInt8], tokens: [(rank: Int, start: Int, length: Int)]) throws {
        guard !tokens.isEmpty else { throw BPEEncodingError.noTokens }
        var maxRank = -1
        for token in tokens { maxRank = max(maxRank, token.rank) }
        var starts = [UInt32](repeating: 0, count: maxRank + 1)
        var lengths = [UInt32](repeating: 0, count: maxRank + 1)
        var capacity = 16
        while capacity < tokens.count * 2 + 2 { capacity <<= 1 }
        var slots = [UInt64](repeating: Self.emptySlot, count: capacity)
        let mask = capacity - 1
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            for token in tokens {
                if lengths[token.rank] != 0 { throw BPEEncodingError.duplicateRank(token.rank) }
                starts[token.rank] = UInt32(token.start)
                lengths[token.rank] = UInt32(token.length)
                let key = base + token.start
                let hash = Self.hash(key, token.length)
                let tag = hash >> 32
                var index = Int(truncatingIfNeeded: hash) & mask
                while slots[index] != Self.emptySlot {
                    let other = Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: slots[index]))
                    if slots[index] >> 32 == tag, Int(lengths[other]) == token.length,
                        Self.equal(base + Int(starts[other]), key, token.length)
                    {
                        throw BPEEncodingError.duplicateToken(rank: token.rank, previousRank: other)
                    }
                    index = (index + 1) & mask
                }
                slots[index] = tag << 32 | UInt64(token.rank)
            }
        }
        var byteRanks = [UInt32](repeating: UInt32.max, count: 256)
        for rank in 0..<lengths.count where lengths[rank] == 1 {
            byteRanks[Int(bytes[Int(starts[rank])])] = UInt32(rank)
        }
        self.bytes = bytes
        self.starts = starts
        self.lengths = lengths
        self.slots = slots
        self.byteRanks = byteRanks
        self.count = tokens.count
    }

    /// The bytes of the token with this rank; nil when there is none.
    func tokenBytes(_ rank: Int) -> ArraySlice<UInt8>? {
        guard rank >= 0, rank < lengths.count, lengths[rank] > 0 else { return nil }
        let start = Int(starts[rank])
        return bytes[start..<start + Int(lengths[rank])]
    }

    /// Runs `body` with a `RankLookup` whose pointers stay valid for its duration.
    ///
    /// None of the arrays is empty (`init` requires at least one token), so their base addresses exist.
    func withLookup<R>(_ body: (RankLookup) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer { bytes in
            try starts.withUnsafeBufferPointer { starts in
                try lengths.withUnsafeBufferPointer { lengths in
                    try slots.withUnsafeBufferPointer { slots in
                        try byteRanks.withUnsafeBufferPointer { byteRanks in
                            try body(
                                RankLookup(
                                    bytes: UnsafeRawPointer(bytes.baseAddress!),
                                    starts: starts.baseAddress!, lengths: lengths.baseAddress!, slots: slots.baseAddress!,
                                    mask: slots.count - 1, byteRanks: byteRanks.baseAddress!))
                        }
                    }
                }
            }
        }
    }

    /// A 64-bit hash of `count` bytes at `key`: 8 bytes at a time, then the tail.
    @inline(__always)
    static func hash(_ key: UnsafeRawPointer, _ count: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 &* UInt64(truncatingIfNeeded: count &+ 1)
        var i = 0
        while i &+ 8 <= count {
            h = (h ^ key.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 31
            i &+= 8
        }
        if i < count {
            var tail: UInt64 = 0
            var shift: UInt64 = 0
            if count &- i >= 4 {
                tail = UInt64(key.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                shift = 32
                i &+= 4
            }
            while i < count {
                tail |= UInt64(key.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift &+= 8
                i &+= 1
            }
            h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        }
        h ^= h >> 33
        h = h &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 29
        return h
    }

    @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        var i = 0
        while i &+ 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i &+= 8
        }
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i &+= 1
        }
        return true
    }
}

/// Raw pointers into a `RankTable`, valid only inside `RankTable.withLookup`.
struct RankLookup {
    static let none = UInt32.max

    let bytes: UnsafeRawPointer
    let starts: UnsafePointer<UInt32>
    let lengths: UnsafePointer<UInt32>
    let slots: UnsafePointer<UInt64>
    let mask: Int
    let byteRanks: UnsafePointer<UInt32>

    /// The rank of the `count` bytes at `key`, or `RankLookup.none`.
    @inline(__always)
    func rank(_ key: UnsafeRawPointer, _ count: Int) -> UInt32 {
        if count == 1 { return byteRanks[Int(key.load(as: UInt8.self))] }
        let hash = RankTable.hash(key, count)
        let tag = hash >> 32
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot == RankTable.emptySlot { return Self.none }
            if slot >> 32 == tag {
                let rank = Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: slot))
                if Int(lengths[rank]) == count, RankTable.equal(bytes + Int(starts[rank]), key, count) {
                    return UInt32(truncatingIfNeeded: rank)
                }
            }
            index = (index &+ 1) & mask
        }
    }
}
