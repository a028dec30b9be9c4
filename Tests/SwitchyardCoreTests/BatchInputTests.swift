import Testing

@testable import SwitchyardCore

/// The multipart parser and JSONL splitter behind uploads and batch input, fed at every split.
@Suite struct BatchInputTests {
    static let body = Array(
        """
        preamble\r
        --XyZ\r
        Content-Disposition: form-data; name="purpose"\r
        \r
        batch\r
        --XyZ\r
        Content-Disposition: form-data; name="file"; filename="in put.jsonl"\r
        Content-Type: application/jsonl\r
        \r
        {"a":1}\r
        --XyZ-almost\r
        {"b":2}\r
        --XyZ--\r
        epilogue
        """.utf8)

    /// Parts (headers, then the joined body) from feeding `pieces`.
    static func parts(_ pieces: [[UInt8]]) throws -> [([String: String], [UInt8])] {
        var parser = try #require(MultipartParser(contentType: #"multipart/form-data; boundary="XyZ""#))
        var parts: [([String: String], [UInt8])] = []
        var ended = 0
        for piece in pieces {
            for event in try parser.feed(piece) {
                switch event {
                case .partStart(let headers): parts.append((headers, []))
                case .data(let bytes): parts[parts.count - 1].1 += bytes
                case .partEnd: ended += 1
                }
            }
        }
        try parser.finish()
        #expect(ended == parts.count)
        return parts
    }

    @Test func multipartPartsSurviveEverySplit() throws {
        let whole = try Self.parts([Self.body])
        #expect(whole.count == 2)
        #expect(String(decoding: whole[0].1, as: UTF8.self) == "batch")
        let disposition = try #require(whole[1].0["content-disposition"])
        #expect(MultipartParser.parameter("filename", in: disposition) == "in put.jsonl")
        #expect(MultipartParser.parameter("name", in: disposition) == "file")
        #expect(String(decoding: whole[1].1, as: UTF8.self) == "{\"a\":1}\r\n--XyZ-almost\r\n{\"b\":2}")
        for split in 1..<Self.body.count {
            let parts = try Self.parts([Array(Self.body[..<split]), Array(Self.body[split...])])
            #expect(parts.map(\.1) == whole.map(\.1), "split at \(split)")
        }
        let bytewise = try Self.parts(Self.body.map { [$0] })
        #expect(bytewise.map(\.1) == whole.map(\.1))
    }

    @Test func malformedMultipartIsAnError() throws {
        #expect(MultipartParser(contentType: "application/json") == nil)
        #expect(MultipartParser(contentType: "multipart/form-data") == nil)
        var truncated = try #require(MultipartParser(contentType: "multipart/form-data; boundary=b"))
        _ = try truncated.feed(Array("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nvalue".utf8))
        #expect(throws: MultipartParser.MalformedError.self) { try truncated.finish() }
        var garbage = try #require(MultipartParser(contentType: "multipart/form-data; boundary=b"))
        _ = try garbage.feed(Array("--bXX\r\n".utf8))
        #expect(throws: MultipartParser.MalformedError.self) { try garbage.finish() }
    }

    @Test func jsonlLinesSplitAnywhereWithABound() {
        let text = Array("{\"a\":1}\r\n\n  \n{\"b\":\"\(String(repeating: "x", count: 40))\"}\n{\"c\":3}".utf8)
        for split in 0...text.count {
            var splitter = JSONLLineSplitter(maximumLineBytes: 20)
            var lines = splitter.feed(text[..<split]) + splitter.feed(text[split...])
            if let last = splitter.finish() { lines.append(last) }
            #expect(lines == [.line(Array("{\"a\":1}".utf8)), .tooLong, .line(Array("{\"c\":3}".utf8))], "split at \(split)")
        }
    }

    @Test func batchLinesAreChecked() {
        let endpoint = "/v1/chat/completions"
        func code(_ line: String) -> String? {
            if case .failure(let problem) = BatchRequestLine.parse(Array(line.utf8), endpoint: endpoint) { return problem.code }
            return nil
        }
        #expect(code(#"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"m"}}"#) == nil)
        #expect(code("[1,2]") == "invalid_json_line")
        #expect(code(#"{"custom_id":"","url":"/v1/chat/completions","body":{}}"#) == "missing_custom_id")
        #expect(code(#"{"custom_id":"a","method":"GET","url":"/v1/chat/completions","body":{}}"#) == "invalid_method")
        #expect(code(#"{"custom_id":"a","url":"/v1/embeddings","body":{}}"#) == "mismatched_url")
        #expect(code(#"{"custom_id":"a","url":"/v1/chat/completions","body":"x"}"#) == "invalid_body")
        #expect(code(#"{"custom_id":"a","url":"/v1/chat/completions","body":{"stream":true}}"#) == "stream_unsupported")
    }

    @Test func identitySnapshotsRoundTrip() {
        var identity = Identity(kind: .virtualKey, subject: "key_1", organizationID: "o", teamID: "t", userID: "u", roles: ["developer"], attributes: ["tier": "pro"])
        identity.allowedModels = ["m"]
        identity.allowedEndpoints = ["chat_completions"]
        identity.allowedRegions = ["eu"]
        identity.budget = BudgetLimit(amount: 5, period: .daily)
        #expect(Identity(snapshotJSON: identity.snapshotJSON) == identity)
        #expect(ResourceOwner(identity).admits(Identity(kind: .virtualKey, subject: "key_2", teamID: "t")))
        #expect(!ResourceOwner(identity).admits(Identity(kind: .virtualKey, subject: "key_2", teamID: "x")))
        #expect(!ResourceOwner(identity).admits(.master))
    }
}

/// `files:` and `batches:` in the configuration.
@Suite struct BatchSettingsTests {
    let loader = ConfigLoader(environment: [:], fileExists: { _ in false })

    func load(_ files: [(String, ConfigNode)], _ batches: [(String, ConfigNode)]) -> ConfigLoader.Outcome {
        loader.load(Node.map([("files", Node.map(files)), ("batches", Node.map(batches))]), source: "test.yaml")
    }

    @Test func settingsAreReadAndDefaulted() throws {
        let defaults = try #require(load([], []).config)
        #expect(defaults.batches.priceFactor == 0.5 && defaults.batches.concurrency == 4 && defaults.files.maxFileBytes == 200 * 1024 * 1024)
        let config = try #require(
            load(
                [("directory", Node.scalar("/data/files")), ("max_file_size", Node.scalar("1GiB"))],
                [
                    ("concurrency", Node.scalar("8")), ("requests_per_second", Node.scalar("2.5")), ("discount", Node.scalar("0")),
                    ("max_requests", Node.scalar("100")),
                ]
            ).config)
        #expect(config.files.directory == "/data/files" && config.files.maxFileBytes == 1 << 30)
        #expect(config.batches.concurrency == 8 && config.batches.requestsPerSecond == 2.5 && config.batches.priceFactor == 1)
        #expect(config.batches.maxRequests == 100)
    }

    @Test func badSettingsAreErrorsWithTheirPlace() {
        let outcome = load(
            [("max_file_size", Node.scalar("lots"))],
            [("discount", Node.scalar("1.5", line: 7)), ("requests_per_second", Node.scalar("0")), ("concurrency", Node.scalar("0")), ("typo", Node.scalar("1"))])
        #expect(outcome.config == nil)
        let messages = outcome.errors.map(\.description).joined(separator: "\n")
        for expected in ["files.max_file_size", "batches.discount", "batches.requests_per_second", "batches.concurrency", "typo"] {
            #expect(messages.contains(expected), "\(expected) in \(messages)")
        }
    }
}
