import SwitchyardCore

/// Rate-limit counters in Redis, checked and taken atomically by one Lua script per request,
/// so every instance sharing the server enforces the same limit. Time is the server's
/// (`TIME`), so instances with skewed clocks still agree.
///
/// Per-minute limits are token buckets (a hash of level and timestamp), daily token limits are
/// counters keyed by UTC day, concurrency is a sorted set of leases scored by expiry (a crashed
/// instance's slots free themselves).
public struct RedisRateLimitBackend: RateLimitBackend {
    public let client: RedisClient
    public let prefix: String

    public init(client: RedisClient, prefix: String = "switchyard") {
        self.client = client
        self.prefix = prefix
    }

    /// ARGV: lease, lease ms, then per check: kind, capacity, rate per ms, cost, limit.
    /// Returns {1, remaining1, reset1, ...} or {0, index, wait ms (-1: never)}.
    static let acquireScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local lease = ARGV[1]
        local leaseMs = tonumber(ARGV[2])
        local day = math.floor(now / 86400000)
        local untilTomorrow = (day + 1) * 86400000 - now
        local levels = {}
        for i = 1, #KEYS do
          local b = 2 + (i - 1) * 5
          local kind = ARGV[b + 1]
          local cap = tonumber(ARGV[b + 2])
          local rate = tonumber(ARGV[b + 3])
          local cost = tonumber(ARGV[b + 4])
          local limit = tonumber(ARGV[b + 5])
          if kind == 'bucket' then
            local h = redis.call('HMGET', KEYS[i], 'v', 't')
            local v = tonumber(h[1]) or cap
            local ts = tonumber(h[2]) or now
            v = math.min(cap, v + math.max(0, now - ts) * rate)
            levels[i] = v
            if v < cost then
              if cost > cap then return {0, i, -1} end
              return {0, i, math.ceil((cost - v) / rate)}
            end
          elseif kind == 'day' then
            local used = tonumber(redis.call('GET', KEYS[i] .. ':' .. day) or '0')
            levels[i] = used
            if used + cost > limit then
              if cost > limit then return {0, i, -1} end
              return {0, i, untilTomorrow}
            end
          else
            redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
            local active = redis.call('ZCARD', KEYS[i])
            levels[i] = active
            if active + 1 > limit then return {0, i, 1000} end
          end
        end
        local out = {1}
        for i = 1, #KEYS do
          local b = 2 + (i - 1) * 5
          local kind = ARGV[b + 1]
          local cap = tonumber(ARGV[b + 2])
          local rate = tonumber(ARGV[b + 3])
          local cost = tonumber(ARGV[b + 4])
          local limit = tonumber(ARGV[b + 5])
          if kind == 'bucket' then
            local v = levels[i] - cost
            redis.call('HSET', KEYS[i], 'v', tostring(v), 't', tostring(now))
            redis.call('PEXPIRE', KEYS[i], math.ceil(cap / rate) + 60000)
            table.insert(out, math.floor(v))
            table.insert(out, math.ceil((cap - v) / rate))
          elseif kind == 'day' then
            local key = KEYS[i] .. ':' .. day
            local used = redis.call('INCRBY', key, cost)
            redis.call('PEXPIRE', key, 2 * 86400000)
            table.insert(out, limit - used)
            table.insert(out, untilTomorrow)
          else
            redis.call('ZADD', KEYS[i], now + leaseMs, lease)
            redis.call('PEXPIRE', KEYS[i], leaseMs + 60000)
            table.insert(out, limit - levels[i] - 1)
            table.insert(out, 0)
          end
        end
        return out
        """)

    /// ARGV: lease, token delta, then per check: kind, capacity, rate per ms.
    static let settleScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local lease = ARGV[1]
        local delta = tonumber(ARGV[2])
        local day = math.floor(now / 86400000)
        for i = 1, #KEYS do
          local b = 2 + (i - 1) * 3
          local kind = ARGV[b + 1]
          local cap = tonumber(ARGV[b + 2])
          local rate = tonumber(ARGV[b + 3])
          if kind == 'tokens' and delta ~= 0 then
            local h = redis.call('HMGET', KEYS[i], 'v', 't')
            if h[1] then
              local v = math.min(cap, tonumber(h[1]) + math.max(0, now - tonumber(h[2])) * rate) - delta
              redis.call('HSET', KEYS[i], 'v', tostring(v), 't', tostring(now))
            end
          elseif kind == 'day' and delta ~= 0 then
            local key = KEYS[i] .. ':' .. day
            if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, delta) end
          elseif kind == 'concurrent' then
            redis.call('ZREM', KEYS[i], lease)
          end
        end
        return 1
        """)

    func key(_ check: LimitCheck) -> String { "\(prefix):limits:\(check.key)" }

    public func acquire(_ checks: [LimitCheck], lease: String, leaseSeconds: Int) async throws -> LimitDecision {
        var arguments = [lease, String(leaseSeconds * 1000)]
        for check in checks {
            let kind: String =
                switch check.kind {
                case .requests, .tokens: "bucket"
                case .tokensPerDay: "day"
                case .concurrent: "concurrent"
                }
            arguments += [kind, String(check.capacity), String(check.ratePerMillisecond), String(check.cost), String(check.limit)]
        }
        let reply = try await client.evaluate(Self.acquireScript, keys: checks.map(key), arguments: arguments)
        guard let values = reply.array?.compactMap(\.int), let first = values.first else {
            throw RedisError.protocolError("unexpected rate-limit script reply")
        }
        if first == 0, values.count == 3 {
            let wait = values[2]
            return LimitDecision(allowed: false, blockedIndex: Int(values[1]) - 1, retryAfterMilliseconds: wait < 0 ? nil : Int(wait))
        }
        var decision = LimitDecision(allowed: true)
        var index = 1
        while index + 1 < values.count {
            decision.remaining.append(Int(values[index]))
            decision.resetMilliseconds.append(Int(values[index + 1]))
            index += 2
        }
        return decision
    }

    public func settle(_ checks: [LimitCheck], lease: String, tokenDelta: Int) async throws {
        let relevant = checks.filter { $0.kind != .requests }
        guard !relevant.isEmpty else { return }
        var arguments = [lease, String(tokenDelta)]
        for check in relevant {
            let kind: String =
                switch check.kind {
                case .requests, .tokens: "tokens"
                case .tokensPerDay: "day"
                case .concurrent: "concurrent"
                }
            arguments += [kind, String(check.capacity), String(check.ratePerMillisecond)]
        }
        _ = try await client.evaluate(Self.settleScript, keys: relevant.map(key), arguments: arguments)
    }
}
