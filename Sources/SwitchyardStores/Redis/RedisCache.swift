import Crypto
import Foundation
import SwitchyardCore

/// Response-cache entries in Redis, shared by every instance. Keys name the model, namespace and
/// partition (hex-encoded, so invalidation can match them with SCAN) and end with the request
/// digest; entries expire with the cache's TTL (`PX`).
public struct RedisCacheBackend: CacheBackend, SemanticStore {
    public let client: RedisClient
    public let prefix: String

    public init(client: RedisClient, prefix: String = "switchyard") {
        self.client = client
        self.prefix = prefix
    }

    static func hex(_ text: String) -> String { VirtualKeyFormat.hex(Array(text.utf8)) }

    func redisKey(_ key: CacheKey) -> String {
        "\(prefix):cache:\(Self.hex(key.model)):\(Self.hex(key.namespace)):\(Self.hex(key.partition)):\(key.digest)"
    }

    public func get(_ key: CacheKey) async throws -> CachedResponse? {
        let reply = try await client.send(["GET", redisKey(key)])
        guard let text = reply.string else { return nil }
        return Self.decode(text)
    }

    public func set(_ key: CacheKey, _ value: CachedResponse, ttl: Duration) async throws {
        let milliseconds = max(1, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)
        try await client.send(["SET", redisKey(key), Self.encode(value), "PX", String(milliseconds)])
    }

    public func invalidate(partition: String?, namespace: String?, model: String?, olderThan: Double?) async throws -> Int {
        let pattern = "\(prefix):cache:\(model.map(Self.hex) ?? "*"):\(namespace.map(Self.hex) ?? "*"):\(partition.map(Self.hex) ?? "*"):*"
        var cursor = "0"
        var removed = 0
        repeat {
            let reply = try await client.send(["SCAN", cursor, "MATCH", pattern, "COUNT", "500"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else { break }
            cursor = next
            var keys = parts[1].array?.compactMap(\.string) ?? []
            if let olderThan {
                var old: [String] = []
                for key in keys {
                    if let text = try await client.send(["GET", key]).string, let entry = Self.decode(text), entry.createdAt < olderThan {
                        old.append(key)
                    }
                }
                keys = old
            }
            if !keys.isEmpty { removed += Int(try await client.send(["DEL"] + keys).int ?? 0) }
        } while cursor != "0"
        return removed
    }

    /// Semantic entries per conversation context, in a list each instance appends to and
    /// reads on a local miss: `<prefix>:semantic:<sha256 of the context>`.
    func semanticKey(_ context: String) -> String {
        "\(prefix):semantic:" + VirtualKeyFormat.hex(SHA256.hash(data: Array(context.utf8)))
    }

    /// Entries kept per context (the newest).
    static let semanticPerContext = 256

    public func loadSemanticEntries(limit: Int) async throws -> [(probe: SemanticProbe, key: CacheKey)] { [] }

    public func saveSemanticEntry(_ probe: SemanticProbe, key: CacheKey, maxEntries: Int, ttl: Duration) async throws {
        let vector = probe.vector.withUnsafeBufferPointer { Data(buffer: $0) }.base64EncodedString()
        let entry: JSONValue = [
            "d": .string(key.digest), "p": .string(key.partition), "n": .string(key.namespace), "m": .string(key.model), "v": .string(vector),
        ]
        let list = semanticKey(probe.context)
        let milliseconds = max(1, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)
        try await client.send(["RPUSH", list, entry.serialized()])
        try await client.send(["LTRIM", list, String(-min(maxEntries, Self.semanticPerContext)), "-1"])
        try await client.send(["PEXPIRE", list, String(milliseconds)])
    }

    public func sharedSemanticEntries(context: String) async throws -> [(vector: [Float], key: CacheKey)]? {
        let reply = try await client.send(["LRANGE", semanticKey(context), "0", "-1"])
        return (reply.array ?? []).compactMap { item -> (vector: [Float], key: CacheKey)? in
            guard let text = item.string, let entry = try? JSONValue.parse(text), let digest = entry["d"]?.stringValue,
                let encoded = entry["v"]?.stringValue, let data = Data(base64Encoded: encoded)
            else { return nil }
            let vector = data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
            let key = CacheKey(
                digest: digest, partition: entry["p"]?.stringValue ?? "", namespace: entry["n"]?.stringValue ?? "",
                model: entry["m"]?.stringValue ?? "")
            return (vector, key)
        }
    }

    /// A JSON header line, then the body in base64 (RESP commands here are text).
    static func encode(_ value: CachedResponse) -> String {
        JSONValue.object(value.metadata).serialized() + "\n" + Data(value.body).base64EncodedString()
    }

    static func decode(_ text: String) -> CachedResponse? {
        guard let newline = text.firstIndex(of: "\n"), let header = (try? JSONValue.parse(String(text[..<newline])))?.objectValue,
            let body = Data(base64Encoded: String(text[text.index(after: newline)...]))
        else { return nil }
        return CachedResponse(metadata: header, body: Array(body))
    }
}
