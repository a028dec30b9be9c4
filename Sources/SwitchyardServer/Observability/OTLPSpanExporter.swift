import Logging
import NIOCore
import Metrics
import ServiceLifecycle
import SwitchyardCore
import Synchronization

/// Exports ended spans to an OpenTelemetry collector over OTLP/HTTP with the JSON encoding
/// (`tracing.endpoint`, usually `…:4318/v1/traces`). Spans queue off the request path (a
/// lock and an append); a background loop sends them in batches of `batch_size`: full
/// batches as soon as they are full, and whatever is queued every `export_interval`. A failed
/// export (429, 502–504, transport error) is retried twice with backoff, then dropped; a full
/// queue drops its oldest spans. Both are counted in `switchyard_trace_spans_dropped_total`.
/// At shutdown the queue is sent once more.
///
/// Spans that end while a batch is being sent wait for the next full batch or the next
/// interval: chasing them with the rest of the queue would, under load, send a stream of
/// small exports (one per round trip to the collector), each costing a whole HTTP request.
final class OTLPSpanExporter: SpanSink, Service, Sendable {
    let runtime: RuntimeHolder
    let client: any WebhookClient
    let logger: Logger
    private let queue = Mutex(SpanQueue())
    /// The memory of the last export (its encoding and its body), for the next one.
    private let scratch = Mutex<([UInt8], ByteBuffer?)>(([], nil))
    /// A full batch is waiting.
    private let batchFull = Atomic<Bool>(false)
    /// ``flush()`` asked for everything queued.
    private let flushRequested = Atomic<Bool>(false)
    private let exported: Counter
    private let dropped: Counter

    init(runtime: RuntimeHolder, client: any WebhookClient, metrics: GatewayMetrics, logger: Logger) {
        self.runtime = runtime
        self.client = client
        self.logger = logger
        exported = metrics.counter("switchyard_trace_spans_exported_total", [])
        dropped = metrics.counter("switchyard_trace_spans_dropped_total", [])
    }

    func spanEnded(_ span: FinishedSpan) {
        let settings = runtime.snapshot.config.tracing
        let (overflow, full) = queue.withLock { queue -> (Int, Bool) in
            queue.append(span)
            let excess = queue.count - settings.maxQueue
            if excess > 0 { queue.removeFirst(excess) }
            return (max(0, excess), queue.count >= settings.batchSize)
        }
        if overflow > 0 { dropped.increment(by: overflow) }
        if full { batchFull.store(true, ordering: .relaxed) }
    }

    func flush() { flushRequested.store(true, ordering: .relaxed) }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastExport = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                let settings = self.runtime.snapshot.config.tracing
                let everything =
                    self.flushRequested.exchange(false, ordering: .relaxed) || ContinuousClock.now - lastExport >= settings.exportInterval
                let full = self.batchFull.exchange(false, ordering: .relaxed)
                guard everything || full else { continue }
                if everything { lastExport = .now }
                await self.exportQueued(settings, retries: 2, partial: everything)
            }
        }
        await exportQueued(runtime.snapshot.config.tracing, retries: 0, partial: true)
    }

    /// Sends the spans queued when it starts, batch by batch; a last batch smaller than
    /// `batch_size` only when `partial` (the interval is due, a flush, shutdown).
    func exportQueued(_ settings: TracingSettings, retries: Int, partial: Bool) async {
        var remaining = queue.withLock { $0.count }
        while remaining > 0 {
            let batch = queue.withLock { queue -> [FinishedSpan] in
                let count = min(settings.batchSize, queue.count, remaining)
                guard count > 0, partial || count == settings.batchSize else { return [] }
                let batch = queue.prefix(count)
                queue.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            remaining -= batch.count
            if await !send(batch, settings: settings, retries: retries) { return }
        }
    }

    private func send(_ batch: [FinishedSpan], settings: TracingSettings, retries: Int) async -> Bool {
        // The batch is encoded into the memory the last one used (exports are one at a time;
        // a concurrent one would find the scratch empty and allocate its own).
        var (encoded, body) = scratch.withLock { scratch in
            defer { scratch = ([], nil) }
            return scratch
        }
        OTLPTraceEncoding.writeRequest(
            batch, serviceName: settings.serviceName, serviceVersion: SwitchyardVersion.current, resourceAttributes: settings.resourceAttributes,
            into: &encoded)
        var buffer = body ?? ByteBufferAllocator().buffer(capacity: encoded.count)
        buffer.clear()
        buffer.writeBytes(encoded)
        defer {
            let kept = (encoded, buffer)
            scratch.withLock { $0 = kept }
        }
        var headers = settings.headers
        headers.append(HeaderField("content-type", "application/json"))
        // OTLP/HTTP's retryable statuses.
        let delivery = WebhookDelivery(client: client, attempts: retries + 1, retryable: { [429, 502, 503, 504].contains($0) })
        guard let problem = await delivery.post(url: settings.endpoint, headers: headers, buffer: buffer, timeout: settings.timeout) else {
            exported.increment(by: batch.count)
            return true
        }
        dropped.increment(by: batch.count)
        logger.warning("trace export failed; spans dropped", metadata: ["spans": .stringConvertible(batch.count), "error": .string(problem)])
        return false
    }
}

/// The spans waiting for export, oldest first. Dropping the oldest moves a start index, not the
/// spans behind it: while the collector is down the queue stays full and every new span drops
/// one, which with an array's `removeFirst` moved the whole queue (8,192 spans by default) on
/// every request.
struct SpanQueue {
    private var spans: [FinishedSpan] = []
    /// Spans before `head` are gone.
    private var head = 0

    var count: Int { spans.count - head }

    mutating func append(_ span: FinishedSpan) { spans.append(span) }

    func prefix(_ count: Int) -> [FinishedSpan] { Array(spans[head..<(head + Swift.min(count, self.count))]) }

    mutating func removeFirst(_ count: Int) {
        head += Swift.min(count, self.count)
        // The gone spans are released in one move once they are at least half of the storage.
        if head == spans.count {
            spans.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= spans.count {
            spans.removeFirst(head)
            head = 0
        }
    }
}
