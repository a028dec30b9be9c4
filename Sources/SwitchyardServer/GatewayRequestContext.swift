import Hummingbird
import NIOCore
import SwitchyardCore

/// Per-request state: the request id, who is calling, when the request arrived.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The gateway's id of the request, generated for every request.
    public var requestID: String = ""
    /// The client's well-formed `x-request-id`, echoed back and recorded beside `requestID`.
    public var clientRequestID: String?
    public var identity: Identity?
    public var receivedAt: ContinuousClock.Instant
    /// The connection, used to notice a client that goes away during a long request.
    public let channel: any Channel
    /// The configuration generation this request runs under, taken once by the outermost
    /// middleware so every later step sees the same one.
    public var snapshot: RuntimeSnapshot?
    /// Body limit of the current configuration.
    public var maxBodyBytes: Int = 16 * 1024 * 1024
    /// Set by inference routes: their access log line comes from the gateway's request record.
    public var loggedByGateway = false
    /// The server span of this request (tracing on).
    public var requestSpan: RecordedSpan?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
        self.receivedAt = .now
    }

    public var maxUploadSize: Int { maxBodyBytes }
}
