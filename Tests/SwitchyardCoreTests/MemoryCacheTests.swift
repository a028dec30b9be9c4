import Testing

@testable import SwitchyardCore

/// The in-memory response cache keeps the most recently used entries within its bytes: checked
/// against a plain reference (a list in recency order) over random stores, reads, replacements,
/// expiries and invalidations, entry by entry.
@Suite struct MemoryCacheTests {
    /// The reference: digests most recent first, with their sizes, partitions and expiries.
    struct Reference {
        var entries: [(digest: String, size: Int, partition: String, expired: Bool)] = []
        let maxBytes: Int
        var bytes: Int { entries.reduce(0) { $0 + $1.size } }

        mutating func set(_ digest: String, size: Int, partition: String, expired: Bool) {
            guard size <= maxBytes else { return }
            entries.removeAll { $0.digest == digest }
            entries.insert((digest, size, partition, expired), at: 0)
            while bytes > maxBytes { entries.removeLast() }
        }

        mutating func get(_ digest: String) -> Bool {
            guard let position = entries.firstIndex(where: { $0.digest == digest }) else { return false }
            let entry = entries.remove(at: position)
            if entry.expired { return false }
            entries.insert(entry, at: 0)
            return true
        }

        mutating func invalidate(partition: String) -> Int {
            let before = entries.count
            entries.removeAll { $0.partition == partition }
            return before - entries.count
        }
    }

    @Test func keepsTheMostRecentlyUsedEntriesWithinItsBytes() async throws {
        let maxBytes = 6_000
        let cache = MemoryCacheBackend(maxBytes: maxBytes)
        var reference = Reference(maxBytes: maxBytes)
        var seed: UInt64 = 0x5157_1A2D
        func next(_ bound: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(bound))
        }
        func key(_ digest: String, _ partition: String) -> CacheKey { CacheKey(digest: digest, partition: partition, namespace: "", model: "m") }
        for step in 0..<4_000 {
            let digest = "d\(next(24))"
            let partition = "p\(next(3))"
            switch next(10) {
            case 0..<4:
                // Sizes from a few bytes to more than the whole cache (never stored).
                let length = next(10) == 0 ? maxBytes : next(1_400)
                let expired = next(8) == 0
                let value = CachedResponse(stream: false, body: Array(repeating: 7, count: length), usage: nil, savedCost: nil, model: nil, createdAt: 0)
                try await cache.set(key(digest, partition), value, ttl: expired ? .zero : .seconds(3600))
                reference.set(digest, size: value.size, partition: partition, expired: expired)
            case 4..<9:
                let found = try await cache.get(key(digest, partition)) != nil
                #expect(found == reference.get(digest), "step \(step): get \(digest)")
            default:
                let removed = try await cache.invalidate(partition: partition, namespace: nil, model: nil, olderThan: nil)
                #expect(removed == reference.invalidate(partition: partition), "step \(step): invalidate \(partition)")
            }
            #expect(cache.count == reference.entries.count, "step \(step)")
            #expect(cache.bytes == reference.bytes, "step \(step)")
            #expect(cache.bytes <= maxBytes)
        }
    }
}
