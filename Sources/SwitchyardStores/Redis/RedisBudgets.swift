import SwitchyardCore

/// Budget counters in Redis (integer nano-USD per budget and period), checked and reserved
/// atomically by one Lua script, so all instances draw on the same budget. Counters of a
/// period expire a week after it ends; `total` budgets never expire.
public struct RedisBudgetBackend: BudgetBackend {
    public let client: RedisClient
    public let prefix: String

    public init(client: RedisClient, prefix: String = "switchyard") {
        self.client = client
        self.prefix = prefix
    }

    /// ARGV per key: limit, reserve, expiry (Unix ms, 0 for none).
    /// Returns {0, current...} when every budget had room (reservations taken), else
    /// {index, current...}.
    static let acquireScript = RedisScript(
        """
        local current = {}
        for i = 1, #KEYS do
          local b = (i - 1) * 3
          local limit = tonumber(ARGV[b + 1])
          local reserve = tonumber(ARGV[b + 2])
          local v = tonumber(redis.call('GET', KEYS[i]) or '0')
          current[i] = v
          if v + reserve > limit or v >= limit then
            local out = {i}
            for j = 1, i do table.insert(out, current[j]) end
            return out
          end
        end
        local out = {0}
        for i = 1, #KEYS do
          local b = (i - 1) * 3
          redis.call('INCRBY', KEYS[i], ARGV[b + 2])
          local expiry = tonumber(ARGV[b + 3])
          if expiry > 0 then redis.call('PEXPIREAT', KEYS[i], expiry) end
          table.insert(out, current[i])
        end
        return out
        """)

    static let settleScript = RedisScript(
        """
        local out = {}
        for i = 1, #KEYS do
          table.insert(out, redis.call('INCRBY', KEYS[i], ARGV[1]))
        end
        return out
        """)

    func key(_ name: String) -> String { "\(prefix):budget:\(name)" }

    static func expiry(_ periodEnd: Int64?) -> Int64 {
        periodEnd.map { ($0 + 7 * 86_400) * 1000 } ?? 0
    }

    public func seed(key: String, nanos: Int64, expiresAt: Int64?) async throws {
        var command = ["SET", self.key(key), String(nanos), "NX"]
        let expiry = Self.expiry(expiresAt)
        if expiry > 0 { command += ["PXAT", String(expiry)] }
        _ = try await client.send(command)
    }

    public func acquire(_ checks: [BudgetCheck]) async throws -> BudgetDecision {
        var arguments: [String] = []
        for check in checks {
            arguments += [String(check.limitNanos), String(check.reserveNanos), String(Self.expiry(check.periodEnd))]
        }
        let reply = try await client.evaluate(Self.acquireScript, keys: checks.map { key($0.key) }, arguments: arguments)
        guard let values = reply.array?.compactMap(\.int), let first = values.first else {
            throw RedisError.protocolError("unexpected budget script reply")
        }
        let current = Array(values.dropFirst())
        return BudgetDecision(blockedIndex: first == 0 ? nil : Int(first) - 1, current: current)
    }

    public func settle(_ checks: [BudgetCheck], delta: Int64) async throws -> [Int64] {
        let reply = try await client.evaluate(Self.settleScript, keys: checks.map { key($0.key) }, arguments: [String(delta)])
        guard let values = reply.array?.compactMap(\.int), values.count == checks.count else {
            throw RedisError.protocolError("unexpected budget settle reply")
        }
        return values
    }

    public func current(_ keys: [String]) async throws -> [Int64] {
        guard !keys.isEmpty else { return [] }
        let reply = try await client.send(["MGET"] + keys.map(key))
        return (reply.array ?? []).map { $0.string.flatMap { Int64($0) } ?? 0 }
    }

    public func claimAlert(_ key: String, expiresAt: Int64?) async throws -> Bool {
        var command = ["SET", self.key(key), "1", "NX"]
        let expiry = Self.expiry(expiresAt)
        if expiry > 0 { command += ["PXAT", String(expiry)] }
        let reply = try await client.send(command)
        return reply.string == "OK"
    }
}
