/// What happened to one inference request: the basis of metrics, access logs and later usage
/// accounting. Emitted exactly once per request, also when it failed or the client left.
public struct RequestRecord: Sendable {
    public enum Outcome: String, Sendable {
        case success
        /// The gateway answered with an error before any byte of a response.
        case error
        /// A stream that had started failed before completing.
        case streamError = "stream_error"
        /// The client went away before the response was complete.
        case clientDisconnected = "client_disconnected"
    }

    public var requestID: String
    public var endpoint: Endpoint
    /// The API dialect the client spoke.
    public var dialect: ClientDialect = .openAI
    public var identity: Identity
    public var requestedModel: String?
    public var servedModel: String?
    public var provider: String?
    public var stream: Bool
    /// HTTP status sent to the client (499 when the client disconnected before the end).
    public var status: Int
    public var outcome: Outcome
    public var errorCode: String?
    public var usage: TokenUsage?
    /// Time from receipt of the request to the first content byte sent (streams).
    public var timeToFirstToken: Duration?
    /// Time the upstream call took, from sending to the last byte.
    public var upstreamDuration: Duration?
    public var duration: Duration
    /// Whether the upstream failure happened before the first byte (a clean HTTP error).
    public var upstreamError: String?
    public var chunks: Int

    public init(requestID: String, endpoint: Endpoint, identity: Identity) {
        self.requestID = requestID
        self.endpoint = endpoint
        self.identity = identity
        self.stream = false
        self.status = 0
        self.outcome = .success
        self.duration = .zero
        self.chunks = 0
    }
}

/// The API dialect a client speaks; responses and errors are encoded in it.
public enum ClientDialect: String, Sendable {
    case openAI = "openai"
    case anthropic

    /// The route label for metrics and logs.
    public func routeLabel(_ endpoint: Endpoint) -> String {
        self == .anthropic ? "messages" : endpoint.label
    }
}

/// Receives every finished ``RequestRecord`` (metrics, access log, later the usage ledger).
public protocol RequestObserver: Sendable {
    func requestFinished(_ record: RequestRecord)
}

/// Fans a record out to several observers.
public struct ObserverList: RequestObserver {
    public var observers: [any RequestObserver]
    public init(_ observers: [any RequestObserver]) { self.observers = observers }
    public func requestFinished(_ record: RequestRecord) {
        for observer in observers { observer.requestFinished(record) }
    }
}
