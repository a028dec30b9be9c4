/// One `{"type": "mcp", ...}` entry of a request's `tools` (the Responses API's MCP tool, and
/// the same entry in a chat completion as a Switchyard extension): a server of `mcp.servers`
/// the model may use, which of its tools, and which calls wait for the client's approval.
///
/// The gateway connects only to the servers in its configuration: `server_label` names one,
/// and a `server_url` other than that server's own is refused (no request can make the gateway
/// reach an address of its choosing, and each server's credentials stay on the gateway).
/// `headers` and `authorization` are not forwarded: the server's configured credentials are used.
public struct MCPToolGrant: Sendable, Equatable {
    /// `allowed_tools` or one side of a `require_approval` filter: tool names and/or read-only tools.
    public struct Filter: Sendable, Equatable {
        public var names: Set<String>?
        /// Matches tools whose `annotations.readOnlyHint` is this.
        public var readOnly: Bool?

        public func matches(_ tool: String, annotations: JSONValue?) -> Bool {
            if let names, !names.contains(tool) { return false }
            if let readOnly, (annotations?["readOnlyHint"]?.boolValue ?? false) != readOnly { return false }
            return true
        }
    }

    public enum Approval: Sendable, Equatable {
        case always
        case never
        /// Tools the `never` filter matches run at once, tools the `always` filter matches wait;
        /// any other tool waits when a `never` filter was given (its tools are the exceptions),
        /// and runs when only an `always` filter was given (its tools are the ones that wait).
        case filter(always: Filter?, never: Filter?)
    }

    /// The configured server's name (`server_label`).
    public var server: String
    /// `allowed_tools`: nil lets the model see every tool the caller may use.
    public var allowed: Filter?
    public var approval: Approval

    public init(server: String, allowed: Filter? = nil, approval: Approval = .never) {
        self.server = server
        self.allowed = allowed
        self.approval = approval
    }

    /// Whether the request lets the model use `tool` (the caller's own permissions apply besides).
    public func allows(_ tool: String, annotations: JSONValue?) -> Bool {
        allowed?.matches(tool, annotations: annotations) ?? true
    }

    /// Whether a call of `tool` must wait for the client's approval.
    public func needsApproval(_ tool: String, annotations: JSONValue?) -> Bool {
        switch approval {
        case .always: return true
        case .never: return false
        case .filter(let always, let never):
            if let never, never.matches(tool, annotations: annotations) { return false }
            if let always, always.matches(tool, annotations: annotations) { return true }
            return never != nil
        }
    }

    /// Reads one `tools[index]` entry of type `mcp`. `defaultApproval` applies when
    /// `require_approval` is absent (the Responses API's default is `always`).
    public static func parse(_ tool: JSONValue, field: String, settings: MCPSettings, defaultApproval: Approval) throws(GatewayError) -> MCPToolGrant {
        guard let label = tool["server_label"]?.stringValue, !label.isEmpty else { throw GatewayError.missingField("\(field).server_label") }
        guard let server = settings.server(named: label) else {
            throw GatewayError.invalidRequest(
                "\(field): server_label '\(label.prefix(100))' is not an MCP server configured on the gateway; MCP tools name a server of the gateway's mcp.servers.",
                param: "\(field).server_label", code: .invalidValue)
        }
        for name in ["connector_id", "tunnel_id"] where tool[name] != nil && tool[name]?.isNull == false {
            throw GatewayError.invalidRequest(
                "\(field).\(name) is not supported: OpenAI's connectors and tunnels run on OpenAI's servers; name a server of the gateway's mcp.servers in server_label.",
                param: "\(field).\(name)", code: .unsupportedParameter)
        }
        if let url = tool["server_url"], !url.isNull {
            guard let configured = server.transport.url, let given = url.stringValue, Self.sameURL(given, configured) else {
                throw GatewayError.invalidRequest(
                    "\(field).server_url: the gateway connects only to the MCP servers in its configuration, with their own credentials; leave server_url out (server_label '\(label)' names the server) or give that server's configured URL.",
                    param: "\(field).server_url", code: .invalidValue)
            }
        }
        var grant = MCPToolGrant(server: label, approval: defaultApproval)
        if let allowed = tool["allowed_tools"], !allowed.isNull {
            grant.allowed = try filter(allowed, field: "\(field).allowed_tools")
        }
        if let approval = tool["require_approval"], !approval.isNull {
            switch approval {
            case .string("always"): grant.approval = .always
            case .string("never"): grant.approval = .never
            case .object(let object):
                var always: Filter?
                var never: Filter?
                if let value = object["always"], !value.isNull { always = try filter(value, field: "\(field).require_approval.always") }
                if let value = object["never"], !value.isNull { never = try filter(value, field: "\(field).require_approval.never") }
                grant.approval = .filter(always: always, never: never)
            default:
                throw GatewayError.invalidRequest(
                    "\(field).require_approval must be \"always\", \"never\" or {\"always\": {...}, \"never\": {...}}.",
                    param: "\(field).require_approval", code: .invalidValue)
            }
        }
        return grant
    }

    /// A list of tool names, or `{"tool_names": [...], "read_only": bool}`.
    static func filter(_ value: JSONValue, field: String) throws(GatewayError) -> Filter {
        func names(_ value: JSONValue, _ field: String) throws(GatewayError) -> Set<String> {
            let items = value.arrayValue ?? []
            let names = items.compactMap(\.stringValue)
            guard value.arrayValue != nil, names.count == items.count else {
                throw GatewayError.invalidType(field: field, expected: "an array of tool names", found: value.typeName)
            }
            return Set(names)
        }
        switch value {
        case .array:
            return Filter(names: try names(value, field))
        case .object(let object):
            var filter = Filter()
            if let list = object["tool_names"], !list.isNull { filter.names = try names(list, "\(field).tool_names") }
            if let readOnly = object["read_only"], !readOnly.isNull {
                guard let flag = readOnly.boolValue else {
                    throw GatewayError.invalidType(field: "\(field).read_only", expected: "a boolean", found: readOnly.typeName)
                }
                filter.readOnly = flag
            }
            return filter
        default:
            throw GatewayError.invalidType(field: field, expected: "an array of tool names or a filter object", found: value.typeName)
        }
    }

    static func sameURL(_ a: String, _ b: String) -> Bool {
        func normal(_ url: String) -> String {
            var text = url.lowercased()
            while text.hasSuffix("/") { text.removeLast() }
            return text
        }
        return normal(a) == normal(b)
    }
}

/// The MCP parts of a request, read by the dialect's translator: the granted servers, what the
/// conversation already holds, and the approved or declined calls to settle before the first round.
public struct MCPToolRequest: Sendable {
    public var grants: [MCPToolGrant] = []
    /// Servers whose `mcp_list_tools` item the conversation already holds (not listed again in the output).
    public var listedServers: Set<String> = []
    /// Calls the client approved or declined (`mcp_approval_response`), in conversation order.
    public var resumed: [MCPResumedCall] = []
    /// The first round's `tool_choice` (later rounds are `auto`, or the loop would never end).
    public var firstToolChoice: JSONValue?

    public init() {}

    public var isEmpty: Bool { grants.isEmpty }

    public func grant(for server: String) -> MCPToolGrant? { grants.first { $0.server == server } }
}

/// A call the model asked for in an earlier response that waited for approval
/// (`mcp_approval_request`), now answered: run when approved. Its `tool` message is already in
/// the conversation, at `messageIndex`, with a placeholder the loop replaces by the outcome.
public struct MCPResumedCall: Sendable {
    public var approvalRequestID: String
    public var server: String
    public var name: String
    public var arguments: String
    public var approve: Bool
    public var messageIndex: Int

    public init(approvalRequestID: String, server: String, name: String, arguments: String, approve: Bool, messageIndex: Int) {
        self.approvalRequestID = approvalRequestID
        self.server = server
        self.name = name
        self.arguments = arguments
        self.approve = approve
        self.messageIndex = messageIndex
    }
}

extension MCPToolRequest {
    /// Takes the `{"type": "mcp", ...}` entries out of a chat completion's `tools` (a Switchyard
    /// extension: the same entry as the Responses API's). Approvals need the Responses API's
    /// items, so `require_approval` here may only be `never` (its default on chat completions).
    public static func extract(fromChat body: inout JSONObject, settings: MCPSettings) throws(GatewayError) -> MCPToolRequest {
        var request = MCPToolRequest()
        guard let tools = body["tools"]?.arrayValue else { return request }
        var kept: [JSONValue] = []
        for (index, tool) in tools.enumerated() {
            guard tool["type"]?.stringValue == "mcp" else {
                kept.append(tool)
                continue
            }
            let grant = try MCPToolGrant.parse(tool, field: "tools[\(index)]", settings: settings, defaultApproval: .never)
            guard grant.approval == .never else {
                throw GatewayError.invalidRequest(
                    "tools[\(index)].require_approval: approvals need the Responses API (POST /v1/responses); on chat completions MCP tools run without approval (\"never\").",
                    param: "tools[\(index)].require_approval", code: .unsupportedParameter)
            }
            try request.add(grant, field: "tools[\(index)]")
        }
        guard !request.isEmpty else { return request }
        body["tools"] = kept.isEmpty ? nil : .array(kept)
        if let choice = body["tool_choice"], !choice.isNull {
            request.firstToolChoice = try toolChoice(choice, settings: settings)
            body["tool_choice"] = nil
        }
        return request
    }

    /// Adds a server's grant; a server named twice is refused.
    public mutating func add(_ grant: MCPToolGrant, field: String) throws(GatewayError) {
        guard self.grant(for: grant.server) == nil else {
            throw GatewayError.invalidRequest(
                "\(field): the MCP server '\(grant.server)' is named twice in tools.", param: "\(field).server_label", code: .invalidValue)
        }
        grants.append(grant)
    }

    /// A `tool_choice` for the first round: `{"type": "mcp", "server_label", "name"}` becomes the
    /// tool's function (any tool of the server: `required`); others stay as they are.
    public static func toolChoice(_ choice: JSONValue, settings: MCPSettings) throws(GatewayError) -> JSONValue {
        guard choice["type"]?.stringValue == "mcp" else { return choice }
        guard let label = choice["server_label"]?.stringValue, let server = settings.server(named: label) else {
            throw GatewayError.invalidRequest(
                "tool_choice.server_label must name an MCP server of the request's tools.", param: "tool_choice.server_label", code: .invalidValue)
        }
        guard let name = choice["name"]?.stringValue else { return "required" }
        return ["type": "function", "function": ["name": .string(server.exposedName(name))]]
    }
}
