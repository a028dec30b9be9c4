import NIOCore
import Synchronization

/// The bytes a stream read before its response began (at least its first event; a fast
/// upstream's whole stream), taken out by the one run of the stream.
///
/// In a box rather than a `ByteBuffer` field: the HTTP layer runs the stream from a copy of
/// it held by the response body's closure, so a field's bytes would be shared with that copy,
/// and the stream's first write after them (`[DONE]`, a usage chunk) would copy them all.
final class FirstEvents: Sendable {
    private let buffer: Mutex<ByteBuffer>

    init(_ buffer: ByteBuffer) { self.buffer = Mutex(buffer) }

    /// The bytes, leaving none behind (a second call gets an empty buffer).
    func take() -> ByteBuffer {
        buffer.withLock { buffer in
            var taken = ByteBuffer()
            swap(&taken, &buffer)
            return taken
        }
    }
}

/// The rest of a stream after its first event: forwards upstream events to the client.
public struct GatewayStream: Sendable {
    var relay: OpenAIStreamRelay
    var iterator: ByteStream.AsyncIterator
    /// The events read before the response began, handed over once (see ``FirstEvents``).
    let pending: FirstEvents
    var upstreamEnded: Bool
    var record: RequestRecord
    let receivedAt: ContinuousClock.Instant
    let upstreamStart: ContinuousClock.Instant
    let provider: String
    /// The model whose tokenizer counts the answer when the provider reports no usage.
    let countingModel: String
    let clock: any RouterClock
    /// Ends the request: after-stages (settlement, cache) and observers.
    let completion: RequestCompletion
    let attemptFeedback: AttemptFeedback
    /// The most bytes kept for the response cache; nil when the answer is not cached.
    var cacheLimit: Int?
    /// The prompt's tokens, counted only for a stream that ends without the provider's usage.
    let promptTokens: LazyPromptTokens

    /// Writes the stream through `emit` until it ends. Never throws: an upstream failure
    /// becomes an error event, a client that goes away (emit throws, or the task is
    /// cancelled) stops the upstream call. The request ends (settled, recorded) in every case.
    @concurrent public consuming func run(_ emit: @concurrent (ByteBuffer) async throws -> Void) async {
        var record = self.record
        var relay = self.relay
        var iterator = self.iterator
        var output = pending.take()
        var upstreamEnded = self.upstreamEnded
        var recorded = false
        // What the client receives, kept for the cache until it grows past the entry limit.
        var captured: [UInt8]? = cacheLimit == nil ? nil : []
        let cacheLimit = self.cacheLimit ?? 0
        func capture(_ buffer: ByteBuffer) {
            guard captured != nil else { return }
            if captured!.count + buffer.readableBytes > cacheLimit {
                captured = nil
            } else {
                captured!.append(contentsOf: buffer.readableBytesView)
            }
        }
        /// The provider's usage, or else the gateway's count of the prompt and of the text forwarded.
        func countUsage() {
            guard relay.usage == nil else { return }
            var counted = TokenUsage(promptTokens: promptTokens(), completionTokens: relay.streamedCompletionTokens(model: countingModel))
            if let textGuard = relay.textGuard, textGuard.blocked != nil {
                // The upstream was stopped by a guardrail: bill what was generated, held text included.
                counted.completionTokens = max(counted.completionTokens, (textGuard.textBytes + 3) / 4)
                counted.totalTokens = counted.promptTokens + counted.completionTokens
            }
            relay.supplyUsage(counted)
            record.usageSource = .gateway
        }
        func finishRecord() {
            guard !recorded else { return }
            recorded = true
            countUsage()
            record.usage = relay.usage
            if record.usageSource == nil { record.usageSource = .provider }
            if let textGuard = relay.textGuard { record.guardrails.append(contentsOf: textGuard.decisions) }
            record.chunks = relay.forwardedEvents
            record.servedModel = relay.responseModel ?? record.servedModel
            record.upstreamDuration = clock.now - upstreamStart
            record.duration = clock.now - receivedAt
            attemptFeedback.finish(record: record, text: relay.captureText ? relay.capturedText : nil)
            if let limit = record.logBodyLimit { record.responseBody = RequestLogEntry.redact(Array(relay.capturedText.utf8), limit: limit) }
            completion.finish(record, responseBody: record.outcome == .success ? captured : nil)
        }
        defer { finishRecord() }
        record.status = 200
        do {
            while true {
                if relay.state == .failed, let error = relay.upstreamError {
                    relay.writeClientError(error, into: &output)
                    try await emit(output)
                    record.outcome = .streamError
                    record.errorCode = error.metricLabel
                    record.upstreamError = error.metricLabel
                    return
                }
                if upstreamEnded || relay.state == .done {
                    // A client that asked for usage gets the gateway's count when the provider
                    // sent none (before the end events that carry it).
                    countUsage()
                    relay.writeClientEnd(into: &output)
                    // Recorded before the last bytes go out: a client that saw the whole stream
                    // always has its usage record (the ledger journals it synchronously).
                    record.outcome = .success
                    capture(output)
                    finishRecord()
                    try await emit(output)
                    return
                }
                if output.readableBytes > 0 {
                    capture(output)
                    try await emit(output)
                    output.clear()
                }
                let chunk: ByteBuffer?
                do {
                    chunk = try await iterator.next()
                } catch {
                    if Task.isCancelled || error is CancellationError { throw error }
                    let mapped = Gateway.streamFailure(error, provider: provider)
                    relay.writeClientError(mapped, into: &output)
                    try await emit(output)
                    record.outcome = .streamError
                    record.errorCode = mapped.metricLabel
                    if mapped.status != 499 { record.upstreamError = mapped.metricLabel }
                    return
                }
                if let chunk {
                    relay.consume(chunk, into: &output)
                } else {
                    upstreamEnded = true
                    _ = relay.finishUpstream()
                }
            }
        } catch {
            // The client is gone (write failed or the request task was cancelled). Dropping
            // the iterator here cancels the upstream request.
            record.outcome = .clientDisconnected
            record.status = 499
            record.errorCode = "client_closed_request"
        }
    }
}
