import Logging
import Metrics
import ServiceLifecycle
import SwitchyardCore
import SwitchyardStores
import Synchronization

/// The request log's HTTP sink (`logging.webhook`): records are buffered off the request path
/// (a lock and an append), then POSTed in batches by a background loop, as one JSON array or
/// as JSON lines. A failed batch (429, 5xx, transport error, timeout) is retried with
/// exponential backoff; a batch still undelivered after `max_retries`, or a record pushed out
/// of a full buffer, is dropped and counted in
/// `switchyard_request_log_dropped_total{sink="webhook"}`. At shutdown the buffer is sent once more.
final class RequestLogWebhookSink: RequestObserver, Service, Sendable {
    struct Buffer {
        var records: [UsageRecord] = []
        var lastFlush = ContinuousClock.now
    }
    let runtime: RuntimeHolder
    let client: any WebhookClient
    let logger: Logger
    private let buffer = Mutex(Buffer())
    private let sent: Counter
    private let dropped: Counter
    private let failures: Counter
    /// Backoff before retry `n` (1-based): base × 2^(n-1), at most 30 s. Tests shorten it.
    let backoffBase: Duration

    init(
        runtime: RuntimeHolder, client: any WebhookClient, metrics: GatewayMetrics, logger: Logger,
        backoffBase: Duration = .milliseconds(500)
    ) {
        self.runtime = runtime
        self.client = client
        self.logger = logger
        self.backoffBase = backoffBase
        sent = metrics.counter("switchyard_request_log_records_total", [("sink", "webhook")])
        dropped = metrics.counter("switchyard_request_log_dropped_total", [("sink", "webhook")])
        failures = metrics.counter("switchyard_request_log_delivery_failures_total", [("sink", "webhook")])
    }

    func requestFinished(_ record: RequestRecord) {
        guard let settings = runtime.snapshot.config.logging.webhook else { return }
        let usage = UsageRecord(record, endedAt: WallClock.unixTime(), withDetail: true)
        let overflow = buffer.withLock { buffer -> Int in
            buffer.records.append(usage)
            let excess = buffer.records.count - settings.maxBuffer
            if excess > 0 { buffer.records.removeFirst(excess) }
            return max(0, excess)
        }
        if overflow > 0 { dropped.increment(by: overflow) }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
                await self.flushDue()
            }
        }
        // Shutdown: what is buffered goes out once more (no retries: the process is leaving).
        if let settings = runtime.snapshot.config.logging.webhook {
            while let batch = take(settings, force: true) {
                if await !deliver(batch, settings: settings, attempts: 1) { break }
            }
        }
    }

    /// Sends the batches that are due: a full batch, or whatever waited `flush_interval`.
    func flushDue() async {
        guard let settings = runtime.snapshot.config.logging.webhook else {
            buffer.withLock { $0.records.removeAll() }
            return
        }
        while let batch = take(settings, force: false) {
            _ = await deliver(batch, settings: settings, attempts: settings.maxRetries + 1)
        }
    }

    private func take(_ settings: LogWebhookSettings, force: Bool) -> [UsageRecord]? {
        buffer.withLock { buffer in
            guard !buffer.records.isEmpty else { return nil }
            let due = force || buffer.records.count >= settings.batchSize || ContinuousClock.now - buffer.lastFlush >= settings.flushInterval
            guard due else { return nil }
            let count = min(settings.batchSize, buffer.records.count)
            let batch = Array(buffer.records.prefix(count))
            buffer.records.removeFirst(count)
            buffer.lastFlush = .now
            return batch
        }
    }

    static func body(_ batch: [UsageRecord], settings: LogWebhookSettings) -> [UInt8] {
        let entries = batch.map { JSONValue.object(RequestLogEntry.json($0, bodies: settings.includeBodies)) }
        switch settings.format {
        case .json:
            return JSONValue.array(entries).serializedBytes()
        case .ndjson:
            var out: [UInt8] = []
            for entry in entries {
                out.append(contentsOf: entry.serializedBytes())
                out.append(UInt8(ascii: "\n"))
            }
            return out
        }
    }

    /// POSTs one batch, retrying what may succeed later; returns whether it was delivered.
    private func deliver(_ batch: [UsageRecord], settings: LogWebhookSettings, attempts: Int) async -> Bool {
        var headers = settings.headers
        headers.append(HeaderField("content-type", settings.format == .json ? "application/json" : "application/x-ndjson"))
        // A client error other than a timeout or throttling will not go away by retrying.
        let delivery = WebhookDelivery(
            client: client, attempts: attempts, backoff: backoffBase, retryable: { !((400..<500).contains($0) && $0 != 408 && $0 != 429) })
        let failures = self.failures
        guard
            let problem = await delivery.post(
                url: settings.url, headers: headers, body: Self.body(batch, settings: settings), timeout: settings.timeout,
                failed: { _, _, _ in failures.increment() })
        else {
            sent.increment(by: batch.count)
            return true
        }
        dropped.increment(by: batch.count)
        logger.warning(
            "request log webhook: batch dropped", metadata: ["records": .stringConvertible(batch.count), "error": .string(problem)])
        return false
    }
}

/// Deletes request log detail and bodies older than `logging.retention` (usage rows, the
/// accounting, stay): at start, then every quarter of the retention period (at most hourly).
struct RequestLogRetention: Service {
    let ledger: UsageLedger?
    let runtime: RuntimeHolder
    let logger: Logger

    func run() async throws {
        guard let ledger else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var pause = Duration.seconds(3600)
                if let retention = runtime.snapshot.config.logging.retention {
                    do {
                        let removed = try await ledger.purgeLogs(before: WallClock.unixTime() - durationSeconds(retention))
                        if removed > 0 { logger.info("request log retention", metadata: ["removed": .stringConvertible(removed)]) }
                    } catch {
                        logger.warning("request log retention failed", metadata: ["error": .string("\(error)")])
                    }
                    pause = min(pause, max(.seconds(1), retention / 4))
                }
                try? await Task.sleep(for: pause)
            }
        }
    }
}
