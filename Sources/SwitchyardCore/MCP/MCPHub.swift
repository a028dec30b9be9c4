import CoreMetrics
import Crypto
import Instrumentation
import Logging
import Synchronization
import Tracing

/// Who is calling `/mcp`, for one JSON-RPC request.
public struct MCPCaller: Sendable {
    public var identity: Identity
    /// The gateway's id of the HTTP request.
    public var requestID: String
    public var headers: [HeaderField]
    /// The request's server span (tracing on).
    public var traceContext: InstrumentationContext?

    public init(identity: Identity, requestID: String, headers: [HeaderField] = [], traceContext: InstrumentationContext? = nil) {
        self.identity = identity
        self.requestID = requestID
        self.headers = headers
        self.traceContext = traceContext
    }
}

/// The lists `/mcp` merges across servers.
public enum MCPListKind: String, Sendable, CaseIterable {
    case tools, prompts, resources
    case resourceTemplates = "resource_templates"

    public var method: String {
        switch self {
        case .tools: "tools/list"
        case .prompts: "prompts/list"
        case .resources: "resources/list"
        case .resourceTemplates: "resources/templates/list"
        }
    }

    var itemsKey: String {
        switch self {
        case .tools: "tools"
        case .prompts: "prompts"
        case .resources: "resources"
        case .resourceTemplates: "resourceTemplates"
        }
    }
}

/// The federation behind `/mcp`: the upstream servers' tools, prompts and resources merged into
/// one list (names prefixed per server), every call routed to the server that owns the name,
/// and every call governed: access rules, guardrails on arguments and results, the audit
/// trail, metrics, the log and an `execute_tool` span.
///
/// A server that is down contributes nothing to the lists, and a call to one of its tools gets
/// a `server_unavailable` error; the other servers are unaffected.
public final class MCPHub: Sendable {
    public let upstreams: [any MCPUpstream]
    public let sessions: MCPSessionStore
    let gateway: Gateway
    let audit: any AuditSink
    let metrics: GatewayMetrics
    let logger: Logger
    /// Exposed name → owning server and the server's own name, from the latest lists.
    private let index = Mutex(Index())
    /// The sessions' server-initiated streams (`GET /mcp`).
    public let streams: MCPStreams
    /// Changes of the servers' lists, announced by ``runNotifications()``.
    let changes = AsyncStream<MCPListChange>.makeStream()
    /// Whether each server was ready when last reported (its items are in the lists).
    let readiness = Mutex<[String: Bool]>([:])

    struct Index {
        var tools: [String: Route] = [:]
        var prompts: [String: Route] = [:]
        var resources: [String: Route] = [:]
    }

    struct Route: Sendable {
        var server: String
        var name: String
    }

    /// `sessionSecret` signs session ids, so that instances sharing it share sessions.
    public init(
        upstreams: [any MCPUpstream], gateway: Gateway, audit: any AuditSink, metrics: GatewayMetrics, logger: Logger,
        sessionSecret: (@Sendable () -> String?)? = nil
    ) {
        self.sessions = MCPSessionStore(secret: sessionSecret)
        self.streams = MCPStreams { open in metrics.gauge("switchyard_mcp_client_streams", []).record(open) }
        self.upstreams = upstreams
        self.gateway = gateway
        self.audit = audit
        self.metrics = metrics
        self.logger = logger
    }

    func upstream(named name: String) -> (any MCPUpstream)? { upstreams.first { $0.config.name == name } }

    /// Answers one JSON-RPC request other than `initialize`.
    public func handle(method: String, params: JSONValue?, caller: MCPCaller) async -> Result<JSONValue, JSONRPCError> {
        let object = params?.objectValue ?? [:]
        switch method {
        case "ping":
            return .success(.object([:]))
        case "logging/setLevel":
            return .success(.object([:]))
        case "tools/list":
            return await page(.tools, object, caller: caller)
        case "prompts/list":
            return await page(.prompts, object, caller: caller)
        case "resources/list":
            return await page(.resources, object, caller: caller)
        case "resources/templates/list":
            return await page(.resourceTemplates, object, caller: caller)
        case "tools/call":
            guard let name = object["name"]?.stringValue else { return .failure(.invalidParams("tools/call needs a 'name'")) }
            if let arguments = object["arguments"], arguments.objectValue == nil {
                return .failure(.invalidParams("'arguments' must be an object"))
            }
            return await invoke(.tools, name: name, params: object, caller: caller)
        case "prompts/get":
            guard let name = object["name"]?.stringValue else { return .failure(.invalidParams("prompts/get needs a 'name'")) }
            return await invoke(.prompts, name: name, params: object, caller: caller)
        case "resources/read":
            guard let uri = object["uri"]?.stringValue else { return .failure(.invalidParams("resources/read needs a 'uri'")) }
            return await invoke(.resources, name: uri, params: object, caller: caller)
        default:
            return .failure(.methodNotFound(method))
        }
    }

    // MARK: Lists

    /// One page of the merged list the caller may see. The cursor is the gateway's own: the
    /// offset into the merged list (`p<offset>`).
    func page(_ kind: MCPListKind, _ params: JSONObject, caller: MCPCaller) async -> Result<JSONValue, JSONRPCError> {
        var offset = 0
        if let cursor = params["cursor"] {
            guard let text = cursor.stringValue, text.hasPrefix("p"), let value = Int(text.dropFirst()), value >= 0 else {
                return .failure(.invalidParams("unknown cursor"))
            }
            offset = value
        }
        let items = await mergedList(kind, caller: caller)
        guard offset <= items.count else { return .failure(.invalidParams("unknown cursor")) }
        let size = gateway.runtime.snapshot.config.mcp.pageSize
        let end = min(items.count, offset + size)
        var result: JSONObject = [kind.itemsKey: .array(Array(items[offset..<end]))]
        if end < items.count { result["nextCursor"] = .string("p\(end)") }
        return .success(.object(result))
    }

    /// Every server's items (names prefixed), in server order, less what the caller may not use.
    func mergedList(_ kind: MCPListKind, caller: MCPCaller) async -> [JSONValue] {
        let lists = await fetchLists(kind)
        let snapshot = gateway.runtime.snapshot
        let unixTime = gateway.clock.unixTime
        var merged: [JSONValue] = []
        for upstream in upstreams {
            guard let items = lists[upstream.config.name] else { continue }
            let server = upstream.config.name
            if snapshot.access.checkMCP(identity: caller.identity, server: server, tool: nil, headers: caller.headers, unixTime: unixTime) != nil {
                continue
            }
            for (item, original) in items {
                if kind == .tools,
                    snapshot.access.checkMCP(identity: caller.identity, server: server, tool: original, headers: caller.headers, unixTime: unixTime)
                        != nil
                {
                    continue
                }
                merged.append(item)
            }
        }
        return merged
    }

    /// Asks every server for its whole list at once (each server's pages followed), renames the
    /// items, and refreshes the routing index. Servers that fail are left out.
    func fetchLists(_ kind: MCPListKind, from servers: [any MCPUpstream]? = nil) async -> [String: [(item: JSONValue, original: String)]] {
        let lists = await withTaskGroup(of: (String, [(JSONValue, String)]?).self) { group in
            for upstream in servers ?? upstreams {
                group.addTask { (upstream.config.name, await Self.fetchList(kind, from: upstream)) }
            }
            var lists: [String: [(JSONValue, String)]] = [:]
            for await (name, items) in group {
                if let items { lists[name] = items }
            }
            return lists
        }
        index.withLock { index in
            for upstream in upstreams {
                let server = upstream.config.name
                guard let items = lists[server] else { continue }
                var routes: [String: Route] = [:]
                for (item, original) in items {
                    let exposed = kind == .resources ? original : (item["name"]?.stringValue ?? original)
                    routes[exposed] = Route(server: server, name: original)
                }
                switch kind {
                case .tools: index.tools = index.tools.filter { $0.value.server != server }.merging(routes) { first, _ in first }
                case .prompts: index.prompts = index.prompts.filter { $0.value.server != server }.merging(routes) { first, _ in first }
                case .resources: index.resources = index.resources.filter { $0.value.server != server }.merging(routes) { first, _ in first }
                case .resourceTemplates: break
                }
            }
        }
        return lists.mapValues { items in items.map { (item: $0.0, original: $0.1) } }
    }

    /// A server's list with its items renamed; nil when the server failed. A server that does
    /// not offer the list (method not found) has an empty one.
    static func fetchList(_ kind: MCPListKind, from upstream: any MCPUpstream) async -> [(JSONValue, String)]? {
        var items: [(JSONValue, String)] = []
        var cursor: JSONValue?
        for _ in 0..<100 {
            let params: JSONValue? = cursor.map { ["cursor": $0] }
            let result: JSONValue
            do {
                result = try await upstream.call(kind.method, params: params)
            } catch {
                if error.code == JSONRPCError.methodNotFoundCode { return items }
                return nil
            }
            for item in result[kind.itemsKey]?.arrayValue ?? [] {
                guard case .object(var object) = item else { continue }
                switch kind {
                case .tools, .prompts:
                    guard let name = object["name"]?.stringValue else { continue }
                    object["name"] = .string(upstream.config.exposedName(name))
                    items.append((.object(object), name))
                case .resources:
                    guard let uri = object["uri"]?.stringValue else { continue }
                    items.append((.object(object), uri))
                case .resourceTemplates:
                    items.append((.object(object), object["uriTemplate"]?.stringValue ?? ""))
                }
            }
            guard let next = result["nextCursor"], next.stringValue?.isEmpty == false else { break }
            cursor = next
        }
        return items
    }

    /// The server and the server's own name behind an exposed name; the lists are fetched again
    /// once when the name is not known yet.
    func resolve(_ kind: MCPListKind, _ name: String) async -> Route? {
        func lookup() -> Route? {
            index.withLock { index in
                switch kind {
                case .tools: index.tools[name]
                case .prompts: index.prompts[name]
                case .resources: index.resources[name]
                case .resourceTemplates: nil
                }
            }
        }
        if let route = lookup() { return route }
        _ = await fetchLists(kind)
        return lookup()
    }

    // MARK: Calls

    /// A governed call: `tools/call`, `prompts/get` or `resources/read`.
    func invoke(_ kind: MCPListKind, name: String, params: JSONObject, caller: MCPCaller) async -> Result<JSONValue, JSONRPCError> {
        let started = ContinuousClock.now
        let snapshot = gateway.runtime.snapshot
        let method = kind == .tools ? "tools/call" : (kind == .prompts ? "prompts/get" : "resources/read")
        let arguments = params["arguments"] ?? .object([:])
        var call = CallRecord(method: method, exposedName: name, caller: caller, argumentsDigest: Self.digest(arguments))
        guard let route = await resolve(kind, name) else {
            // Known names come only from the servers' lists: a name no server lists is refused
            // here, so metric labels stay bounded by what the servers offer.
            var error: JSONRPCError =
                kind == .resources
                ? JSONRPCError(code: -32002, message: "Resource not found: \(name)", data: ["uri": .string(name)])
                : .invalidParams("Unknown \(kind == .tools ? "tool" : "prompt"): \(name)")
            // A name with the prefix of a server that is down is that server's: say so.
            if kind != .resources,
                let owner = upstreams.first(where: { !$0.config.prefix.isEmpty && name.hasPrefix($0.config.prefix + "_") && !$0.status.isReady })
            {
                var reason = "it is starting"
                if case .down(let detail) = owner.status { reason = detail }
                error = .serverUnavailable(owner.config.name, reason: reason)
            }
            call.finish(outcome: "failed", error: error, duration: ContinuousClock.now - started)
            record(call)
            return .failure(error)
        }
        call.server = route.server
        call.name = kind == .resources ? nil : route.name
        var span: RecordedSpan?
        if kind == .tools, let tracer = gateway.tracer, let context = caller.traceContext, context.spanIdentity?.sampled == true {
            let newSpan = tracer.startSpan("execute_tool \(name)", context: context, ofKind: .internal)
            newSpan.set([
                ("gen_ai.operation.name", .string("execute_tool")), ("gen_ai.tool.name", .string(name)),
                ("gen_ai.tool.type", .string("extension")), ("switchyard.mcp.server", .string(route.server)),
                ("switchyard.mcp.tool", .string(route.name)), ("switchyard.request_id", .string(caller.requestID)),
            ])
            span = newSpan
        }
        let result = await governedCall(kind, route: route, params: params, snapshot: snapshot, call: &call)
        call.finish(
            outcome: result.failure.map { ["access_denied", "guardrail_blocked", "rate_limited"].contains($0.label) ? "denied" : "failed" }
                ?? "success",
            error: result.failure, duration: ContinuousClock.now - started)
        if let span {
            span.set([("switchyard.mcp.outcome", .string(call.outcome))])
            if let error = result.failure {
                span.set([("error.type", .string(error.label))])
                span.setStatus(SpanStatus(code: .error, message: error.label))
            }
            span.end()
        }
        record(call)
        return result
    }

    func governedCall(
        _ kind: MCPListKind, route: Route, params: JSONObject, snapshot: RuntimeSnapshot, call: inout CallRecord
    ) async -> Result<JSONValue, JSONRPCError> {
        let caller = call.caller
        let label = "\(route.server)/\(route.name)"
        if let denial = snapshot.access.checkMCP(
            identity: caller.identity, server: route.server, tool: kind == .tools ? route.name : nil, headers: caller.headers,
            unixTime: gateway.clock.unixTime)
        {
            call.rule = denial.rule
            return .failure(.accessDenied(denial.reason))
        }
        guard let upstream = upstream(named: route.server) else { return .failure(.serverUnavailable(route.server, reason: "not configured")) }
        if kind == .tools, let limit = upstream.config.callsPerMinute(for: route.name) {
            // Counted per caller and tool, in the limiter's backend (shared through Redis when configured).
            let owner = MCPSessionStore.owner(of: caller.identity)
            let check = LimitCheck(
                key: "mcp:\(route.server):\(route.name):\(owner):rpm:\(limit)", scope: .key, kind: .requests, limit: limit, capacity: limit, cost: 1,
                label: "the tool '\(route.name)' of '\(route.server)'")
            let outcome = await gateway.limiter.acquire(
                [check], reservedTokens: 0, leaseSeconds: 60, failOpen: snapshot.config.limits.failOpen, id: caller.requestID)
            if case .refused(let error, _) = outcome {
                call.rule = "tool_limit"
                let retryAfter = error.headers.first { $0.name == "Retry-After" }.flatMap { Int($0.value) }
                return .failure(.rateLimited(error.message, retryAfter: retryAfter))
            }
        }
        var forwarded = params
        forwarded[kind == .resources ? "uri" : "name"] = .string(route.name)
        if kind != .resources, let arguments = params["arguments"] {
            let checked = await gateway.guardMCP(
                arguments, direction: "input", identity: caller.identity, snapshot: snapshot, requestID: caller.requestID, label: label)
            call.guardrails += checked.decisions
            if let refusal = checked.refusal { return .failure(refusal) }
            forwarded["arguments"] = checked.value
        }
        let answer: JSONValue
        do {
            answer = try await upstream.call(
                kind == .tools ? "tools/call" : (kind == .prompts ? "prompts/get" : "resources/read"), params: .object(forwarded))
        } catch {
            return .failure(error)
        }
        let checked = await gateway.guardMCP(
            answer, direction: "output", identity: caller.identity, snapshot: snapshot, requestID: caller.requestID, label: label)
        call.guardrails += checked.decisions
        if let refusal = checked.refusal { return .failure(refusal) }
        if kind == .tools, checked.value["isError"]?.boolValue == true { call.toolError = true }
        return .success(checked.value)
    }

    /// SHA-256 of the arguments as sent, hex: the audit trail tells calls apart without holding them.
    static func digest(_ arguments: JSONValue) -> String {
        SHA256.hash(data: arguments.serializedBytes()).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// What one call did, for the audit trail, metrics, the log and the span.
    struct CallRecord {
        var method: String
        var exposedName: String
        var caller: MCPCaller
        var argumentsDigest: String
        var server: String?
        var name: String?
        var rule: String?
        var guardrails: [GuardrailDecision] = []
        var toolError = false
        var outcome = "success"
        var error: JSONRPCError?
        var duration: Duration = .zero

        init(method: String, exposedName: String, caller: MCPCaller, argumentsDigest: String) {
            self.method = method
            self.exposedName = exposedName
            self.caller = caller
            self.argumentsDigest = argumentsDigest
        }

        mutating func finish(outcome: String, error: JSONRPCError?, duration: Duration) {
            self.outcome = outcome
            self.error = error
            self.duration = duration
        }
    }

    func record(_ call: CallRecord) {
        let identity = call.caller.identity
        let milliseconds = Double(call.duration.nanoseconds / 1000) / 1000
        var details: [String: String] = [
            "method": call.method, "arguments_sha256": call.argumentsDigest, "duration_ms": String(milliseconds),
        ]
        if let server = call.server { details["server"] = server }
        if let name = call.name { details["tool"] = name }
        if let error = call.error { details["error"] = error.label }
        if call.toolError { details["tool_error"] = "true" }
        if let rule = call.rule { details["rule"] = rule }
        if let team = identity.teamID { details["team"] = team }
        if let org = identity.organizationID { details["org"] = org }
        if !call.guardrails.isEmpty { details["guardrails"] = call.guardrails.map(\.summary).joined(separator: ", ") }
        let scrubber = gateway.runtime.snapshot.scrubber
        let action = call.method == "tools/call" ? "tool.call" : (call.method == "prompts/get" ? "prompt.get" : "resource.read")
        let target = call.server.map { "\($0)/\(call.name ?? call.exposedName)" } ?? call.exposedName
        audit.record(
            AuditEvent(
                kind: .tool, action: action, actor: identity.subject, outcome: call.outcome, target: String(target.prefix(300)),
                reason: call.error.map { scrubber.scrub(String($0.message.prefix(500))) }, requestID: call.caller.requestID, details: details))
        // Unknown names are not labels: only names a server listed reach the metrics.
        if let server = call.server {
            let tool = call.name ?? ""
            let outcome = call.error?.label ?? (call.toolError ? "tool_error" : "success")
            metrics.counter("switchyard_mcp_calls_total", [("method", call.method), ("server", server), ("tool", tool), ("outcome", outcome)])
                .increment()
            metrics.timer("switchyard_mcp_call_duration_seconds", [("method", call.method), ("server", server), ("tool", tool)])
                .recordNanoseconds(call.duration.nanoseconds)
        }
        logger.info(
            "mcp call",
            metadata: [
                "mcp_method": .string(call.method), "mcp_server": .string(call.server ?? "-"), "mcp_name": .string(call.name ?? call.exposedName),
                "outcome": .string(call.outcome), "error": .string(call.error?.label ?? "-"), "identity": .string(identity.subject),
                "request_id": .string(call.caller.requestID), "duration_ms": .stringConvertible(milliseconds),
            ])
    }

    /// The servers and their state, for health and the admin view.
    public var statuses: [(server: String, transport: String, status: MCPServerStatus)] {
        upstreams.map { ($0.config.name, $0.config.transport.name, $0.status) }
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
