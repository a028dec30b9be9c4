/// The Responses API's MCP items: `mcp_list_tools`, `mcp_call`, `mcp_approval_request` in the
/// output, and the same items with `mcp_approval_response` in the input of a later request.
extension ResponsesResponseTranslator {
    /// The response of a request with MCP tools: what the loop did (lists, calls, approval
    /// requests, text written between calls), then the last round's output; usage of all rounds.
    public static func response(mcp result: MCPLoopResult, envelope: ResponsesEnvelope) throws(GatewayError) -> JSONValue {
        let last = try response(fromOpenAI: result.final.serializedBytes(), envelope: envelope)
        let output = result.items.map(item) + (last["output"]?.arrayValue ?? [])
        var status = last["status"]?.stringValue ?? "completed"
        var incomplete = last["incomplete_details"]?["reason"]?.stringValue
        if let reason = result.incomplete {
            status = "incomplete"
            incomplete = reason
        }
        return envelope.response(
            status: status, model: last["model"]?.stringValue ?? "unknown", output: output, usage: result.usage, incomplete: incomplete)
    }

    /// One loop item as a Responses output item.
    public static func item(_ item: MCPLoopItem) -> JSONValue {
        switch item {
        case .listTools(let id, let server, let tools, let error):
            var object: JSONObject = ["type": "mcp_list_tools", "id": .string(id), "server_label": .string(server), "tools": .array(tools)]
            if let error { object["error"] = .string(error) }
            return .object(object)
        case .call(let call):
            return [
                "type": "mcp_call", "id": .string(call.id), "server_label": .string(call.server), "name": .string(call.name),
                "arguments": .string(call.arguments), "output": call.output.map(JSONValue.string) ?? .null, "error": call.error ?? .null,
                "approval_request_id": call.approvalRequestID.map(JSONValue.string) ?? .null,
                "status": call.error == nil ? "completed" : "failed",
            ]
        case .approvalRequest(let id, let server, let name, let arguments):
            return [
                "type": "mcp_approval_request", "id": .string(id), "server_label": .string(server), "name": .string(name),
                "arguments": .string(arguments),
            ]
        case .message(let id, let text):
            return [
                "type": "message", "id": .string(id), "status": "completed", "role": "assistant",
                "content": [["type": "output_text", "text": .string(text), "annotations": []]],
            ]
        }
    }
}

/// Reading the MCP items of a Responses request's `input`.
struct ResponsesMCPInput {
    let settings: MCPSettings
    /// `mcp_approval_response`s by the id of the request they answer.
    var approvals: [String: Bool] = [:]
    /// Approval requests already answered and run in an earlier response (an `mcp_call` with their id).
    var settled: Set<String> = []

    init(settings: MCPSettings, items: [JSONValue]) {
        self.settings = settings
        for item in items {
            switch item["type"]?.stringValue {
            case "mcp_approval_response":
                if let id = item["approval_request_id"]?.stringValue { approvals[id] = item["approve"]?.boolValue ?? false }
            case "mcp_call":
                if let id = item["approval_request_id"]?.stringValue { settled.insert(id) }
            default:
                break
            }
        }
    }

    /// The function name the model knows a server's tool by.
    func exposedName(_ item: JSONObject, field: String) throws(GatewayError) -> (server: String, name: String, exposed: String) {
        guard let label = item["server_label"]?.stringValue else { throw GatewayError.missingField("\(field).server_label") }
        guard let name = item["name"]?.stringValue else { throw GatewayError.missingField("\(field).name") }
        guard let server = settings.server(named: label) else {
            throw GatewayError.invalidRequest(
                "\(field): server_label '\(label.prefix(100))' is not an MCP server configured on the gateway.", param: "\(field).server_label",
                code: .invalidValue)
        }
        return (label, name, server.exposedName(name))
    }

    /// Appends the canonical messages of one `mcp_*` input item; false when `item` is not one.
    func append(_ item: JSONObject, field: String, to messages: inout [JSONValue], request: inout MCPToolRequest) throws(GatewayError) -> Bool {
        switch item["type"]?.stringValue {
        case "mcp_list_tools":
            if let label = item["server_label"]?.stringValue { request.listedServers.insert(label) }
        case "mcp_approval_response":
            break  // read with the request it answers
        case "mcp_call":
            guard let id = item["id"]?.stringValue else { throw GatewayError.missingField("\(field).id") }
            let (_, _, exposed) = try exposedName(item, field: field)
            let arguments = item["arguments"]?.stringValue ?? "{}"
            var result = item["output"]?.stringValue ?? ""
            if let error = item["error"], !error.isNull {
                result = "Error: " + (error.stringValue ?? error["message"]?.stringValue ?? error.serialized())
            }
            messages += Self.callAndResult(id: id, function: exposed, arguments: arguments, result: result)
        case "mcp_approval_request":
            guard let id = item["id"]?.stringValue else { throw GatewayError.missingField("\(field).id") }
            // Unanswered, or answered and run already (its mcp_call follows): nothing to do now.
            guard let approve = approvals[id], !settled.contains(id) else { return true }
            let (server, name, exposed) = try exposedName(item, field: field)
            let arguments = item["arguments"]?.stringValue ?? "{}"
            // The result is filled in when the call has run (or been declined).
            messages += Self.callAndResult(id: id, function: exposed, arguments: arguments, result: "")
            request.resumed.append(
                MCPResumedCall(
                    approvalRequestID: id, server: server, name: name, arguments: arguments, approve: approve, messageIndex: messages.count - 1))
        default:
            return false
        }
        return true
    }

    /// An assistant turn with one tool call, and the call's result.
    static func callAndResult(id: String, function: String, arguments: String, result: String) -> [JSONValue] {
        [
            [
                "role": "assistant", "content": .null,
                "tool_calls": [["id": .string(id), "type": "function", "function": ["name": .string(function), "arguments": .string(arguments)]]],
            ],
            ["role": "tool", "tool_call_id": .string(id), "content": .string(result)],
        ]
    }
}
