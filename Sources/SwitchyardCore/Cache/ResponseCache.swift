import Crypto
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// `cache:` of the configuration: the exact response cache.
public struct CacheSettings: Sendable, Equatable {
    public enum Partition: String, Sendable, CaseIterable {
        /// Each virtual key (or token subject) has its own cache (the default: no answer ever
        /// crosses from one caller to another).
        case key
        case team, org
        /// One cache for everyone (only for gateways with a single tenant).
        case global
    }

    public enum Backend: String, Sendable { case memory, redis, sqlite }
    public enum Mode: String, Sendable, CaseIterable {
        case readWrite = "read_write"
        /// Answer from the cache, never add to it (e.g. a frozen evaluation set).
        case readOnly = "read_only"
        /// Fill the cache without answering from it (warming, or measuring the hit rate first).
        case writeOnly = "write_only"
    }

    public var enabled = false
    /// Where entries live: this process (default) or Redis, shared by every instance.
    public var backend = Backend.memory
    public var mode = Mode.readWrite
    public var ttl: Duration = .seconds(3600)
    /// Memory bound of the in-process cache (least recently used entries go first).
    public var maxBytes = 64 * 1024 * 1024
    /// Larger answers are not stored.
    public var maxEntryBytes = 1024 * 1024
    public var partition = Partition.key
    /// Top-level request fields that do not change the answer (left out of the key).
    public var ignoreParameters: [String] = ["user", "metadata", "store", "service_tier"]
    /// Requests with a higher `temperature` are not cached (their answers are meant to vary).
    public var maxTemperature: Double?
    /// Only these model groups; nil is every group.
    public var models: [String]?
    /// Whether a hit still counts against rate limits (default true: the client did make a request).
    public var countHitsForLimits = true
    /// Requests carrying tools or tool results are cached only when this is on.
    public var cacheTools = true
    /// Near-duplicate questions answered from the cache (`cache.semantic`).
    public var semantic: SemanticCacheSettings?
    /// Policies per model, key, team, org or endpoint (`cache.rules`): the first that matches
    /// a request overrides the settings above for it.
    public var rules: [CachePolicy] = []

    public init() {}

    /// The settings for one request: these, with the first matching rule applied.
    public func effective(requestedModel: String, group: String, identity: Identity, endpoint: String) -> CacheSettings {
        guard
            let rule = rules.first(where: {
                $0.scope.matches(model: group, identity: identity, endpoint: endpoint)
                    || $0.scope.matches(model: requestedModel, identity: identity, endpoint: endpoint)
            })
        else { return self }
        var settings = self
        if let value = rule.enabled { settings.enabled = value }
        if let value = rule.ttl { settings.ttl = value }
        if let value = rule.mode { settings.mode = value }
        if let value = rule.maxTemperature { settings.maxTemperature = value }
        if let value = rule.maxEntryBytes { settings.maxEntryBytes = value }
        if rule.semantic == false { settings.semantic = nil }
        settings.rules = []
        return settings
    }
}

/// One `cache.rules` entry: a scope and the settings it overrides.
public struct CachePolicy: Sendable, Equatable {
    public var scope = PromptScope()
    public var enabled: Bool?
    public var ttl: Duration?
    public var mode: CacheSettings.Mode?
    public var maxTemperature: Double?
    public var maxEntryBytes: Int?
    /// `false` turns the semantic layer off for the scope.
    public var semantic: Bool?
    public init() {}
}

/// A stored answer: exactly what the client received (in its dialect), replayed byte for byte;
/// a stream is stored as its SSE bytes and replayed event by event.
public struct CachedResponse: Sendable, Equatable {
    public var stream: Bool
    public var body: [UInt8]
    public var usage: TokenUsage?
    /// The deployment's price, to report the cost a hit saved.
    public var savedCost: Double?
    public var model: String?
    public var createdAt: Double

    public init(stream: Bool, body: [UInt8], usage: TokenUsage?, savedCost: Double?, model: String?, createdAt: Double) {
        self.stream = stream
        self.body = body
        self.usage = usage
        self.savedCost = savedCost
        self.model = model
        self.createdAt = createdAt
    }

    public var size: Int { body.count + 128 }

    /// The answer's text (OpenAI or Anthropic form, whole or streamed), for verification.
    public var answerText: String {
        if !stream {
            guard let value = try? JSONValue.parse(body) else { return "" }
            if let content = value["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue { return content }
            return value["content"]?.arrayValue?.compactMap { $0["text"]?.stringValue }.joined() ?? ""
        }
        var text = ""
        for event in events {
            for line in event.split(separator: UInt8(ascii: "\n")) where line.starts(with: Array("data: ".utf8)) {
                guard let value = try? JSONValue.parse(line.dropFirst(6)) else { continue }
                text += value["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue ?? value["delta"]?["text"]?.stringValue ?? ""
            }
        }
        return text
    }

    /// Everything but the body, for stores that keep the body apart (Redis, SQLite).
    public var metadata: JSONObject {
        var header: JSONObject = ["stream": .bool(stream), "created": JSONValue(createdAt)]
        if let usage {
            header["usage"] = [
                "prompt": JSONValue(usage.promptTokens), "completion": JSONValue(usage.completionTokens),
                "cached": JSONValue(usage.cachedPromptTokens), "reasoning": JSONValue(usage.reasoningTokens),
                "cache_write": JSONValue(usage.cacheWriteTokens),
            ]
        }
        if let savedCost { header["saved"] = JSONValue(savedCost) }
        if let model { header["model"] = .string(model) }
        return header
    }

    /// The entry from ``metadata`` and its body.
    public init(metadata header: JSONObject, body: [UInt8]) {
        let usage = header["usage"].map { usage in
            TokenUsage(
                promptTokens: usage["prompt"]?.intValue ?? 0, completionTokens: usage["completion"]?.intValue ?? 0,
                cachedPromptTokens: usage["cached"]?.intValue ?? 0, reasoningTokens: usage["reasoning"]?.intValue ?? 0,
                cacheWriteTokens: usage["cache_write"]?.intValue ?? 0)
        }
        self.init(
            stream: header["stream"]?.boolValue ?? false, body: body, usage: usage, savedCost: header["saved"]?.doubleValue,
            model: header["model"]?.stringValue, createdAt: header["created"]?.doubleValue ?? 0)
    }

    /// SSE events (each ends with its blank line), for replay.
    public var events: [ArraySlice<UInt8>] {
        var events: [ArraySlice<UInt8>] = []
        var start = 0
        var index = 0
        while index + 1 < body.count {
            if body[index] == UInt8(ascii: "\n") && body[index + 1] == UInt8(ascii: "\n") {
                events.append(body[start..<index + 2])
                start = index + 2
                index += 2
            } else {
                index += 1
            }
        }
        if start < body.count { events.append(body[start...]) }
        return events
    }
}

/// What identifies a cache entry and what it may be invalidated by.
public struct CacheKey: Sendable, Hashable {
    /// Hex SHA-256 of everything that changes the answer.
    public var digest: String
    public var partition: String
    public var namespace: String
    public var model: String

    public init(digest: String, partition: String, namespace: String, model: String) {
        self.digest = digest
        self.partition = partition
        self.namespace = namespace
        self.model = model
    }
}

/// Where entries live.
public protocol CacheBackend: Sendable {
    func get(_ key: CacheKey) async throws -> CachedResponse?
    func set(_ key: CacheKey, _ value: CachedResponse, ttl: Duration) async throws
    /// Removes entries matching every given filter; returns how many.
    func invalidate(partition: String?, namespace: String?, model: String?, olderThan: Double?) async throws -> Int
}

/// The exact response cache: keys, policy, lookups and stores.
public enum ResponseCache {
    /// The key of a request, or nil when the request must not be cached (with the reason).
    public static func key(
        settings: CacheSettings, request: OpenAIRequest, canonicalBody: [UInt8], dialect: ClientDialect, group: String, identity: Identity,
        namespace: String
    ) -> Result<CacheKey, Bypass> {
        if let models = settings.models, !models.contains(group) { return .failure(.model) }
        if let limit = settings.maxTemperature, let temperature = request.scan.number("temperature"), temperature > limit {
            return .failure(.temperature)
        }
        let caller = identity.kind == .anonymous ? "anonymous" : "\(identity.kind.rawValue):\(identity.subject)"
        let partition: String =
            switch settings.partition {
            case .key: caller
            case .team: identity.teamID.map { "team:\($0)" } ?? caller
            case .org: identity.organizationID.map { "org:\($0)" } ?? caller
            case .global: "global"
            }
        let parts = [partition, namespace, group, request.endpoint.rawValue, dialect.rawValue]
        // The same bytes under the same settings give the same digest: a repeated request (the
        // one a cache exists for) skips the parse, the canonical form and the SHA-256.
        let memoKey = DigestMemo.Key(parts: parts, ignoreParameters: settings.ignoreParameters, cacheTools: settings.cacheTools, body: canonicalBody)
        let outcome: Result<String, Bypass>
        if let known = DigestMemo.shared.lookup(memoKey) {
            outcome = known
        } else {
            outcome = digestOutcome(parts, canonicalBody: canonicalBody, settings: settings)
            DigestMemo.shared.store(memoKey, outcome)
        }
        return outcome.map { CacheKey(digest: $0, partition: partition, namespace: namespace, model: group) }
    }

    /// The digest of a body, or why it is not cached (not a JSON object; tools when they are off).
    static func digestOutcome(_ parts: [String], canonicalBody: [UInt8], settings: CacheSettings) -> Result<String, Bypass> {
        guard let object = (try? JSONValue.parse(canonicalBody))?.objectValue else { return .failure(.body) }
        if !settings.cacheTools,
            object["tools"] != nil || object["functions"] != nil
                || (object["messages"]?.arrayValue ?? []).contains(where: { $0["role"]?.stringValue == "tool" })
        {
            return .failure(.tools)
        }
        return .success(digest(parts, object, settings: settings))
    }

    /// Digests of recently seen bodies, keyed by everything the digest depends on (the parts,
    /// the settings that change it, the exact bytes), so an entry can never answer for another
    /// request. Bounded: bodies up to 16 KiB, 256 entries, emptied when full.
    final class DigestMemo: Sendable {
        struct Key: Hashable, Sendable {
            var parts: [String]
            var ignoreParameters: [String]
            var cacheTools: Bool
            var body: [UInt8]

            // The body hashed and compared as one block of bytes (element by element, a 1 KB
            // body cost more than the digest it saves).
            func hash(into hasher: inout Hasher) {
                hasher.combine(parts)
                hasher.combine(ignoreParameters)
                hasher.combine(cacheTools)
                hasher.combine(body.count)
                body.withUnsafeBytes { hasher.combine(bytes: $0) }
            }

            static func == (left: Key, right: Key) -> Bool {
                guard left.cacheTools == right.cacheTools, left.body.count == right.body.count, left.parts == right.parts,
                    left.ignoreParameters == right.ignoreParameters
                else { return false }
                return left.body.withUnsafeBytes { a in
                    right.body.withUnsafeBytes { b in a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 }
                }
            }
        }

        static let shared = DigestMemo()
        static let maximumBodyBytes = 16 * 1024
        static let capacity = 256

        private let entries = Mutex<[Key: Result<String, Bypass>]>([:])

        func lookup(_ key: Key) -> Result<String, Bypass>? {
            guard key.body.count <= Self.maximumBodyBytes else { return nil }
            return entries.withLock { $0[key] }
        }

        func store(_ key: Key, _ outcome: Result<String, Bypass>) {
            guard key.body.count <= Self.maximumBodyBytes else { return }
            entries.withLock { entries in
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
                entries[key] = outcome
            }
        }

        var count: Int { entries.withLock { $0.count } }
    }

    /// SHA-256 (hex) of `parts` and of the body without `model` and the ignored parameters,
    /// its members sorted: the one digest behind exact keys and semantic contexts.
    static func digest(_ parts: [String], _ object: JSONObject, settings: CacheSettings) -> String {
        var members = object.members.filter { !settings.ignoreParameters.contains($0.key) && $0.key != "model" }
        members.sort { $0.key < $1.key }
        var hasher = SHA256()
        for part in parts { hasher.update(data: Array(part.utf8) + [0]) }
        hasher.update(data: canonical(.object(JSONObject(members))))
        return VirtualKeyFormat.hex(hasher.finalize())
    }

    /// Why a request was not looked up.
    public enum Bypass: String, Error, Sendable {
        case model, temperature, tools, body
        case noCache = "no-cache"
        case noStore = "no-store"
    }

    /// JSON with object keys sorted at every depth (numbers and strings as written), so member
    /// order never changes the key.
    static func canonical(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        func write(_ value: JSONValue) {
            switch value {
            case .object(let object):
                writer.raw("{")
                for (index, member) in object.members.sorted(by: { $0.key < $1.key }).enumerated() {
                    if index > 0 { writer.raw(",") }
                    writer.writeString(member.key)
                    writer.raw(":")
                    write(member.value)
                }
                writer.raw("}")
            case .array(let items):
                writer.raw("[")
                for (index, item) in items.enumerated() {
                    if index > 0 { writer.raw(",") }
                    write(item)
                }
                writer.raw("]")
            default:
                writer.write(value)
            }
        }
        write(value)
        return writer.bytes
    }
}

/// Entries in this process, bounded by bytes, least recently used evicted first.
public final class MemoryCacheBackend: CacheBackend {
    struct Entry {
        var key: CacheKey
        var value: CachedResponse
        var expiresAt: ContinuousClock.Instant
        /// Neighbours in recency order, as slots of ``State/slots`` (-1: none).
        var previous = -1
        var next = -1
    }

    /// Entries in slots linked by index, found by digest: a hit is one dictionary lookup and
    /// a few array writes (linking by digest cost a hashed lookup per neighbour).
    struct State {
        var slots: [Entry?] = []
        var free: [Int] = []
        var index: [String: Int] = [:]
        /// Most recently used first.
        var head = -1
        var tail = -1
        var bytes = 0

        mutating func unlink(_ slot: Int) {
            let previous = slots[slot]!.previous, next = slots[slot]!.next
            if previous >= 0 { slots[previous]!.next = next } else { head = next }
            if next >= 0 { slots[next]!.previous = previous } else { tail = previous }
            slots[slot]!.previous = -1
            slots[slot]!.next = -1
        }

        mutating func pushFront(_ slot: Int) {
            slots[slot]!.next = head
            slots[slot]!.previous = -1
            if head >= 0 { slots[head]!.previous = slot }
            head = slot
            if tail < 0 { tail = slot }
        }

        mutating func insert(_ entry: Entry) {
            let slot: Int
            if let reused = free.popLast() {
                slot = reused
                slots[slot] = entry
            } else {
                slot = slots.count
                slots.append(entry)
            }
            index[entry.key.digest] = slot
            pushFront(slot)
            bytes += entry.value.size
        }

        mutating func remove(_ slot: Int) {
            unlink(slot)
            let entry = slots[slot]!
            bytes -= entry.value.size
            index[entry.key.digest] = nil
            slots[slot] = nil
            free.append(slot)
        }
    }

    private let state = Mutex(State())
    public let maxBytes: Int

    public init(maxBytes: Int) {
        self.maxBytes = maxBytes
    }

    public func get(_ key: CacheKey) async throws -> CachedResponse? {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let slot = state.index[key.digest] else { return nil }
            guard state.slots[slot]!.expiresAt > now else {
                state.remove(slot)
                return nil
            }
            if slot != state.head {
                state.unlink(slot)
                state.pushFront(slot)
            }
            return state.slots[slot]!.value
        }
    }

    public func set(_ key: CacheKey, _ value: CachedResponse, ttl: Duration) async throws {
        guard value.size <= maxBytes else { return }
        state.withLock { state in
            if let slot = state.index[key.digest] { state.remove(slot) }
            state.insert(Entry(key: key, value: value, expiresAt: .now + ttl))
            while state.bytes > maxBytes, state.tail >= 0 { state.remove(state.tail) }
        }
    }

    public func invalidate(partition: String?, namespace: String?, model: String?, olderThan: Double?) async throws -> Int {
        state.withLock { state in
            let doomed = state.slots.indices.filter { slot in
                guard let entry = state.slots[slot] else { return false }
                return (partition == nil || entry.key.partition == partition) && (namespace == nil || entry.key.namespace == namespace)
                    && (model == nil || entry.key.model == model) && (olderThan == nil || entry.value.createdAt < olderThan!)
            }
            for slot in doomed { state.remove(slot) }
            return doomed.count
        }
    }

    public var bytes: Int { state.withLock { $0.bytes } }
    public var count: Int { state.withLock { $0.index.count } }
}
