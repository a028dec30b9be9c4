/// An error a client sees, with its HTTP status and the fields of the OpenAI error envelope.
///
/// Every failure that leaves the gateway is one of these: the server renders it as
/// `{"error":{"message","type","param","code"}}` before the first byte of a response, and as a
/// `data: {"error":...}` event after it. Messages never contain secrets.
///
/// One family: the memberwise initialiser is private, so every error is made by one of the
/// named constructors below, and its `code` is a ``Code`` from the catalogue in this file (or a
/// provider's own code passed on, marked as such with ``Code/provider(_:)``). A code is a short,
/// stable identifier that clients can branch on and that is safe as a metric label; the
/// catalogue is the complete list of what the gateway itself answers with.
public struct GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let type: String
    public let code: Code?
    public var param: String?
    public var message: String
    /// Extra response headers (e.g. `Retry-After`).
    public var headers: [HeaderField]
    /// How long the provider itself asked to wait (its `Retry-After`), as opposed to a default
    /// the gateway suggests to clients; the router keeps a deployment out only for this.
    public var upstreamRetryAfter: Duration?

    private init(
        status: Int,
        type: String,
        code: Code?,
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
    public var metricLabel: String { code?.rawValue ?? type }

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
                "code": code.map { JSONValue.string($0.rawValue) } ?? .null,
            ])
        ])
    }
}

extension GatewayError {
    /// The `code` of an error: one of the gateway's own (the static members, the only ones
    /// that can be made) or a provider's code passed on with ``provider(_:)``.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// A code a provider answered with, passed on to the client unchanged (an OpenAI-style
        /// upstream's `insufficient_quota`, say). Only for what a provider said, never for the
        /// gateway's own refusals.
        public static func provider(_ rawValue: String) -> Code { Code(rawValue) }

        // MARK: Requests the gateway refuses as malformed or unsupported (400, 413, 415)
        public static let invalidJSON = Code("invalid_json")
        /// The body's HTTP framing is broken (chunk sizes, a body shorter than its Content-Length).
        public static let malformedBody = Code("malformed_body")
        public static let invalidType = Code("invalid_type")
        public static let invalidValue = Code("invalid_value")
        public static let missingRequiredParameter = Code("missing_required_parameter")
        public static let arrayAboveMaxLength = Code("array_above_max_length")
        public static let stringAboveMaxLength = Code("string_above_max_length")
        public static let tooManyMessages = Code("too_many_messages")
        public static let promptTooLong = Code("prompt_too_long")
        public static let contextLengthExceeded = Code("context_length_exceeded")
        public static let parameterNotAllowed = Code("parameter_not_allowed")
        public static let unsupportedParameter = Code("unsupported_parameter")
        public static let unsupportedContent = Code("unsupported_content")
        public static let unsupportedTool = Code("unsupported_tool")
        public static let unsupportedEndpoint = Code("unsupported_endpoint")
        public static let unsupportedMediaType = Code("unsupported_media_type")
        public static let requestTooLarge = Code("request_too_large")
        public static let invalidMetadata = Code("invalid_metadata")
        public static let unscannableContent = Code("unscannable_content")
        public static let invalidMultipart = Code("invalid_multipart")
        public static let missingFile = Code("missing_file")
        public static let uploadPromptRewritten = Code("upload_prompt_rewritten")
        public static let passthroughNotSupported = Code("passthrough_not_supported")
        public static let guardrailBlocked = Code("guardrail_blocked")
        public static let contentFilter = Code("content_filter")
        public static let invalidVariable = Code("invalid_variable")
        public static let missingVariable = Code("missing_variable")
        public static let unknownVariable = Code("unknown_variable")

        // MARK: Credentials (401)
        public static let invalidAPIKey = Code("invalid_api_key")
        public static let invalidToken = Code("invalid_token")
        public static let invalidOperationalToken = Code("invalid_operational_token")
        public static let keyRevoked = Code("key_revoked")
        public static let keyExpired = Code("key_expired")

        // MARK: Permissions (403)
        public static let accessDenied = Code("access_denied")
        public static let adminRequired = Code("admin_required")
        public static let outsideAdminScope = Code("outside_admin_scope")
        public static let endpointNotAllowed = Code("endpoint_not_allowed")
        public static let modelNotAllowed = Code("model_not_allowed")
        public static let regionNotAllowed = Code("region_not_allowed")
        public static let hostNotAllowed = Code("host_not_allowed")

        // MARK: Things that do not exist here (404, 405, 410)
        public static let notFound = Code("not_found")
        public static let modelNotFound = Code("model_not_found")
        public static let requestNotFound = Code("request_not_found")
        public static let templateNotFound = Code("template_not_found")
        public static let usageLedgerDisabled = Code("usage_ledger_disabled")
        public static let methodNotAllowed = Code("method_not_allowed")
        public static let modelSunset = Code("model_sunset")

        // MARK: Limits (429) and the client going away (499)
        public static let rateLimitExceeded = Code("rate_limit_exceeded")
        public static let deploymentsAtCapacity = Code("deployments_at_capacity")
        public static let budgetExceeded = Code("budget_exceeded")
        public static let clientClosedRequest = Code("client_closed_request")

        // MARK: The gateway and its backends (500, 503)
        public static let internalError = Code("internal_error")
        public static let shuttingDown = Code("shutting_down")
        public static let noHealthyDeployment = Code("no_healthy_deployment")
        public static let keyStoreUnavailable = Code("key_store_unavailable")
        /// The gateway's database (SQLite or PostgreSQL) failed or did not answer in time.
        public static let storeUnavailable = Code("store_unavailable")
        public static let usageStoreUnavailable = Code("usage_store_unavailable")
        public static let budgetBackendUnavailable = Code("budget_backend_unavailable")
        public static let rateLimiterUnavailable = Code("rate_limiter_unavailable")
        public static let jwtIssuerUnavailable = Code("jwt_issuer_unavailable")
        public static let jwtKeysUnavailable = Code("jwt_keys_unavailable")

        // MARK: Providers (502, 503, 504 and provider refusals)
        public static let upstreamConnectionError = Code("upstream_connection_error")
        public static let upstreamTimeout = Code("upstream_timeout")
        public static let attemptTimeout = Code("attempt_timeout")
        public static let firstTokenTimeout = Code("first_token_timeout")
        public static let upstreamError = Code("upstream_error")
        public static let upstreamOverloaded = Code("upstream_overloaded")
        public static let upstreamAuthenticationError = Code("upstream_authentication_error")
        public static let upstreamInvalidRequest = Code("upstream_invalid_request")
        public static let upstreamNotFound = Code("upstream_not_found")
        public static let upstreamInvalidResponse = Code("upstream_invalid_response")
        public static let upstreamResponseTooLarge = Code("upstream_response_too_large")
        public static let upstreamInvalidStream = Code("upstream_invalid_stream")
        public static let upstreamEmptyStream = Code("upstream_empty_stream")
        public static let upstreamStreamError = Code("upstream_stream_error")
        public static let upstreamStreamInterrupted = Code("upstream_stream_interrupted")
        public static let upstreamStreamTruncated = Code("upstream_stream_truncated")
        public static let uploadNotRetryable = Code("upload_not_retryable")
        public static let invalidJSONOutput = Code("invalid_json_output")

        // MARK: Files and batches
        public static let fileNotFound = Code("file_not_found")
        public static let batchNotFound = Code("batch_not_found")
        public static let batchNotCancellable = Code("batch_not_cancellable")
        public static let invalidFileFormat = Code("invalid_file_format")
        public static let invalidFilePurpose = Code("invalid_file_purpose")
        public static let tooManyRequestLines = Code("too_many_requests")
        public static let originNotAllowed = Code("origin_not_allowed")
    }
}

extension GatewayError {
    // MARK: Requests the gateway refuses

    /// 400 `invalid_request_error`: the request cannot be served as sent.
    public static func invalidRequest(_ message: String, param: String? = nil, code: Code? = nil) -> GatewayError {
        GatewayError(status: 400, type: "invalid_request_error", code: code, param: param, message: message)
    }

    public static func invalidJSON(_ detail: String) -> GatewayError {
        .invalidRequest(
            "We could not parse the JSON body of your request: \(detail). Send a valid JSON object with 'Content-Type: application/json'.",
            code: .invalidJSON)
    }

    public static func invalidType(field: String, expected: String, found: String) -> GatewayError {
        .invalidRequest("Invalid type for '\(field)': expected \(expected), but got \(found).", param: field, code: .invalidType)
    }

    public static func missingField(_ field: String) -> GatewayError {
        .invalidRequest("Missing required parameter: '\(field)'.", param: field, code: .missingRequiredParameter)
    }

    public static func unsupportedEndpoint(_ endpoint: String, provider: String) -> GatewayError {
        .invalidRequest("The provider '\(provider)' does not support \(endpoint).", code: .unsupportedEndpoint)
    }

    /// 400: a guardrail refused the request.
    public static func guardrailBlocked(_ name: String, reason: String) -> GatewayError {
        .invalidRequest("The request was blocked by guardrail '\(name)': \(reason).", code: .guardrailBlocked)
    }

    /// 400: the prompt does not fit the context window of any deployment that could serve it.
    public static func contextLengthExceeded(_ message: String) -> GatewayError {
        .invalidRequest(message, param: "messages", code: .contextLengthExceeded)
    }

    public static func bodyTooLarge(limit: Int) -> GatewayError {
        GatewayError(
            status: 413, type: "invalid_request_error", code: .requestTooLarge,
            message: "The request body exceeds the gateway's limit of \(limit) bytes.")
    }

    /// 415: the body is not in a media type the endpoint reads.
    public static func unsupportedMediaType(_ message: String) -> GatewayError {
        GatewayError(status: 415, type: "invalid_request_error", code: .unsupportedMediaType, message: message)
    }

    // MARK: Who is asking

    /// 401 `authentication_error`: no credential, or one the gateway does not accept.
    public static func unauthenticated(_ message: String, code: Code = .invalidAPIKey, headers: [HeaderField] = []) -> GatewayError {
        GatewayError(status: 401, type: "authentication_error", code: code, message: message, headers: headers)
    }

    /// 403 `permission_error`: the caller is known but may not do this.
    public static func permissionDenied(_ message: String, code: Code, param: String? = nil) -> GatewayError {
        GatewayError(status: 403, type: "permission_error", code: code, param: param, message: message)
    }

    // MARK: What does not exist

    /// 404 `invalid_request_error` (OpenAI's type for a missing resource).
    public static func notFound(_ message: String, code: Code = .notFound, param: String? = nil) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: code, param: param, message: message)
    }

    public static func modelNotFound(_ model: String, suggestions: [String]) -> GatewayError {
        var message = "The model '\(model)' does not exist or you do not have access to it."
        if !suggestions.isEmpty {
            message += " Did you mean: \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?"
        }
        return .notFound(message, code: .modelNotFound, param: "model")
    }

    /// 409: the object is in a state that does not allow the operation (a finished batch cancelled).
    public static func conflict(_ message: String, code: Code) -> GatewayError {
        GatewayError(status: 409, type: "invalid_request_error", code: code, message: message)
    }

    public static func methodNotAllowed(_ message: String) -> GatewayError {
        GatewayError(status: 405, type: "invalid_request_error", code: .methodNotAllowed, message: message)
    }

    /// 501: the gateway or the provider does not offer this (a passthrough to a provider
    /// without one).
    public static func notImplemented(_ message: String, code: Code) -> GatewayError {
        GatewayError(status: 501, type: "invalid_request_error", code: code, message: message)
    }

    /// 410: a model retired past its sunset date, with no successor to redirect to.
    public static func modelSunset(_ message: String) -> GatewayError {
        GatewayError(status: 410, type: "invalid_request_error", code: .modelSunset, param: "model", message: message)
    }

    // MARK: Limits and hang-ups

    /// 429 `rate_limit_error`: a rate limit (the gateway's, a deployment's or the provider's).
    public static func rateLimited(_ message: String, code: Code = .rateLimitExceeded, headers: [HeaderField] = []) -> GatewayError {
        GatewayError(status: 429, type: "rate_limit_error", code: code, message: message, headers: headers)
    }

    /// 429 `budget_exceeded`: a spend budget is used up for its period.
    public static func budgetExceeded(_ message: String, headers: [HeaderField] = []) -> GatewayError {
        GatewayError(status: 429, type: "budget_exceeded", code: .budgetExceeded, message: message, headers: headers)
    }

    /// 499 (nginx's "client closed request"): what a request the client abandoned is recorded as.
    public static func clientClosedRequest(_ message: String = "The client closed the request.") -> GatewayError {
        GatewayError(status: 499, type: "api_error", code: .clientClosedRequest, message: message)
    }

    // MARK: The gateway and its backends

    public static func internalError(_ message: String = "The gateway hit an internal error.") -> GatewayError {
        GatewayError(status: 500, type: "api_error", code: .internalError, message: message)
    }

    /// 503 `api_error`: a backend the gateway needs (a store, the limiter, a key set) or every
    /// deployment is unavailable for now.
    public static func unavailable(_ message: String, code: Code, headers: [HeaderField] = []) -> GatewayError {
        GatewayError(status: 503, type: "api_error", code: code, message: message, headers: headers)
    }

    public static func shuttingDown() -> GatewayError {
        .unavailable("The gateway is shutting down; retry on another instance.", code: .shuttingDown)
    }

    /// An HTTP error the web framework raised before the gateway saw the request.
    public static func framework(status: Int, message: String) -> GatewayError {
        GatewayError(status: status, type: status < 500 ? "invalid_request_error" : "api_error", code: nil, message: message)
    }

    // MARK: Providers

    /// 502 `api_error`: the provider could not be reached or answered unusably.
    public static func upstreamUnavailable(_ message: String, code: Code = .upstreamConnectionError) -> GatewayError {
        GatewayError(status: 502, type: "api_error", code: code, message: message)
    }

    /// 504 `timeout_error`: the provider did not answer (or go on answering) in time.
    public static func upstreamTimeout(_ message: String, code: Code = .upstreamTimeout) -> GatewayError {
        GatewayError(status: 504, type: "timeout_error", code: code, message: message)
    }

    /// A provider's own refusal passed on with its status, type and code (a 4xx the client can
    /// act on: a bad parameter, a content policy, a quota), or an error a test provider plays.
    public static func provider(status: Int, type: String, code: Code?, param: String? = nil, message: String) -> GatewayError {
        GatewayError(status: status, type: type, code: code, param: param, message: message)
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
