/// JSON-RPC 2.0 as MCP uses it: requests, notifications, responses and errors, read from and
/// written as the project's ``JSONValue``.
public enum JSONRPCMessage: Sendable, Equatable {
    case request(id: JSONValue, method: String, params: JSONValue?)
    case notification(method: String, params: JSONValue?)
    case response(id: JSONValue, result: JSONValue)
    case error(id: JSONValue, JSONRPCError)

    /// Reads one message; a value that is none of the four shapes is an invalid request.
    public init(_ value: JSONValue) throws(JSONRPCError) {
        guard case .object(let object) = value else { throw .invalidRequest("a JSON-RPC message must be an object") }
        guard object["jsonrpc"]?.stringValue == "2.0" else { throw .invalidRequest("'jsonrpc' must be \"2.0\"") }
        let id = object["id"]
        if let id {
            switch id {
            case .string, .number: break
            default: throw .invalidRequest("'id' must be a string or a number")
            }
        }
        if let method = object["method"] {
            guard let name = method.stringValue else { throw .invalidRequest("'method' must be a string") }
            let params = object["params"]
            if let params, params.objectValue == nil, params.arrayValue == nil { throw .invalidRequest("'params' must be an object") }
            if let id {
                self = .request(id: id, method: name, params: params)
            } else {
                self = .notification(method: name, params: params)
            }
            return
        }
        guard let id else { throw .invalidRequest("a message needs 'method' or 'id'") }
        if let result = object["result"] {
            self = .response(id: id, result: result)
        } else if case .object(let error) = object["error"] ?? .null {
            self = .error(
                id: id,
                JSONRPCError(
                    code: error["code"]?.intValue ?? JSONRPCError.internalErrorCode, message: error["message"]?.stringValue ?? "", data: error["data"]
                ))
        } else {
            throw .invalidRequest("a response needs 'result' or 'error'")
        }
    }

    public var json: JSONValue {
        switch self {
        case .request(let id, let method, let params):
            var object: JSONObject = ["jsonrpc": "2.0", "id": id, "method": .string(method)]
            if let params { object["params"] = params }
            return .object(object)
        case .notification(let method, let params):
            var object: JSONObject = ["jsonrpc": "2.0", "method": .string(method)]
            if let params { object["params"] = params }
            return .object(object)
        case .response(let id, let result):
            return ["jsonrpc": "2.0", "id": id, "result": result]
        case .error(let id, let error):
            return ["jsonrpc": "2.0", "id": id, "error": error.json]
        }
    }
}

/// A JSON-RPC error object. Codes -32768...-32000 are JSON-RPC's; the gateway's own refusals use
/// -32001 and -32003...-32007 (-32002 is MCP's "resource not found") and say what refused the call in `data.type`.
public struct JSONRPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var message: String
    public var data: JSONValue?

    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public static let parseErrorCode = -32700
    public static let invalidRequestCode = -32600
    public static let methodNotFoundCode = -32601
    public static let invalidParamsCode = -32602
    public static let internalErrorCode = -32603

    public static func parseError(_ detail: String) -> JSONRPCError { JSONRPCError(code: parseErrorCode, message: "Parse error: \(detail)") }
    public static func invalidRequest(_ detail: String) -> JSONRPCError {
        JSONRPCError(code: invalidRequestCode, message: "Invalid request: \(detail)")
    }
    public static func methodNotFound(_ method: String) -> JSONRPCError {
        JSONRPCError(code: methodNotFoundCode, message: "Method not found: \(method)")
    }
    public static func invalidParams(_ detail: String) -> JSONRPCError { JSONRPCError(code: invalidParamsCode, message: "Invalid params: \(detail)") }

    /// A refusal by the gateway: `type` is `access_denied`, `guardrail_blocked`, `server_unavailable`,
    /// `upstream_error` or `timeout`.
    public static func gateway(_ code: Int, type: String, message: String, server: String? = nil, reason: String? = nil) -> JSONRPCError {
        var data: JSONObject = ["type": .string(type)]
        if let server { data["server"] = .string(server) }
        if let reason { data["reason"] = .string(reason) }
        return JSONRPCError(code: code, message: message, data: .object(data))
    }

    public static func accessDenied(_ reason: String) -> JSONRPCError {
        gateway(-32001, type: "access_denied", message: "Access denied: \(reason).")
    }

    public static func serverUnavailable(_ server: String, reason: String) -> JSONRPCError {
        gateway(-32004, type: "server_unavailable", message: "MCP server '\(server)' is unavailable: \(reason).", server: server, reason: reason)
    }

    public static func guardrailBlocked(_ name: String, reason: String, direction: String) -> JSONRPCError {
        let what = direction == "input" ? "tool call" : "tool result"
        return gateway(-32003, type: "guardrail_blocked", message: "The \(what) was blocked by guardrail '\(name)': \(reason).")
    }

    public static func upstreamError(_ server: String, detail: String) -> JSONRPCError {
        gateway(-32006, type: "upstream_error", message: "MCP server '\(server)' failed: \(detail).", server: server, reason: detail)
    }

    /// A per-tool limit refused the call; `retryAfter` in seconds.
    public static func rateLimited(_ message: String, retryAfter: Int?) -> JSONRPCError {
        var error = gateway(-32007, type: "rate_limited", message: message)
        if let retryAfter, case .object(var data)? = error.data {
            data["retry_after"] = JSONValue(retryAfter)
            error.data = .object(data)
        }
        return error
    }

    public static func timeout(_ server: String) -> JSONRPCError {
        gateway(
            -32005, type: "timeout", message: "MCP server '\(server)' did not answer in time.", server: server, reason: "it did not answer in time")
    }

    /// A short label for metrics and the audit trail.
    public var label: String {
        if let type = data?["type"]?.stringValue { return type }
        switch code {
        case Self.parseErrorCode: return "parse_error"
        case Self.invalidRequestCode: return "invalid_request"
        case Self.methodNotFoundCode: return "method_not_found"
        case Self.invalidParamsCode: return "invalid_params"
        default: return "error"
        }
    }

    public var json: JSONValue {
        var object: JSONObject = ["code": JSONValue(code), "message": .string(message)]
        if let data { object["data"] = data }
        return .object(object)
    }

    public var description: String { "\(code) \(message)" }
}
