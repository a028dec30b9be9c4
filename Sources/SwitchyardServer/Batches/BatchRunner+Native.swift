import Logging
import NIOCore
import SwitchyardCore
import SwitchyardStores

/// Batches handed to the provider's own batch API (`native_batches: true` on a deployment).
///
/// A batch goes to the provider only when every line is valid and, checked as the owner's
/// request (model list, endpoints, access rules), routes to the same single deployment that
/// has `native_batches` on and whose provider's batch API takes the endpoint; when no
/// guardrails or prompt rules are configured (what the provider runs must be what the checks
/// judged, and the gateway cannot guard answers it never sees before they are final); and when
/// the owner's budgets are not used up. Otherwise the gateway runs the lines itself.
///
/// The provider's batch id is stored in the batch's row: after a restart polling resumes and
/// nothing is submitted twice. A batch found mid-submission after a restart (it may or may not
/// exist at the provider) fails instead of being submitted again.
extension BatchRunner {
    struct Handover: Sendable {
        var record: NativeBatchRecord
        var endpoint: Endpoint
        var requests: [[UInt8]]
    }

    /// The provider submission for `batch`, or nil when the gateway runs it.
    func nativeHandover(_ batch: BatchJob) async -> Handover? {
        let snapshot = runtime.snapshot
        guard snapshot.config.models.contains(where: { $0.deployments.contains(where: \.nativeBatches) }) else { return nil }
        guard snapshot.guardrails.isEmpty, snapshot.prompts.isEmpty, let endpoint = BatchRequestLine.endpoints[batch.endpoint],
            case .success(let owner)? = try? await ownerIdentity(batch)
        else { return nil }
        var deployment: DeploymentConfig?
        var group: ModelGroup?
        var api: (any NativeBatchAPI)?
        var requests: [[UInt8]] = []
        var seen = Set<String>()
        var eligible = true
        func consider(_ line: JSONLLineSplitter.Line) -> Bool {
            guard case .line(let bytes) = line, case .success(let request) = BatchRequestLine.parse(bytes, endpoint: batch.endpoint),
                seen.insert(request.customID).inserted,
                case .success(let prepared) = gateway.check(
                    Gateway.Inbound(endpoint: endpoint, body: ByteBuffer(bytes: request.body), identity: owner, requestID: batch.id),
                    snapshot: snapshot),
                prepared.plan.group.deployments.count == 1, prepared.plan.shadow == nil, let target = prepared.plan.group.deployments.first,
                target.nativeBatches, prepared.plan.regions.map({ regions in target.region.map(regions.contains) ?? false }) ?? true
            else { return false }
            if let deployment {
                guard deployment.id == target.id, group?.qualifiedName == prepared.plan.group.qualifiedName else { return false }
            } else {
                guard let found = snapshot.adapters[target.provider]?.nativeBatches, found.supports(endpoint) else { return false }
                deployment = target
                group = prepared.plan.group
                api = found
            }
            guard var body = try? JSONValue.parse(request.body).objectValue else { return false }
            body["model"] = .string(target.upstreamModel)
            do throws(GatewayError) {
                requests.append(
                    try api!.encode(
                        customID: NativeBatchRecord.customID(line: requests.count), endpoint: endpoint, body: JSONValue.object(body).serializedBytes()
                    ))
            } catch {
                return false
            }
            return true
        }
        var splitter = JSONLLineSplitter(maximumLineBytes: snapshot.config.server.maxBodyBytes)
        do {
            try await storage.read(batch.inputFileID) { chunk in
                for line in splitter.feed(chunk) where eligible { eligible = consider(line) }
                return eligible
            }
            if eligible, let last = splitter.finish() { eligible = consider(last) }
        } catch {
            return nil
        }
        guard eligible, let deployment, let group, let api, requests.count == batch.total else { return nil }
        // A used-up budget refuses the batch's lines in the gateway, one by one, as for any request.
        let checks = BudgetGuard.checks(settings: snapshot.config.budgets, identity: owner, endUser: nil, reserveUSD: 0, now: WallClock.unixTime())
        switch await gateway.budgets.acquire(checks, failOpen: snapshot.config.budgets.failOpen) {
        case .refused: return nil
        case .allowed(let lease): if let lease { await gateway.budgets.settle(lease, costUSD: 0) }
        }
        let discount = deployment.batchDiscount ?? api.defaultDiscount
        let record = NativeBatchRecord(
            provider: deployment.provider, deployment: deployment.id, group: group.qualifiedName, upstreamModel: deployment.upstreamModel,
            price: snapshot.price(of: deployment).map { $0.scaled(by: 1 - discount) })
        return Handover(record: record, endpoint: endpoint, requests: requests)
    }

    /// Submits the batch to its provider, recording first that a submission is under way and
    /// then the provider's batch id.
    func submitNative(_ batch: BatchJob, _ handover: Handover, store: any BatchStore) async throws -> BatchJob {
        var batch = batch
        batch.native = handover.record
        try await store.updateBatch(batch)
        guard let api = runtime.snapshot.adapters[handover.record.provider]?.nativeBatches else { return batch }
        do {
            let id = try await api.submit(handover.requests, endpoint: handover.endpoint)
            batch.native?.providerBatchID = id
            try await store.updateBatch(batch)
            logger.info(
                "batch handed to the provider's batch API",
                metadata: ["batch_id": .string(batch.id), "switchyard.deployment": .string(handover.record.deployment)])
        } catch {
            batch.native?.providerBatchID = nil
            batch.errors = [BatchJob.BatchError(code: "provider_batch_refused", message: scrubbed(error))]
        }
        return batch
    }

    /// Polls the provider's batch until it ends (or the gateway stops), forwarding the owner's
    /// cancellation, then records every line's result.
    func runNative(_ batch: inout BatchJob, store: any BatchStore) async throws -> LinesOutcome {
        guard var native = batch.native else { return .done }
        if let error = batch.errors.first, native.providerBatchID == nil { return .failed(error) }
        guard let id = native.providerBatchID else {
            return .failed(
                BatchJob.BatchError(
                    code: "interrupted",
                    message:
                        "The gateway stopped while handing this batch to provider '\(native.provider)'; it is not submitted again so that no request runs twice."
                ))
        }
        while true {
            if isStopping { return .stopped }
            guard let api = runtime.snapshot.adapters[native.provider]?.nativeBatches else {
                return .failed(
                    BatchJob.BatchError(code: "provider_not_configured", message: "Provider '\(native.provider)' is no longer configured."))
            }
            if isCancelled(batch.id) && !native.cancelForwarded {
                do {
                    try await api.cancel(id)
                    native.cancelForwarded = true
                    batch.native = native
                    try await store.updateBatch(batch)
                } catch {
                    logger.warning(
                        "a batch's cancellation could not reach its provider",
                        metadata: ["batch_id": .string(batch.id), "error": .string(scrubbed(error))])
                }
            }
            do {
                switch try await api.poll(id) {
                case .running:
                    break
                case .failed(let message):
                    return .failed(BatchJob.BatchError(code: "provider_batch_failed", message: runtime.snapshot.scrubber.scrub(message)))
                case .ended(let ending):
                    try await recordNativeResults(try await api.results(ending), ending: ending, batch: batch, native: native, store: store)
                    return ending.expired ? .expired : .done
                }
            } catch {
                logger.warning("a provider batch could not be polled", metadata: ["batch_id": .string(batch.id), "error": .string(scrubbed(error))])
            }
            await pause(runtime.snapshot.config.batches.pollInterval, batchID: batch.id, cancelForwarded: native.cancelForwarded)
        }
    }

    /// Waits `interval`, or less when the gateway stops or the owner cancels.
    private func pause(_ interval: Duration, batchID: String, cancelForwarded: Bool) async {
        let end = ContinuousClock.now + interval
        while !isStopping && ContinuousClock.now < end && (cancelForwarded || !isCancelled(batchID)) {
            try? await Task.sleep(for: min(.milliseconds(100), end - .now))
        }
    }

    /// Records each result as its line's outcome, and each answer as a request of the owner's
    /// (ledger, budgets, spend metrics, request log, audit) at the discounted price. A line
    /// recorded before a restart is skipped (and not charged again); a line without a result
    /// fails with why.
    private func recordNativeResults(
        _ results: [NativeBatchResult], ending: NativeBatchState.Ending, batch: BatchJob, native: NativeBatchRecord, store: any BatchStore
    ) async throws {
        let customIDs = try await clientCustomIDs(batch)
        let states = try await store.lineStates(batchID: batch.id)
        let owner = Identity(snapshotJSON: batch.identity) ?? .anonymous
        let snapshot = runtime.snapshot
        let endpoint = BatchRequestLine.endpoints[batch.endpoint] ?? .chatCompletions
        var answered = Set<Int>()
        for result in results {
            guard let line = NativeBatchRecord.line(of: result.customID), line >= 0, line < customIDs.count, answered.insert(line).inserted,
                states[line] == nil
            else { continue }
            switch result.outcome {
            case .error(let code, let message):
                try await store.finishLine(
                    batchID: batch.id, line: line, succeeded: false,
                    result: Self.resultLine(customID: customIDs[line], response: nil, error: (code, snapshot.scrubber.scrub(message))))
            case .response(let status, let body):
                let requestID = RequestMiddleware.generateRequestID()
                let answer: JSONValue = ["status_code": JSONValue(status), "request_id": .string(requestID), "body": body]
                try await store.finishLine(
                    batchID: batch.id, line: line, succeeded: status < 300,
                    result: Self.resultLine(customID: customIDs[line], response: answer, error: nil))
                var record = RequestRecord(requestID: requestID, endpoint: endpoint, identity: owner)
                record.requestedModel = native.group
                record.modelGroup = native.group
                record.servedModel = body["model"]?.stringValue ?? native.upstreamModel
                record.provider = native.provider
                record.deployment = native.deployment
                record.status = status
                record.outcome = status < 300 ? .success : .error
                record.errorCode = body["error"]?["code"]?.stringValue ?? body["error"]?["type"]?.stringValue
                if status < 300, let scan = try? JSONObjectScan(body.serializedBytes()), let usage = TokenUsage(openAIResponse: scan) {
                    record.usage = usage
                    record.usageSource = .provider
                    record.price = native.price
                    record.cost = native.price?.cost(of: usage)
                }
                gateway.observer.requestFinished(record)
                if let cost = record.cost, cost > 0 {
                    let checks = BudgetGuard.checks(
                        settings: snapshot.config.budgets, identity: owner, endUser: nil, reserveUSD: 0, now: WallClock.unixTime())
                    await gateway.budgets.charge(checks, costUSD: cost)
                }
            }
        }
        let missing: (String, String) =
            ending.cancelled
            ? ("batch_cancelled", "The batch was cancelled before this request ran.")
            : ending.expired
                ? ("batch_expired", "The batch expired before this request could run.")
                : ("missing_result", "The provider returned no result for this request.")
        for line in customIDs.indices where states[line] == nil && !answered.contains(line) {
            try await store.finishLine(
                batchID: batch.id, line: line, succeeded: false, result: Self.resultLine(customID: customIDs[line], response: nil, error: missing))
        }
    }

    /// The clients' `custom_id`s, by line (a batch handed over has only valid lines).
    private func clientCustomIDs(_ batch: BatchJob) async throws -> [String] {
        var splitter = JSONLLineSplitter(maximumLineBytes: runtime.snapshot.config.server.maxBodyBytes)
        var ids: [String] = []
        func add(_ line: JSONLLineSplitter.Line) {
            if case .line(let bytes) = line { ids.append((try? JSONValue.parse(bytes))?["custom_id"]?.stringValue ?? "") } else { ids.append("") }
        }
        try await storage.read(batch.inputFileID) { chunk in
            for line in splitter.feed(chunk) { add(line) }
            return true
        }
        if let last = splitter.finish() { add(last) }
        return ids
    }

    private func scrubbed(_ error: any Error) -> String {
        let message = (error as? GatewayError)?.message ?? "\(error)"
        return runtime.snapshot.scrubber.scrub(message)
    }
}
