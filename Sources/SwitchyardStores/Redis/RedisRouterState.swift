import SwitchyardCore

/// Router state shared through Redis: every instance publishes its open breakers (a key that
/// expires when the breaker would let probes through) and its latency per deployment (a hash
/// field per instance, with a timestamp), and reads the others' in the same pipelined round
/// trip.
public struct RedisRouterStateBackend: SharedRouterStateBackend {
    public let client: RedisClient
    public let prefix: String
    /// Latency reports older than this are ignored.
    public var latencyMaxAge: Double = 30

    public init(client: RedisClient, prefix: String = "switchyard") {
        self.client = client
        self.prefix = prefix
    }

    func openKey(_ key: String) -> String { "\(prefix):router:open:\(key)" }
    func latencyKey(_ key: String) -> String { "\(prefix):router:latency:\(key)" }

    public func exchange(instance: String, local: [SharedDeploymentState], keys: [String]) async throws -> [SharedDeploymentState] {
        let now = WallClock.unixTime()
        var commands: [[String]] = []
        for state in local {
            if let until = state.openUntil, until > now {
                let milliseconds = Int64(((until - now) * 1000).rounded(.up))
                commands.append(["SET", openKey(state.key), String(until), "PX", String(max(1, milliseconds))])
            }
            if let latency = state.latency {
                commands.append(["HSET", latencyKey(state.key), instance, "\(latency):\(now)"])
                commands.append(["PEXPIRE", latencyKey(state.key), "60000"])
            }
        }
        let readsStart = commands.count
        for key in keys {
            commands.append(["GET", openKey(key)])
            commands.append(["HGETALL", latencyKey(key)])
        }
        let replies = try await client.pipeline(commands)
        var result: [SharedDeploymentState] = []
        for (index, key) in keys.enumerated() {
            var state = SharedDeploymentState(key: key)
            if let text = replies[readsStart + index * 2].string, let until = Double(text), until > now {
                state.openUntil = until
            }
            let fields = replies[readsStart + index * 2 + 1].array ?? []
            var sum = 0.0
            var count = 0
            var position = 0
            while position + 1 < fields.count {
                defer { position += 2 }
                guard fields[position].string != instance, let value = fields[position + 1].string else { continue }
                let parts = value.split(separator: ":")
                guard parts.count == 2, let latency = Double(parts[0]), let at = Double(parts[1]), now - at <= latencyMaxAge else { continue }
                sum += latency
                count += 1
            }
            if count > 0 { state.latency = sum / Double(count) }
            if state.openUntil != nil || state.latency != nil { result.append(state) }
        }
        return result
    }
}
