import NIOCore
import SwitchyardCore

/// The mock provider served in-process: `type: mock` in configuration.
///
/// It runs the same ``MockProvider`` engine as the HTTP server, including delays and failure
/// modes, so the embedded default answers offline exactly as `switchyard mock-provider` would.
public struct MockProviderAdapter: ProviderAdapter {
    public let providerName: String
    public let mock: MockProvider

    public init(providerName: String, mock: MockProvider) {
        self.providerName = providerName
        self.mock = mock
    }

    struct DroppedConnection: Error {}

    /// It speaks the canonical (OpenAI) dialect, as an OpenAI-compatible server does.
    public var forwardsCanonicalBody: Bool { true }

    public func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        let plan: MockProvider.Plan
        if let upload = request.upload {
            // An upload is read as a provider reads it: streamed, only its first bytes kept.
            var head: [UInt8] = []
            var total = 0
            for try await chunk in upload.stream {
                if head.count < Self.uploadHeadBytes { head.append(contentsOf: chunk.readableBytesView.prefix(Self.uploadHeadBytes - head.count)) }
                total += chunk.readableBytes
            }
            plan = mock.plan(
                method: "POST", path: "/v1" + request.endpoint.rawValue,
                headers: request.propagatedHeaders + [HeaderField("x-request-id", request.requestID), HeaderField("content-type", upload.contentType)],
                body: head, totalBytes: total)
        } else {
            plan = mock.plan(
                method: "POST",
                path: "/v1" + request.endpoint.rawValue,
                headers: request.propagatedHeaders + [HeaderField("x-request-id", request.requestID)],
                body: Array(buffer: request.body)
            )
        }
        return try await answer(plan)
    }

    /// The most bytes of an upload the in-process mock keeps (its form fields and file header).
    static let uploadHeadBytes = 64 * 1024

    /// Passthrough: the mock answers the path as its HTTP server would.
    public func forward(_ request: PassthroughRequest) async throws -> UpstreamResponse {
        var body: [UInt8] = []
        if let upload = request.body {
            for try await chunk in upload.stream { body.append(contentsOf: chunk.readableBytesView) }
        }
        return try await answer(mock.plan(method: request.method, path: "/v1" + request.target, headers: request.headers, body: body))
    }

    private func answer(_ plan: MockProvider.Plan) async throws -> UpstreamResponse {
        if plan.holdBeforeAnswer {
            await mock.gate.wait(limit: plan.holdLimit)
            try Task.checkCancellation()
        }
        if plan.latency > .zero { try await Task.sleep(for: plan.latency) }
        let pieces = plan.pieces
        let dropConnection = plan.dropConnection
        let isStream = plan.isStream
        let holdBeforePiece = plan.holdBeforePiece
        let holdLimit = plan.holdLimit
        let mock = self.mock
        let provider = providerName
        return UpstreamResponse(
            status: plan.status,
            headers: plan.headers,
            body: ByteStream {
                if isStream { mock.recordStreamStart() }
                let cursor = PieceCursor(pieces: pieces, hold: holdBeforePiece.map { (index: $0, gate: mock.gate, limit: holdLimit) })
                return {
                    do {
                        if let piece = try await cursor.next() { return piece }
                    } catch {
                        if isStream { mock.recordStreamEnd(cancelled: true) }
                        throw error
                    }
                    if dropConnection {
                        if isStream { mock.recordStreamEnd(cancelled: false) }
                        throw GatewayError.upstreamUnavailable(
                            "Provider '\(provider)' closed the connection mid-stream.", code: .upstreamStreamInterrupted)
                    }
                    if isStream && !cursor.finished {
                        cursor.finished = true
                        mock.recordStreamEnd(cancelled: false)
                    }
                    return nil
                }
            }
        )
    }
}

/// Walks a plan's pieces, sleeping before each (and holding at the gate before one, when
/// planned); used by one task at a time.
final class PieceCursor: @unchecked Sendable {
    let pieces: [MockProvider.Plan.Piece]
    let hold: (index: Int, gate: HoldGate, limit: Duration)?
    var index = 0
    var finished = false
    var held = false

    init(pieces: [MockProvider.Plan.Piece], hold: (index: Int, gate: HoldGate, limit: Duration)? = nil) {
        self.pieces = pieces
        self.hold = hold
    }

    func next() async throws -> ByteBuffer? {
        if let hold, hold.index == index, !held {
            held = true
            await hold.gate.wait(limit: hold.limit)
            try Task.checkCancellation()
        }
        guard index < pieces.count else { return nil }
        let piece = pieces[index]
        index += 1
        if piece.delay > .zero { try await Task.sleep(for: piece.delay) }
        return piece.bytes
    }
}

/// Creates in-process mock adapters; provider `options:` become the mock's default knobs.
public struct MockProviderAdapterFactory: ProviderAdapterFactory {
    public init() {}

    public func makeAdapter(for provider: ProviderConfig) throws -> any ProviderAdapter {
        var defaults = MockBehaviour()
        for (key, value) in provider.options { defaults.apply(key, value) }
        return MockProviderAdapter(providerName: provider.name, mock: MockProvider(defaults: defaults))
    }
}
