import Crypto
import Synchronization

/// What was worked out from a text, kept under the SHA-256 digest of the text (and whatever
/// else the answer depends on), never under the text itself: a memo holds no prompt. Bounded
/// by entries, oldest dropped first; shared by every request that reaches it.
///
/// Used for the injection classifier's verdicts (a model call per new text) and for the
/// findings of input guardrails (a detector pass per new text): a chat resends its whole
/// history and its system prompt with every turn, so without a memo each turn would scan the
/// whole conversation again.
///
/// With `keepsOnSecondSight`, a value is kept only when its key is stored a second time: most
/// texts come once, and keeping each of them would cost more (a growing table, evictions) than
/// the memo saves. The first store only notes the key's fingerprint in a small direct-mapped
/// table (`sightings`; a later key in the same slot replaces it), so a text repeated soon after
/// is kept on its second sight and judged from the memo from its third.
public final class DigestMemo<Value: Sendable>: Sendable {
    private struct State {
        var values: [SHA256Digest: Value] = [:]
        /// Insertion order; entries before `head` are gone.
        var order: [SHA256Digest] = []
        var head = 0
        /// Fingerprints of keys stored once (`keepsOnSecondSight`), by slot; 0 is empty.
        var sightings: [UInt64] = []
    }
    private let state: Mutex<State>
    /// The most entries kept (a store past it drops the oldest).
    let capacity: Int
    let keepsOnSecondSight: Bool
    static var sightingSlots: Int { 4096 }

    public init(capacity: Int, keepsOnSecondSight: Bool = false) {
        self.capacity = capacity
        self.keepsOnSecondSight = keepsOnSecondSight
        state = Mutex(State(sightings: keepsOnSecondSight ? [UInt64](repeating: 0, count: Self.sightingSlots) : []))
    }

    /// The digest of `parts` in order, each after its length (so that no two lists of parts
    /// and texts read the same: `["ab", "c"]` and `["a", "bc"]` differ, and so does a part with
    /// a zero byte in it), then `text`.
    static func key(_ parts: [String], text: [UInt8]) -> SHA256Digest {
        var hasher = hashing(parts)
        text.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize()
    }

    /// ``key(_:text:)`` for a text known by its digest: the parts as there, then the text's digest.
    static func key(_ parts: [String], digest: SHA256Digest) -> SHA256Digest {
        var hasher = hashing(parts)
        return key(hasher: &hasher, digest: digest)
    }

    /// ``key(_:digest:)`` with the parts already fed to `hasher` (``hashing(_:)``, kept by a
    /// caller that asks with the same parts again).
    static func key(hasher: inout SHA256, digest: SHA256Digest) -> SHA256Digest {
        digest.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        return hasher.finalize()
    }

    /// A hasher fed with `parts`, each after its length.
    static func hashing(_ parts: [String]) -> SHA256 {
        var hasher = SHA256()
        for var part in parts {
            part.withUTF8 { bytes in
                withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { hasher.update(bufferPointer: $0) }
                hasher.update(bufferPointer: UnsafeRawBufferPointer(bytes))
            }
        }
        return hasher
    }

    func value(_ key: SHA256Digest) -> Value? { state.withLock { $0.values[key] } }

    /// Keeps `value` under `key`; `capacity` overrides the memo's own bound (settings that
    /// change with the configuration).
    func store(_ key: SHA256Digest, _ value: Value, capacity: Int? = nil) {
        let capacity = capacity ?? self.capacity
        guard capacity > 0 else { return }
        let (fingerprint, slot) = keepsOnSecondSight ? Self.fingerprint(key) : (0, 0)
        state.withLock { state in
            if keepsOnSecondSight, state.values[key] == nil {
                guard state.sightings[slot] == fingerprint else {
                    state.sightings[slot] = fingerprint
                    return
                }
                state.sightings[slot] = 0
            }
            if state.values.updateValue(value, forKey: key) == nil { state.order.append(key) }
            while state.order.count - state.head > capacity {
                state.values[state.order[state.head]] = nil
                state.head += 1
            }
            if state.head > 1024 && state.head * 2 > state.order.count {
                state.order.removeFirst(state.head)
                state.head = 0
            }
        }
    }

    /// 64 bits of the digest (never 0) and a slot chosen by 12 others.
    static func fingerprint(_ key: SHA256Digest) -> (UInt64, Int) {
        key.withUnsafeBytes { raw in
            let fingerprint = raw.loadUnaligned(as: UInt64.self) | 1
            let slot = Int(truncatingIfNeeded: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) & (sightingSlots - 1)
            return (fingerprint, slot)
        }
    }

    public var count: Int { state.withLock { $0.values.count } }
}
