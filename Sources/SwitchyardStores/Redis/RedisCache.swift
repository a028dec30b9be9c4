import Foundation
import SwitchyardCore

/// Response-cache entries in Redis, shared by every instance. Keys name the model, namespace and
/// partition (hex-encoded, so invalidation can match them with SCAN) and end with the request
/// digest; entries expire with the cache's TTL (`PX`).
public struct RedisCacheBackend: CacheBackend {
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
