import NIOCore

/// What the gateway did with MCP tools while answering one request, in order.
public enum MCPLoopItem: Sendable {
    /// The tools of a server the model was shown (`tools`: `{name, description, input_schema,
    /// annotations}`), or why the server could not list them.
    case listTools(id: String, server: String, tools: [JSONValue], error: String?)
    case call(MCPLoopCall)
    /// A call that waits for the client's approval; the response ends with it.
    case approvalRequest(id: String, server: String, name: String, arguments: String)
    /// Text the model wrote in a round in which it also called tools.
    case message(id: String, text: String)
}

/// One MCP tool call the gateway ran (or refused) for the model.
public struct MCPLoopCall: Sendable {
    public var id: String
    public var server: String
    /// The server's own name of the tool.
    public var name: String
    public var arguments: String
    public var output: String?
    /// OpenAI's `McpToolCallError`: `{"type": "mcp_protocol_error", "code", "message"}` when the
    /// call was refused or failed, `{"type": "mcp_tool_execution_error", "content"}` when the tool
    /// itself reported an error.
    public var error: JSONValue?
    public var approvalRequestID: String?
    /// What the model reads as the tool's result.
    public var modelText: String
}

/// The outcome of ``MCPToolLoop/run(body:round:)``.
public struct MCPLoopResult: Sendable {
    public var items: [MCPLoopItem] = []
    /// The last round's chat completion, less the MCP tool calls it holds (only calls of the
    /// client's own functions stay).
    public var final: JSONValue = .null
    /// Every round's usage together.
    public var usage: TokenUsage?
    /// Set (`max_tool_iterations`) when the model still called tools after the last round allowed.
    public var incomplete: String?
    /// The last round's response headers (deployment, cache, ...).
    public var headers: [HeaderField] = []
    /// Model calls made.
    public var rounds = 0
}

/// MCP tools on any model: the gateway lists the granted servers' tools to the model as
/// functions, runs the calls the model makes through the governed MCP path (``MCPHub``: the
/// caller's allow-lists, access rules, guardrails on arguments and results, tool limits, audit,
/// metrics, `execute_tool` spans), feeds the results back and asks the model again, until it
/// answers without calling an MCP tool, a call waits for approval, or `mcp.max_tool_iterations`
/// rounds of calls have run.
///
/// Each model round is a whole request through the pipeline, made by the driver: ``run(round:)``
/// for complete answers; a streaming driver calls ``start()``, then ``nextRound(stream:)`` and
/// ``finishRound(_:headers:)`` in turn, writing events between them. Limits, budgets, input and
/// output guardrails, routing, accounting and the request log apply to every round.
public struct MCPToolLoop: Sendable {
    public typealias Round = @Sendable (_ body: JSONValue, _ round: Int) async -> GatewayResponse

    let hub: MCPHub
    let request: MCPToolRequest
    let caller: MCPCaller
    let maxIterations: Int
    /// Makes item ids unique to the response (`mcp_<prefix>_<n>`).
    let idPrefix: String
    /// The client's canonical body (its `tools` hold only the client's functions).
    let body: JSONObject
    let clientTools: [JSONValue]
    let clientFunctions: Set<String>

    public private(set) var result = MCPLoopResult()
    /// Whether text the model writes beside its calls becomes a `message` item (a streaming
    /// driver that has sent the text as it came turns this off).
    public var recordsText = true
    var messages: [JSONValue]
    /// The tools shown to the model, by function name.
    var tools: [String: Tool] = [:]
    var functions: [JSONValue] = []
    var iterations = 0
    var sequence = 0

    public init(hub: MCPHub, request: MCPToolRequest, caller: MCPCaller, maxIterations: Int, idPrefix: String, body: JSONObject) {
        self.hub = hub
        self.request = request
        self.caller = caller
        self.maxIterations = maxIterations
        self.idPrefix = idPrefix
        self.body = body
        self.messages = body["messages"]?.arrayValue ?? []
        self.clientTools = body["tools"]?.arrayValue ?? []
        self.clientFunctions = Set(clientTools.compactMap { $0["function"]?["name"]?.stringValue })
    }

    /// A tool shown to the model: its function name is the name `/mcp` clients see.
    struct Tool {
        var server: String
        var name: String
        var annotations: JSONValue?
    }

    mutating func nextID(_ kind: String) -> String {
        sequence += 1
        return "\(kind)_\(idPrefix)_\(sequence)"
    }

    /// How ``run(round:)`` ended.
    public enum Outcome: Sendable {
        case finished(MCPLoopResult)
        /// A round was refused or failed (or the request cannot go on): send this response.
        case failed(GatewayResponse)
    }

    /// Runs the whole loop, each round a complete (not streamed) answer.
    public mutating func run(round: Round) async -> Outcome {
        if let error = await start() { return .failed(.error(error)) }
        while true {
            let (body, index) = nextRound(stream: false)
            let response = await round(body, index)
            guard response.status == 200, case .buffer(let buffer) = response.body, let completion = try? JSONValue.parse(Array(buffer: buffer))
            else { return .failed(response) }
            if await !finishRound(completion, headers: response.headers) { return .finished(result) }
        }
    }

    /// Lists the granted servers' tools the caller may use and the request allows, and settles
    /// the calls the client approved or declined. An error: the request cannot go on.
    public mutating func start() async -> GatewayError? {
        for grant in request.grants {
            let listID = nextID("mcpl")
            let announce = !request.listedServers.contains(grant.server)
            switch await hub.visibleTools(of: grant.server, caller: caller) {
            case .failure(let error):
                if announce { result.items.append(.listTools(id: listID, server: grant.server, tools: [], error: error.message)) }
            case .success(let list):
                var listed: [JSONValue] = []
                for (exposed, item) in list {
                    let name = item["name"]?.stringValue ?? exposed
                    let annotations = item["annotations"]
                    guard grant.allows(name, annotations: annotations) else { continue }
                    if clientFunctions.contains(exposed) {
                        return .invalidRequest(
                            "A function tool is named '\(exposed)', as the MCP tool '\(name)' of '\(grant.server)' is shown to the model: rename the function.",
                            param: "tools", code: .invalidValue)
                    }
                    tools[exposed] = Tool(server: grant.server, name: name, annotations: annotations)
                    var entry: JSONObject = ["name": .string(name), "input_schema": item["inputSchema"] ?? ["type": "object"]]
                    entry["description"] = item["description"].flatMap { $0.isNull ? nil : $0 } ?? .null
                    entry["annotations"] = item["annotations"] ?? .null
                    listed.append(.object(entry))
                    var function: JSONObject = ["name": .string(exposed)]
                    if let description = item["description"]?.stringValue { function["description"] = .string(description) }
                    function["parameters"] = item["inputSchema"].flatMap { $0.objectValue == nil ? nil : $0 } ?? ["type": "object", "properties": [:]]
                    functions.append(["type": "function", "function": .object(function)])
                }
                if announce { result.items.append(.listTools(id: listID, server: grant.server, tools: listed, error: nil)) }
            }
        }

        // Calls the client approved or declined in its answer to an earlier response.
        for resumed in request.resumed {
            var text = "The user declined this tool call."
            if resumed.approve {
                let id = nextID("mcp")
                let call = await execute(
                    server: resumed.server, name: resumed.name, arguments: resumed.arguments, id: id,
                    annotations: tools[exposedName(server: resumed.server, name: resumed.name) ?? ""]?.annotations,
                    approvalRequestID: resumed.approvalRequestID)
                result.items.append(.call(call))
                text = call.modelText
            }
            if messages.indices.contains(resumed.messageIndex), case .object(var message) = messages[resumed.messageIndex] {
                message["content"] = .string(text)
                messages[resumed.messageIndex] = .object(message)
            }
        }
        return nil
    }

    /// The body of the next model round and its number (1 for the first).
    public mutating func nextRound(stream: Bool) -> (body: JSONValue, index: Int) {
        var roundBody = body
        roundBody["messages"] = .array(messages)
        roundBody["stream"] = stream ? true : nil
        roundBody["stream_options"] = stream ? ["include_usage": true] : nil
        let offered = clientTools + functions
        if offered.isEmpty {
            roundBody["tools"] = nil
            roundBody["tool_choice"] = nil
        } else {
            roundBody["tools"] = .array(offered)
            if result.rounds == 0, let choice = request.firstToolChoice {
                roundBody["tool_choice"] = choice
            } else if result.rounds > 0 {
                roundBody["tool_choice"] = "auto"
            }
        }
        result.rounds += 1
        return (.object(roundBody), result.rounds)
    }

    /// Takes a round's answer (a chat completion): runs the MCP calls it asks for and returns
    /// true when the model is to be asked again; false when the loop is over (``result`` holds
    /// the outcome).
    public mutating func finishRound(_ completion: JSONValue, headers: [HeaderField]) async -> Bool {
        result.headers = headers
        result.usage = Self.sum(result.usage, (try? JSONObjectScan(completion.serializedBytes())).flatMap { TokenUsage(openAIResponse: $0) })
        let message = completion["choices"]?.arrayValue?.first?["message"]
        let calls = message?["tool_calls"]?.arrayValue ?? []
        var mcpCalls: [(call: JSONValue, server: String, name: String)] = []
        var otherCalls: [JSONValue] = []
        for call in calls {
            let exposed = call["function"]?["name"]?.stringValue ?? ""
            if !clientFunctions.contains(exposed), let resolved = resolve(exposed) {
                mcpCalls.append((call, resolved.server, resolved.name))
            } else {
                otherCalls.append(call)
            }
        }
        guard !mcpCalls.isEmpty else {
            result.final = completion
            return false
        }
        guard iterations < maxIterations else {
            result.final = Self.replacingCalls(in: completion, with: otherCalls)
            result.incomplete = "max_tool_iterations"
            return false
        }

        let text = message?["content"]?.stringValue ?? ""
        let textPosition = result.items.count
        var assistantCalls: [JSONValue] = []
        var toolMessages: [JSONValue] = []
        var waiting = false
        for (call, server, name) in mcpCalls {
            let arguments = call["function"]?["arguments"]?.stringValue ?? "{}"
            let annotations = tools[call["function"]?["name"]?.stringValue ?? ""]?.annotations
            if let grant = request.grant(for: server), grant.needsApproval(name, annotations: annotations) {
                let id = nextID("mcpr")
                result.items.append(.approvalRequest(id: id, server: server, name: name, arguments: arguments))
                waiting = true
                continue
            }
            let id = nextID("mcp")
            let executed = await execute(server: server, name: name, arguments: arguments, id: id, annotations: annotations, approvalRequestID: nil)
            result.items.append(.call(executed))
            assistantCalls.append([
                "id": .string(executed.id), "type": "function",
                "function": ["name": call["function"]?["name"] ?? "", "arguments": .string(arguments)],
            ])
            toolMessages.append(["role": "tool", "tool_call_id": .string(executed.id), "content": .string(executed.modelText)])
        }
        if waiting || !otherCalls.isEmpty {
            // The client has to act (approve, or run its own functions): the response ends here.
            result.final = Self.replacingCalls(in: completion, with: otherCalls)
            return false
        }
        if !text.isEmpty && recordsText {
            let id = nextID("msg")
            result.items.insert(.message(id: id, text: text), at: textPosition)
        }
        messages.append(["role": "assistant", "content": text.isEmpty ? .null : .string(text), "tool_calls": .array(assistantCalls)])
        messages.append(contentsOf: toolMessages)
        iterations += 1
        return true
    }

    /// The server and tool behind a function name the model called: a tool it was shown, or
    /// one named with the prefix of a granted server (a tool the model was not shown goes to
    /// the governed path all the same, which refuses what the caller may not use). Nil: not
    /// an MCP tool of this request.
    func resolve(_ exposed: String) -> (server: String, name: String)? {
        if let tool = tools[exposed] { return (tool.server, tool.name) }
        for grant in request.grants {
            guard let config = hub.upstream(named: grant.server)?.config, !config.prefix.isEmpty else { continue }
            if exposed.hasPrefix(config.prefix + "_"), exposed.count > config.prefix.count + 1 {
                return (grant.server, String(exposed.dropFirst(config.prefix.count + 1)))
            }
        }
        return nil
    }

    func exposedName(server: String, name: String) -> String? { hub.upstream(named: server)?.config.exposedName(name) }

    /// Runs one call through the governed path, or refuses it when the request does not allow it.
    func execute(
        server: String, name: String, arguments: String, id: String, annotations: JSONValue?, approvalRequestID: String?
    ) async -> MCPLoopCall {
        var call = MCPLoopCall(
            id: id, server: server, name: name, arguments: arguments, output: nil, error: nil, approvalRequestID: approvalRequestID, modelText: "")
        func refuse(_ error: JSONRPCError) -> MCPLoopCall {
            call.error = ["type": "mcp_protocol_error", "code": JSONValue(error.code), "message": .string(error.message)]
            call.modelText = "Error: " + error.message
            return call
        }
        guard let grant = request.grant(for: server), let exposed = exposedName(server: server, name: name) else {
            return refuse(.invalidParams("the MCP server '\(server)' is not among this request's tools"))
        }
        guard grant.allows(name, annotations: annotations) else {
            return refuse(.invalidParams("the tool '\(name)' of '\(server)' is not among the request's allowed_tools"))
        }
        var parsed: JSONValue? = .object([:])
        if !arguments.isEmpty { parsed = try? JSONValue.parse(arguments) }
        guard let parsed, parsed.objectValue != nil else {
            return refuse(.invalidParams("the arguments of '\(name)' are not a JSON object"))
        }
        switch await hub.handle(method: "tools/call", params: ["name": .string(exposed), "arguments": parsed], caller: caller) {
        case .failure(let error):
            return refuse(error)
        case .success(let result):
            let text = Self.text(of: result)
            call.modelText = text
            if result["isError"]?.boolValue == true {
                call.error = ["type": "mcp_tool_execution_error", "content": result["content"] ?? []]
                call.modelText = "Error: " + text
            } else {
                call.output = text
            }
            return call
        }
    }

    /// The text of a tool result: its text blocks (and embedded text resources), else its
    /// structured content, else the content as JSON.
    static func text(of result: JSONValue) -> String {
        let blocks = result["content"]?.arrayValue ?? []
        let texts = blocks.compactMap { block -> String? in
            if block["type"]?.stringValue == "text" { return block["text"]?.stringValue }
            return block["resource"]?["text"]?.stringValue
        }
        if !texts.isEmpty { return texts.joined(separator: "\n") }
        if let structured = result["structuredContent"], !structured.isNull { return structured.serialized() }
        return (result["content"] ?? .array([])).serialized()
    }

    /// The completion with its message's `tool_calls` replaced (dropped when none are left).
    static func replacingCalls(in completion: JSONValue, with calls: [JSONValue]) -> JSONValue {
        guard case .object(var object) = completion, case .array(var choices)? = object["choices"], case .object(var choice)? = choices.first,
            case .object(var message)? = choice["message"]
        else { return completion }
        message["tool_calls"] = calls.isEmpty ? nil : .array(calls)
        choice["message"] = .object(message)
        if calls.isEmpty, choice["finish_reason"]?.stringValue == "tool_calls" { choice["finish_reason"] = "stop" }
        choices[0] = .object(choice)
        object["choices"] = .array(choices)
        return .object(object)
    }

    static func sum(_ a: TokenUsage?, _ b: TokenUsage?) -> TokenUsage? {
        guard let a else { return b }
        guard let b else { return a }
        return TokenUsage(
            promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens,
            totalTokens: a.totalTokens + b.totalTokens, cachedPromptTokens: a.cachedPromptTokens + b.cachedPromptTokens,
            reasoningTokens: a.reasoningTokens + b.reasoningTokens, cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens)
    }

}

extension MCPHub {
    /// The tools of `server` the caller may use, by the names `/mcp` clients see, each as the
    /// server lists it (its own name); an error when the server cannot list them.
    public func visibleTools(of server: String, caller: MCPCaller) async -> Result<[(exposed: String, tool: JSONValue)], JSONRPCError> {
        let snapshot = gateway.runtime.snapshot
        let unixTime = gateway.clock.unixTime
        if snapshot.access.checkMCP(identity: caller.identity, server: server, tool: nil, headers: caller.headers, unixTime: unixTime) != nil {
            return .success([])
        }
        guard let upstream = upstream(named: server) else { return .failure(.serverUnavailable(server, reason: "not configured")) }
        let lists = await fetchLists(.tools)
        guard let items = lists[server] else {
            var reason = "it is starting"
            if case .down(let detail) = upstream.status { reason = detail }
            return .failure(.serverUnavailable(server, reason: reason))
        }
        var tools: [(exposed: String, tool: JSONValue)] = []
        for (item, original) in items {
            if snapshot.access.checkMCP(identity: caller.identity, server: server, tool: original, headers: caller.headers, unixTime: unixTime) != nil {
                continue
            }
            guard case .object(var object) = item, let exposed = object["name"]?.stringValue else { continue }
            object["name"] = .string(original)
            tools.append((exposed, .object(object)))
        }
        return .success(tools)
    }
}
