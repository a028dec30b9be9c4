import NIOCore

/// Forwards an OpenAI-dialect SSE stream event by event while watching it.
///
/// A value-type state machine: upstream bytes in, client bytes out, no I/O. It learns the
/// token usage, drops the usage-only chunk the gateway forced upstream when the client did not
/// ask for it, turns an in-band `{"error":...}` event into a ``GatewayError`` and guarantees the
/// client stream ends with exactly one `data: [DONE]`.
public struct OpenAIStreamRelay: Sendable {
    public enum State: Sendable, Equatable {
        case streaming
        /// `[DONE]` seen; anything after it is ignored.
        case done
        /// The upstream sent an error event or garbage; the stream must end with an error.
        case failed
    }

    public let forwardUsageChunk: Bool
    public private(set) var state: State = .streaming
    public private(set) var usage: TokenUsage?
    public private(set) var upstreamError: GatewayError?
    /// Events forwarded to the client so far.
    public private(set) var forwardedEvents = 0
    /// The upstream's `model` field from the first chunk.
    public private(set) var responseModel: String?
    private var parser = SSEParser()
    private let provider: String

    public init(forwardUsageChunk: Bool, provider: String) {
        self.forwardUsageChunk = forwardUsageChunk
        self.provider = provider
    }

    /// Consumes upstream bytes and appends what the client should receive to `output`.
    public mutating func consume(_ bytes: ByteBuffer, into output: inout ByteBuffer) {
        guard state == .streaming else { return }
        var parser = self.parser
        defer { self.parser = parser }
        do {
            try parser.feed(bytes) { event in
                handle(event, into: &output)
            }
        } catch {
            fail(.upstreamUnavailable("Provider '\(provider)' sent a stream line longer than the gateway accepts.", code: "upstream_invalid_stream"))
        }
    }

    private mutating func handle(_ event: SSEEvent, into output: inout ByteBuffer) {
        guard state == .streaming else { return }
        if event.data.count == 6, event.data.elementsEqual("[DONE]".utf8) {
            state = .done
            return
        }
        let scan: JSONObjectScan
        do {
            scan = try JSONObjectScan(event.data)
        } catch {
            fail(.upstreamUnavailable("Provider '\(provider)' sent a malformed stream event.", code: "upstream_invalid_stream"))
            return
        }
        if let errorMember = scan.member("error"), errorMember.kind != .null {
            let detail = scan.value("error")
            let message = detail?["message"]?.stringValue ?? detail?.stringValue ?? "unknown error"
            var error = GatewayError.upstreamUnavailable("Provider '\(provider)' reported an error mid-stream: \(message)", code: "upstream_stream_error")
            if let type = detail?["type"]?.stringValue, type == "rate_limit_error" || type == "rate_limit_exceeded" {
                error = GatewayError(status: 429, type: "rate_limit_error", code: "rate_limit_exceeded", message: error.message, headers: [HeaderField("Retry-After", "1")])
            }
            fail(error)
            return
        }
        if responseModel == nil { responseModel = scan.string("model") }
        if let member = scan.member("usage"), member.kind == .object, let reported = TokenUsage(openAIResponse: scan) {
            usage = reported
            if !forwardUsageChunk, scan.isEmptyArray("choices") { return }
        }
        event.write(to: &output)
        forwardedEvents += 1
    }

    private mutating func fail(_ error: GatewayError) {
        state = .failed
        upstreamError = error
    }

    /// Call when the upstream body ended cleanly. Returns whether the stream was truncated
    /// (no `[DONE]` and an unterminated event pending).
    public mutating func finishUpstream() -> Bool {
        let truncated = parser.finish()
        if state == .streaming && truncated {
            fail(.upstreamUnavailable("Provider '\(provider)' closed the stream in the middle of an event.", code: "upstream_stream_truncated"))
            return true
        }
        if state == .streaming { state = .done }
        return false
    }

    /// The closing `data: [DONE]` event.
    public static func writeDone(into output: inout ByteBuffer) {
        output.writeStaticString("data: [DONE]\n\n")
    }

    /// An error event in the OpenAI dialect, then the closing `[DONE]`.
    public static func writeError(_ error: GatewayError, into output: inout ByteBuffer) {
        output.writeStaticString("data: ")
        output.writeBytes(error.envelope())
        output.writeStaticString("\n\n")
        writeDone(into: &output)
    }
}
