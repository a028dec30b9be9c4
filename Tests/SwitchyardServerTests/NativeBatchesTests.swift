import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardServer
import SwitchyardStores
import SwitchyardTesting
import Testing

/// Batches handed to the provider's own batch API (`native_batches: true`): OpenAI's
/// `/v1/files` + `/v1/batches` and Anthropic's Message Batches, played by the mock provider's
/// HTTP server with real state transitions.
@Suite struct NativeBatchesTests {
    typealias Files = FilesBatchesTests

    static func config(port: Int, batches: String = "poll_interval: 50ms, requests_per_second: 50", extra: String = "") -> String {
        """
        server:
          host: 127.0.0.1
          port: 0
          master_key: test-master-key
          reload_check_interval: off
        providers:
          - {name: openai-up, type: openai-compatible, base_url: 'http://127.0.0.1:\(port)/v1', api_key: provider-secret-key}
          - {name: claude-up, type: anthropic, base_url: 'http://127.0.0.1:\(port)', api_key: anthropic-secret-key}
        models:
          - {name: gpt-native, provider: openai-up, model: mock-gpt, native_batches: true, price: {input: 1000, output: 2000}}
          - {name: claude-native, aliases: [claude-alias], provider: claude-up, model: claude-mock, native_batches: true, batch_discount: 0.4, price: {input: 3000, output: 15000}}
          - {name: gpt-test, provider: openai-up, model: mock-gpt, price: {input: 1000, output: 2000}}
        batches: {\(batches)}
        \(extra)
        """
    }

    static func line(_ id: String, model: String, extra: String = "") -> String {
        Files.line(id, model: model, extra: extra + #""max_tokens":64,"#)
    }

    /// Creates a batch of `lines` as `key` and returns its id.
    static func submit(_ client: any TestClientProtocol, _ lines: [String], key: String = "test-master-key") async throws -> String {
        let uploaded = try await Files.upload(client, key: key, lines.joined(separator: "\n"))
        let fileID = try #require(uploaded.json?["id"]?.stringValue, "\(uploaded.text)")
        let created = try await Files.createBatch(client, key: key, fileID: fileID)
        return try #require(created.json?["id"]?.stringValue, "\(created.text)")
    }

    /// The request-log row of a result line's request.
    static func logged(_ client: any TestClientProtocol, _ result: JSONValue) async throws -> JSONValue {
        let requestID = try #require(result["response"]?["request_id"]?.stringValue)
        var row: JSONValue?
        _ = try await eventually {
            let answer = try await client.execute(uri: "/admin/logs/\(requestID)", method: .get, headers: authorized)
            row = answer.json
            return answer.status == .ok
        }
        return try #require(row)
    }

    /// What a result's usage costs at `input`/`output` USD per million tokens, times `factor`.
    static func expectCost(_ row: JSONValue, input: Double, output: Double, factor: Double) {
        let prompt = Double(row["prompt_tokens"]?.intValue ?? 0)
        let completion = Double(row["completion_tokens"]?.intValue ?? 0)
        #expect(prompt > 0 && completion > 0, "\(row.serialized())")
        let expected = (prompt * input + completion * output) / 1_000_000 * factor
        #expect(abs((row["cost_usd"]?.doubleValue ?? 0) - expected) < 1e-9, "\(row.serialized())")
    }

    @Test func anAnthropicNativeBatchRunsAtTheProviderAndIsPricedAtItsDiscount() async throws {
        try await withMockUpstream { mock, port in
            let (application, _) = try makeGateway(Self.config(port: port))
            try await application.makeApplication().test(.live) { client in
                let lines = [
                    Self.line("first one", model: "claude-native"), Self.line("second/one", model: "claude-alias"),
                    Self.line("third", model: "claude-native"),
                ]
                let id = try await Self.submit(client, lines)
                let done = try await Files.finished(client, id)
                #expect(done["status"]?.stringValue == "completed", "\(done.serialized())")
                #expect(done["request_counts"]?["completed"]?.intValue == 3 && done["request_counts"]?["failed"]?.intValue == 0)
                #expect(done["error_file_id"] == .null)
                // One Message Batch ran every line once; nothing went to /v1/messages one by one.
                #expect(mock.stats.batchesCreated == 1 && mock.stats.batchRequestsRun == 3)
                #expect(mock.stats.requestsByUser == ["first one": 1, "second/one": 1, "third": 1])
                let output = try await Files.content(client, done["output_file_id"]?.stringValue)
                #expect(output.compactMap { $0["custom_id"]?.stringValue } == ["first one", "second/one", "third"])
                let first = try #require(output.first)
                #expect(first["id"]?.stringValue?.hasPrefix("batch_req_") == true && first["error"] == .null)
                #expect(first["response"]?["status_code"]?.intValue == 200)
                let body = try #require(first["response"]?["body"])
                #expect(body["object"]?.stringValue == "chat.completion")
                #expect(body["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "This is a mock response to: hello first one")
                // The provider's ids and key never reach the client.
                let shown = try await client.execute(uri: "/v1/batches/\(id)", method: .get, headers: authorized)
                #expect(!shown.text.contains("msgbatch") && !shown.text.contains("anthropic-secret-key") && !shown.text.contains("line-0"))
                // In the ledger as the owner's request, at 60% of the price (batch_discount: 0.4).
                let row = try await Self.logged(client, first)
                Self.expectCost(row, input: 3000, output: 15000, factor: 0.6)
                #expect(row["deployment"]?.stringValue == "claude-up/claude-mock", "\(row.serialized())")
            }
        }
    }

    @Test func anOpenAINativeBatchUploadsItsFileAndReadsOutputAndErrorFiles() async throws {
        try await withMockUpstream { mock, port in
            let budget = "budgets: {rules: [{scope: global, amount: 100, period: daily}]}"
            let (application, _) = try makeGateway(Self.config(port: port, extra: budget))
            try await application.makeApplication().test(.live) { client in
                let lines = [
                    Self.line("ok-1", model: "gpt-native"), Self.line("refused", model: "gpt-native", extra: #""mock":{"status":400},"#),
                    Self.line("ok-2", model: "gpt-native"),
                ]
                let id = try await Self.submit(client, lines)
                let done = try await Files.finished(client, id)
                #expect(done["status"]?.stringValue == "completed", "\(done.serialized())")
                #expect(done["request_counts"]?["completed"]?.intValue == 2 && done["request_counts"]?["failed"]?.intValue == 1)
                #expect(mock.stats.batchesCreated == 1 && mock.stats.requestsByUser == ["ok-1": 1, "refused": 1, "ok-2": 1])
                let output = try await Files.content(client, done["output_file_id"]?.stringValue)
                #expect(output.compactMap { $0["custom_id"]?.stringValue } == ["ok-1", "ok-2"])
                let errors = try await Files.content(client, done["error_file_id"]?.stringValue)
                #expect(errors.count == 1 && errors.first?["custom_id"]?.stringValue == "refused")
                #expect(errors.first?["response"]?["status_code"]?.intValue == 400)
                // The lines ran as the upstream model (the alias was rewritten before the upload).
                #expect(output.first?["response"]?["body"]?["model"]?.stringValue == "mock-gpt")
                var total = 0.0
                for result in output {
                    let row = try await Self.logged(client, result)
                    Self.expectCost(row, input: 1000, output: 2000, factor: 0.5)
                    #expect(row["requested_model"]?.stringValue == "gpt-native" && row["provider"]?.stringValue == "openai-up", "\(row.serialized())")
                    total += row["cost_usd"]?.doubleValue ?? 0
                }
                // The global budget was charged what the results cost.
                var spent = 0.0
                _ = try await eventually {
                    let spend = try await client.execute(uri: "/admin/spend", method: .get, headers: authorized)
                    spent = spend.json?["budgets"]?.arrayValue?.first?["spent_usd"]?.doubleValue ?? 0
                    return abs(spent - total) < 1e-6
                }
                #expect(total > 0 && abs(spent - total) < 1e-6, "budget spent \(spent), results cost \(total)")
            }
        }
    }

    @Test func aBatchThatDoesNotAllRouteToOneNativeDeploymentRunsInTheGateway() async throws {
        try await withMockUpstream { mock, port in
            let (application, _) = try makeGateway(Self.config(port: port))
            try await application.makeApplication().test(.live) { client in
                // Two models: the gateway runs it.
                let mixed = try await Self.submit(client, [Self.line("m-1", model: "gpt-native"), Self.line("m-2", model: "gpt-test")])
                let done = try await Files.finished(client, mixed)
                #expect(done["status"]?.stringValue == "completed" && done["request_counts"]?["completed"]?.intValue == 2)
                // An invalid line: the gateway runs it (and reports the line).
                let invalid = try await Self.submit(client, [Self.line("i-1", model: "gpt-native"), "not json"])
                let second = try await Files.finished(client, invalid)
                #expect(second["request_counts"]?["completed"]?.intValue == 1 && second["request_counts"]?["failed"]?.intValue == 1)
                // A key that may not use the native model: its lines are refused in the gateway.
                let restricted = try await Files.createKey(client, #"{"name":"restricted","models":["gpt-test"]}"#)
                let denied = try await Self.submit(client, [Self.line("d-1", model: "gpt-native")], key: restricted)
                let third = try await Files.finished(client, denied, key: restricted)
                #expect(third["request_counts"]?["failed"]?.intValue == 1)
                let errors = try await Files.content(client, third["error_file_id"]?.stringValue, key: restricted)
                #expect(errors.first?["response"]?["status_code"]?.intValue == 403, "\(errors)")
                #expect(mock.stats.batchesCreated == 0)
                #expect(mock.stats.requestsByUser == ["m-1": 1, "m-2": 1, "i-1": 1])
            }
        }
    }

    @Test func aNativeBatchSurvivesARestartWithoutBeingSubmittedAgain() async throws {
        try await withMockUpstream { mock, port in
            let path = try writeConfig(Self.config(port: port))
            func application() throws -> SwitchyardApplication {
                try SwitchyardApplication(source: .file(path), registry: adapterRegistry(), logger: quietLogger)
            }
            mock.holdBatches(true)
            let count = 5
            let id: String = try await application().makeApplication().test(.live) { client in
                let id = try await Self.submit(client, (0..<count).map { Self.line("r-\($0)", model: "claude-native") })
                _ = await eventually { mock.stats.batchesCreated == 1 }
                _ = try await eventually { try await Files.batch(client, id)["status"]?.stringValue == "in_progress" }
                return id
            }
            // The first gateway stopped while the provider's batch was in progress.
            #expect(mock.stats.batchesCreated == 1 && mock.stats.batchRequestsRun == 0)
            mock.holdBatches(false)
            try await application().makeApplication().test(.live) { client in
                let done = try await Files.finished(client, id)
                #expect(done["status"]?.stringValue == "completed" && done["request_counts"]?["completed"]?.intValue == count)
                let output = try await Files.content(client, done["output_file_id"]?.stringValue)
                #expect(output.compactMap { $0["custom_id"]?.stringValue } == (0..<count).map { "r-\($0)" })
            }
            #expect(mock.stats.batchesCreated == 1, "the batch was submitted once")
            #expect(mock.stats.batchRequestsRun == count && mock.stats.requestsByUser.values.allSatisfy { $0 == 1 })
        }
    }

    @Test func aBatchFoundMidSubmissionAfterARestartFailsInsteadOfBeingSubmittedAgain() async throws {
        try await withMockUpstream { mock, port in
            let path = try writeConfig(Self.config(port: port))
            func application() throws -> SwitchyardApplication {
                try SwitchyardApplication(source: .file(path), registry: adapterRegistry(), logger: quietLogger)
            }
            let fileID: String = try await application().makeApplication().test(.live) { client in
                try #require(try await Files.upload(client, Self.line("s-1", model: "gpt-native")).json?["id"]?.stringValue)
            }
            // What a crash between recording the handover and the provider's answer leaves: a
            // batch handed to a provider with no provider batch id.
            let store = SQLiteBatchStore(database: try SwitchyardDatabase(path: (path as NSString).deletingLastPathComponent + "/switchyard.db"))
            let file = try #require(try await store.file(id: fileID))
            let parts = file.owner.subject.split(separator: ":", maxSplits: 1).map(String.init)
            let now = WallClock.unixTime()
            var batch = BatchJob(
                id: BatchJob.generateID(), owner: file.owner,
                identity: JSONValue.object(["kind": .string(parts[0]), "subject": .string(parts[1])]).serialized(), endpoint: "/v1/chat/completions",
                inputFileID: fileID, completionWindow: "24h", createdAt: now, expiresAt: now + 86_400)
            try await store.insertBatch(batch)
            batch.status = .inProgress
            batch.total = 1
            batch.native = NativeBatchRecord(
                provider: "openai-up", deployment: "openai-up/mock-gpt", group: "gpt-native", upstreamModel: "mock-gpt", price: nil)
            try await store.updateBatch(batch)
            let id = batch.id
            try await application().makeApplication().test(.live) { client in
                let done = try await Files.finished(client, id)
                #expect(done["status"]?.stringValue == "failed", "\(done.serialized())")
                #expect(done["errors"]?["data"]?.arrayValue?.first?["code"]?.stringValue == "interrupted", "\(done.serialized())")
            }
            #expect(mock.stats.batchesCreated == 0 && mock.stats.requestsByUser.isEmpty, "nothing was submitted or run")
        }
    }

    @Test func cancellingANativeBatchCancelsItAtTheProvider() async throws {
        try await withMockUpstream { mock, port in
            let (application, _) = try makeGateway(Self.config(port: port))
            mock.holdBatches(true)
            try await application.makeApplication().test(.live) { client in
                let id = try await Self.submit(client, (0..<4).map { Self.line("c-\($0)", model: "gpt-native") })
                _ = try await eventually {
                    try await Files.batch(client, id)["status"]?.stringValue == "in_progress" && mock.stats.batchesCreated == 1
                }
                let cancel = try await client.execute(uri: "/v1/batches/\(id)/cancel", method: .post, headers: authorized)
                #expect(cancel.status == .ok && cancel.json?["status"]?.stringValue == "cancelling", "\(cancel.text)")
                let done = try await Files.finished(client, id)
                #expect(done["status"]?.stringValue == "cancelled" && done["request_counts"]?["failed"]?.intValue == 4, "\(done.serialized())")
                let errors = try await Files.content(client, done["error_file_id"]?.stringValue)
                #expect(errors.count == 4 && errors.allSatisfy { $0["error"]?["code"]?.stringValue == "batch_cancelled" })
                #expect(mock.stats.batchCancels == 1 && mock.stats.batchRequestsRun == 0)
            }
        }
    }

    @Test func nativeBatchesOnAProviderWithoutABatchAPIAreAConfigurationError() async throws {
        let yaml = """
            server: {master_key: test-master-key, reload_check_interval: off}
            providers:
              - {name: gem, type: gemini, api_key: x}
            models:
              - {name: g, provider: gem, model: gemini-2.5-flash, native_batches: true}
            """
        let error = #expect(throws: (any Error).self) { _ = try makeGateway(yaml) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("provider 'gem' (type gemini) has no native batch API"), "\(String(describing: error))")
    }
}
