import Logging
import NIOCore
import ServiceLifecycle
import SwitchyardCore
import SwitchyardStores

/// Runs batches: each line of the input file through the gateway's pipeline as the batch's owner
/// (authorization, access rules, limits, budgets, the ledger and the audit trail apply to every
/// line), at most `batches.concurrency` lines at once and `batches.requests_per_second` started
/// per second over all batches.
///
/// Durability: a line is recorded as started before it is sent and its result is recorded before
/// the next slot is taken; the output and error files are written from those records at the
/// end. After a restart the runner resumes every unfinished batch from what is recorded: a
/// finished line is never sent again, and a line that was in flight when the process died is
/// reported as failed (`interrupted`) instead of being sent a second time. A graceful shutdown
/// lets lines in flight finish and be recorded first.
actor BatchRunner {
    let gateway: Gateway
    let runtime: RuntimeHolder
    let stores: StoreService
    let storage: FileStorage
    let logger: Logger
    private let pacer: Pacer
    private let slots: Slots
    /// Batches being worked on, with whether their owner asked to cancel them.
    private var running: [String: Bool] = [:]
    private var tasks: [String: Task<Void, Never>] = [:]
    private var stopping = false
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation

    init(gateway: Gateway, runtime: RuntimeHolder, stores: StoreService, storage: FileStorage, logger: Logger) {
        self.gateway = gateway
        self.runtime = runtime
        self.stores = stores
        self.storage = storage
        self.logger = logger
        self.pacer = Pacer { runtime.snapshot.config.batches.requestsPerSecond }
        self.slots = Slots { runtime.snapshot.config.batches.concurrency }
        (wakeups, wakeup) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the runner to look for new work (a batch was created).
    nonisolated func wake() { wakeup.yield() }

    /// Until graceful shutdown: starts every active batch, now and whenever woken. At shutdown no
    /// new line starts, and lines in flight finish and are recorded.
    func run() async {
        wakeup.yield()
        await withGracefulShutdownHandler {
            for await _ in wakeups {
                if stopping { break }
                await startActiveBatches()
            }
        } onGracefulShutdown: {
            Task { await self.stop() }
        }
        for task in tasks.values { await task.value }
    }

    private func stop() {
        stopping = true
        wakeup.finish()
    }

    private func startActiveBatches() async {
        let batches: [BatchJob]
        do {
            batches = try await stores.batchStore().activeBatches()
        } catch {
            logger.error("batches could not be read", metadata: ["error": .string("\(error)")])
            return
        }
        for batch in batches where running[batch.id] == nil {
            running[batch.id] = batch.status == .cancelling
            tasks[batch.id] = Task { await self.process(batch) }
        }
    }

    private func finished(_ id: String) {
        running[id] = nil
        tasks[id] = nil
    }

    func isCancelled(_ id: String) -> Bool { running[id] ?? false }
    var isStopping: Bool { stopping }

    /// Marks a batch cancelling (its lines in flight finish; no other starts) and returns it;
    /// nil when `identity` may not see it. A finished batch is returned unchanged.
    func cancel(_ id: String, by identity: Identity) async throws -> BatchJob? {
        let store = try stores.batchStore()
        guard var batch = try await store.batch(id: id), batch.owner.admits(identity) else { return nil }
        guard batch.status.isActive, batch.status != .cancelling, batch.status != .finalizing else { return batch }
        batch.status = .cancelling
        batch.cancellingAt = WallClock.unixTime()
        // Under the actor: the batch's task reads the flag before every line.
        try await store.updateBatch(batch)
        if running[id] != nil { running[id] = true } else { wakeup.yield() }
        return try await store.batch(id: id) ?? batch
    }

    // MARK: One batch

    private func process(_ initial: BatchJob) async {
        var batch = initial
        do {
            let store = try stores.batchStore()
            if batch.status == .validating {
                batch = try await validate(batch, store: store)
                if batch.status == .failed {
                    try await store.finish(batch, files: [])
                    finished(batch.id)
                    return
                }
            }
            if batch.status == .inProgress || batch.status == .cancelling {
                if batch.native == nil, batch.status == .inProgress, try await store.lineStates(batchID: batch.id).isEmpty,
                    let handover = await nativeHandover(batch)
                {
                    batch = try await submitNative(batch, handover, store: store)
                }
                let outcome = batch.native != nil ? try await runNative(&batch, store: store) : try await runLines(batch, store: store)
                if outcome == .stopped {
                    finished(batch.id)
                    return
                }
                if case .failed(let error) = outcome {
                    batch.status = .failed
                    batch.failedAt = WallClock.unixTime()
                    batch.errors = [error]
                    try await store.finish(batch, files: [])
                    finished(batch.id)
                    return
                }
                if isCancelled(batch.id) {
                    batch.status = .cancelling
                } else if outcome == .expired {
                    batch.status = .expired
                } else {
                    batch.status = .finalizing
                    batch.finalizingAt = WallClock.unixTime()
                    try await store.updateBatch(batch)
                }
            }
            try await finalize(batch, store: store)
        } catch {
            logger.error("batch failed", metadata: ["batch_id": .string(batch.id), "error": .string("\(error)")])
            if let store = try? stores.batchStore() {
                batch.status = .failed
                batch.failedAt = WallClock.unixTime()
                batch.errors = [BatchJob.BatchError(code: "batch_failed", message: "The gateway could not run this batch: \(error)")]
                try? await store.finish(batch, files: [])
            }
        }
        finished(batch.id)
    }

    /// Counts the input's lines (`request_counts.total`); fails the batch when there are none,
    /// too many, or the file is gone.
    private func validate(_ batch: BatchJob, store: any BatchStore) async throws -> BatchJob {
        var batch = batch
        let settings = runtime.snapshot.config.batches
        var splitter = JSONLLineSplitter(maximumLineBytes: runtime.snapshot.config.server.maxBodyBytes)
        var count = 0
        do {
            try await storage.read(batch.inputFileID) { chunk in
                count += splitter.feed(chunk).count
                return count <= settings.maxRequests
            }
            if splitter.finish() != nil { count += 1 }
        } catch {
            batch.errors = [BatchJob.BatchError(code: "input_file_missing", message: "The input file \(batch.inputFileID) no longer exists.")]
        }
        if batch.errors.isEmpty && count == 0 {
            batch.errors = [BatchJob.BatchError(code: "empty_file", message: "The input file has no requests.")]
        } else if count > settings.maxRequests {
            batch.errors = [
                BatchJob.BatchError(code: "too_many_requests", message: "The input file has more than \(settings.maxRequests) requests (batches.max_requests).")
            ]
        }
        if !batch.errors.isEmpty {
            batch.status = .failed
            batch.failedAt = WallClock.unixTime()
            return batch
        }
        batch.total = count
        batch.status = .inProgress
        batch.inProgressAt = WallClock.unixTime()
        try await store.updateBatch(batch)
        return batch
    }

    enum LinesOutcome: Equatable {
        case done, stopped, expired
        /// The batch failed as a whole (its provider refused it).
        case failed(BatchJob.BatchError)
    }

    /// Sends every line not yet recorded; returns when all are recorded, when the gateway stops
    /// or the batch is cancelled (lines in flight are awaited either way), or when it expires.
    private func runLines(_ batch: BatchJob, store: any BatchStore) async throws -> LinesOutcome {
        for unfinished in try await store.unfinishedLines(batchID: batch.id) {
            // In flight when the gateway stopped: it may have reached the provider, so it is not sent again.
            try await store.finishLine(
                batchID: batch.id, line: unfinished.line, succeeded: false,
                result: Self.resultLine(
                    customID: unfinished.customID, response: nil,
                    error: (
                        "interrupted",
                        "The gateway stopped while this request was in flight; it is not sent again so that it never runs twice."
                    )))
        }
        let states = try await store.lineStates(batchID: batch.id)
        guard let endpoint = BatchRequestLine.endpoints[batch.endpoint] else { return .done }
        let firstOwner = try await ownerIdentity(batch)
        let maximumLineBytes = runtime.snapshot.config.server.maxBodyBytes
        let factor = runtime.snapshot.config.batches.priceFactor
        let outcome = try await withThrowingTaskGroup(of: Void.self, returning: LinesOutcome.self) { group in
            var owner = firstOwner
            var ownerCheckedAt = ContinuousClock.now
            var splitter = JSONLLineSplitter(maximumLineBytes: maximumLineBytes)
            var seen = Set<String>()
            var index = 0
            var outcome = LinesOutcome.done
            func handle(_ line: JSONLLineSplitter.Line) async throws -> Bool {
                let number = index
                index += 1
                var customID: String?
                let parsed: Result<BatchRequestLine, BatchRequestLine.Problem>
                switch line {
                case .tooLong:
                    parsed = .failure(.init(code: "line_too_long", message: "This line is longer than server.max_body_size.", customID: nil))
                case .line(let bytes):
                    parsed = BatchRequestLine.parse(bytes, endpoint: batch.endpoint)
                }
                if case .success(let request) = parsed { customID = request.customID }
                if case .failure(let problem) = parsed { customID = problem.customID }
                let isNew = customID.map { seen.insert($0).inserted } ?? true
                if states[number] != nil { return true }  // recorded before a restart
                if isStopping {
                    outcome = .stopped
                    return false
                }
                if isCancelled(batch.id) { return false }
                if WallClock.unixTime() > batch.expiresAt {
                    outcome = .expired
                    return false
                }
                let request: BatchRequestLine
                switch parsed {
                case .failure(let problem):
                    try await store.finishLine(
                        batchID: batch.id, line: number, succeeded: false,
                        result: Self.resultLine(customID: problem.customID, response: nil, error: (problem.code, problem.message)))
                    return true
                case .success(let value): request = value
                }
                guard isNew else {
                    try await store.finishLine(
                        batchID: batch.id, line: number, succeeded: false,
                        result: Self.resultLine(
                            customID: request.customID, response: nil,
                            error: ("duplicate_custom_id", "Another line of this batch has the custom_id '\(request.customID)'.")))
                    return true
                }
                if ContinuousClock.now - ownerCheckedAt > .seconds(1) {
                    owner = try await ownerIdentity(batch)
                    ownerCheckedAt = .now
                }
                await slots.acquire()
                await pacer.waitForTurn()
                let stopping = isStopping
                let cancelled = isCancelled(batch.id)
                if stopping || cancelled {
                    await slots.release()
                    if stopping { outcome = .stopped }
                    return false
                }
                try await store.startLine(batchID: batch.id, line: number, customID: request.customID)
                let identity = owner
                group.addTask {
                    let result: (succeeded: Bool, line: [UInt8])
                    switch identity {
                    case .success(let identity):
                        result = await self.execute(request, endpoint: endpoint, identity: identity, priceFactor: factor)
                    case .failure(let error):
                        result = (false, Self.resultLine(customID: request.customID, response: nil, error: (error.code?.rawValue ?? error.type, error.message)))
                    }
                    do {
                        try await store.finishLine(batchID: batch.id, line: number, succeeded: result.succeeded, result: result.line)
                    } catch {
                        self.logger.error("a batch line's result could not be recorded", metadata: ["batch_id": .string(batch.id), "error": .string("\(error)")])
                    }
                    await self.slots.release()
                }
                return true
            }
            do {
                var more = true
                try await storage.read(batch.inputFileID) { chunk in
                    for line in splitter.feed(chunk) where more {
                        more = try await handle(line)
                    }
                    return more
                }
                if more, let last = splitter.finish() { _ = try await handle(last) }
            } catch let error as FileStorageError {
                logger.error("a batch's input file could not be read", metadata: ["batch_id": .string(batch.id), "error": .string(error.message)])
            }
            try await group.waitForAll()
            return outcome
        }
        if outcome == .expired {
            // What did not run is reported in the error file.
            var number = 0
            var rest = JSONLLineSplitter(maximumLineBytes: runtime.snapshot.config.server.maxBodyBytes)
            let recorded = try await store.lineStates(batchID: batch.id)
            try await storage.read(batch.inputFileID) { chunk in
                for line in rest.feed(chunk) {
                    defer { number += 1 }
                    guard recorded[number] == nil else { continue }
                    var customID: String?
                    if case .line(let bytes) = line { customID = (try? JSONValue.parse(bytes))?["custom_id"]?.stringValue }
                    try await store.finishLine(
                        batchID: batch.id, line: number, succeeded: false,
                        result: Self.resultLine(
                            customID: customID, response: nil, error: ("batch_expired", "The batch expired before this request could run.")))
                }
                return true
            }
        }
        return outcome
    }

    /// The identity the batch's lines run as: a virtual key is looked up again (a revoked or
    /// expired key stops its batch), then the directory's inheritance applies as for a request.
    func ownerIdentity(_ batch: BatchJob) async throws -> Result<Identity, GatewayError> {
        guard var identity = Identity(snapshotJSON: batch.identity) else {
            return .failure(.internalError("The batch's owner could not be read."))
        }
        if identity.kind == .virtualKey {
            guard let key = try await stores.keyStore().find(id: identity.subject), key.revokedAt == nil else {
                return .failure(.unauthenticated("The batch's API key was revoked.", code: .keyRevoked))
            }
            if let expiry = key.expiresAt, expiry <= WallClock.unixTime() {
                return .failure(.unauthenticated("The batch's API key has expired.", code: .keyExpired))
            }
            identity = key.identity
        }
        if identity.kind == .virtualKey || identity.kind == .user { await stores.directory().apply(to: &identity) }
        return .success(identity)
    }

    /// Sends one line through the gateway, as a client request would be.
    private nonisolated func execute(_ line: BatchRequestLine, endpoint: Endpoint, identity: Identity, priceFactor: Double) async -> (
        succeeded: Bool, line: [UInt8]
    ) {
        let requestID = RequestMiddleware.generateRequestID()
        var inbound = Gateway.Inbound(endpoint: endpoint, body: ByteBuffer(bytes: line.body), identity: identity, requestID: requestID)
        inbound.priceFactor = priceFactor
        let response = await gateway.handle(inbound)
        var body = ByteBuffer()
        switch response.body {
        case .buffer(let buffer): body = buffer
        case .chunks(let chunks): for var chunk in chunks { body.writeBuffer(&chunk) }
        case .produced(let producer):
            // The MCP tool loop's streams; lines never ask for a stream, so read to the end.
            try? await producer.run { chunk in
                var chunk = chunk
                body.writeBuffer(&chunk)
            }
        case .stream(let stream):
            // Lines never ask for a stream; should a prompt rule make one, it is read to the end.
            await stream.run { chunk in
                var chunk = chunk
                body.writeBuffer(&chunk)
            }
        case .bytes(let relay):
            // Binary answers (speech) are not batch endpoints; read whatever comes to the end.
            _ = await relay.run { chunk in
                var chunk = chunk
                body.writeBuffer(&chunk)
            }
        }
        let bytes = Array(buffer: body)
        let parsed = (try? JSONValue.parse(bytes)) ?? .string(String(decoding: bytes, as: UTF8.self))
        let answer: JSONValue = ["status_code": JSONValue(response.status), "request_id": .string(requestID), "body": parsed]
        return (response.status < 300, Self.resultLine(customID: line.customID, response: answer, error: nil))
    }

    /// One line of the output or error file (OpenAI's shape).
    static func resultLine(customID: String?, response: JSONValue?, error: (code: String, message: String)?) -> [UInt8] {
        let value: JSONValue = [
            "id": .string("batch_req_" + randomAlphanumerics(24)), "custom_id": customID.map(JSONValue.string) ?? .null, "response": response ?? .null,
            "error": error.map { ["code": .string($0.code), "message": .string($0.message)] } ?? .null,
        ]
        return value.serializedBytes()
    }

    /// Writes the output and error files from the recorded lines and ends the batch:
    /// completed, cancelled or expired.
    private func finalize(_ batch: BatchJob, store: any BatchStore) async throws {
        var batch = batch
        var files: [StoredFile] = []
        for succeeded in [true, false] {
            let writer = try storage.makeWriter()
            var after = -1
            while true {
                let page = try await store.lineResults(batchID: batch.id, succeeded: succeeded, afterLine: after, limit: 500)
                guard let last = page.last else { break }
                for row in page {
                    try writer.write(row.result)
                    try writer.write([10])
                }
                after = last.line
            }
            guard writer.bytes > 0 else {
                writer.discard()
                continue
            }
            let id = StoredFile.generateID()
            try writer.commit(as: id)
            files.append(
                StoredFile(
                    id: id, owner: batch.owner, purpose: "batch_output", filename: "\(batch.id)_\(succeeded ? "output" : "error").jsonl",
                    bytes: writer.bytes, createdAt: WallClock.unixTime()))
            if succeeded { batch.outputFileID = id } else { batch.errorFileID = id }
        }
        let now = WallClock.unixTime()
        switch batch.status {
        case .cancelling:
            batch.status = .cancelled
            batch.cancelledAt = now
        case .expired:
            batch.expiredAt = now
        default:
            batch.status = .completed
            batch.completedAt = now
        }
        try await store.finish(batch, files: files)
        logger.info("batch finished", metadata: ["batch_id": .string(batch.id), "status": .string(batch.status.rawValue)])
    }
}

/// Lets callers start one at a time, at least `1 / requests_per_second` apart as measured when
/// each actually goes (a late wake-up delays the next start instead of bunching two together).
/// The rate is read at each turn, so a reload applies.
actor Pacer {
    let rate: @Sendable () -> Double
    private var next = ContinuousClock.now
    private let turns = Slots { 1 }

    init(rate: @escaping @Sendable () -> Double) {
        self.rate = rate
    }

    private func started() {
        next = ContinuousClock.now + .seconds(1 / max(rate(), 0.001))
    }

    /// Waits until this caller's turn.
    nonisolated func waitForTurn() async {
        await turns.acquire()
        let start = await next
        if start > .now { try? await Task.sleep(until: start, clock: .continuous) }
        await started()
        await turns.release()
    }
}

/// At most `capacity` holders at once, served in order of arrival.
actor Slots {
    let capacity: @Sendable () -> Int
    private var inUse = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(capacity: @escaping @Sendable () -> Int) {
        self.capacity = capacity
    }

    func acquire() async {
        if inUse < capacity() && waiting.isEmpty {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if !waiting.isEmpty && inUse <= capacity() {
            waiting.removeFirst().resume()
        } else {
            inUse -= 1
        }
    }
}

/// Runs the ``BatchRunner`` for the application's lifetime.
struct BatchRunnerService: Service {
    let runner: BatchRunner

    func run() async throws {
        await runner.run()
    }
}
