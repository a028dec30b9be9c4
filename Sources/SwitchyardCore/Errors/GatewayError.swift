/// An error a client sees, with its HTTP status and the fields of the OpenAI error envelope.
///
/// Every failure that leaves the gateway is one of these: the server renders it as
/// `{"error":{"message","type","param","code"}}` before the first byte of a response, and as a
/// `data: {"error":...}` event after it. Messages never contain secrets; `code` is a short,
/// stable identifier that is also safe to use as a metric label.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var type: String
    public var code: String?
    public var param: String?
    public var message: String
    /// Extra response headers (e.g. `Retry-After`).
    public var headers: [HeaderField]
    /// How long the provider itself asked to wait (its `Retry-After`), as opposed to a default
    /// the gateway suggests to clients; the router keeps a deployment out only for this.
    public var upstreamRetryAfter: Duration?

    public init(
        status: Int,
        type: String,
        code: String? = nil,
        param: String? = nil,
        message: String,
        headers: [HeaderField] = []
    ) {
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status) \(type)\(code.map { " (\($0))" } ?? ""): \(message)" }

    /// A short label for metrics and logs.
    public var metricLabel: String { code ?? type }

    /// The OpenAI error envelope as JSON bytes.
    public func envelope() -> [UInt8] {
        var writer = JSONWriter(capacity: 128 + message.utf8.count)
        writer.write(envelopeValue)
        return writer.bytes
    }

    public var envelopeValue: JSONValue {
        .object([
            "error": .object([
                "message": .string(message),
                "type": .string(type),
                "param": param.map(JSONValue.string) ?? .null,
                "code": code.map(JSONValue.string) ?? .null,
            ])
        ])
    }
}

extension GatewayError {
    // MARK: Client errors

    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: code, param: param, message: message)
    }

    public static func invalidJSON(_ detail: String) -> GatewayError {
        GatewayError(
            status: 400,
            type: "invalid_request_error",
            code: "invalid_json",
            message: "We could not parse the JSON body of your request: \(detail). Send a valid JSON object with 'Content-Type: application/json'."
        )
    }

    public static func invalidType(field: String, expected: String, found: String) -> GatewayError {
        GatewayError(
            status: 400,
            type: "invalid_request_error",
            code: "invalid_type",
            param: field,
            message: "Invalid type for '\(field)': expected \(expected), but got \(found)."
        )
    }

    public static func missingField(_ field: String) -> GatewayError {
        GatewayError(
            status: 400,
            type: "invalid_request_error",
            code: "missing_required_parameter",
            param: field,
            message: "Missing required parameter: '\(field)'."
        )
    }

    public static func unauthenticated(_ message: String) -> GatewayError {
        GatewayError(status: 401, type: "authentication_error", code: "invalid_api_key", message: message)
    }

    public static func modelNotFound(_ model: String, suggestions: [String]) -> GatewayError {
        var message = "The model '\(model)' does not exist or you do not have access to it."
        if !suggestions.isEmpty {
            message += " Did you mean: \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?"
        }
        return GatewayError(status: 404, type: "invalid_request_error", code: "model_not_found", param: "model", message: message)
    }

    public static func notFound(_ message: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: "not_found", message: message)
    }

    public static func methodNotAllowed(_ message: String) -> GatewayError {
        GatewayError(status: 405, type: "invalid_request_error", code: "method_not_allowed", message: message)
    }

    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: 413,
            type: "invalid_request_error",
            code: "request_too_large",
            message: "The request body exceeds the gateway's limit of \(limit) bytes."
        )
    }

    public static func unsupportedEndpoint(_ endpoint: String, provider: String) -> GatewayError {
        GatewayError(
            status: 400,
            type: "invalid_request_error",
            code: "unsupported_endpoint",
            message: "The provider '\(provider)' does not support \(endpoint)."
        )
    }

    // MARK: Upstream and gateway errors

    public static func upstreamUnavailable(_ message: String, code: String = "upstream_connection_error") -> GatewayError {
        GatewayError(status: 502, type: "api_error", code: code, message: message)
    }

    public static func upstreamTimeout(_ message: String) -> GatewayError {
        GatewayError(status: 504, type: "timeout_error", code: "upstream_timeout", message: message)
    }

    public static func internalError(_ message: String = "The gateway hit an internal error.") -> GatewayError {
        GatewayError(status: 500, type: "api_error", code: "internal_error", message: message)
    }

    public static func shuttingDown() -> GatewayError {
        GatewayError(status: 503, type: "api_error", code: "shutting_down", message: "The gateway is shutting down; retry on another instance.")
    }
}

/// One HTTP header, kept as a plain name/value pair so the core stays framework-free.
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
