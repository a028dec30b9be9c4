import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import SwitchyardCore
import SwitchyardServer
import SwitchyardTesting
import Testing

/// Images (`/v1/images/generations`, `/v1/images/edits`), audio (`/v1/audio/transcriptions`,
/// `/translations`, `/speech`) and the passthrough, through the whole pipeline: access rules,
/// limits, budgets, the ledger and metrics, priced per image, second and character.
@Suite struct MediaTests {
    static let models = """
        - {name: images, provider: vllm, model: dall-e-3, price: {per_image: {'1024x1024': 0.04, '1024x1024/hd': 0.08}}}
        - {name: whisper, provider: vllm, model: whisper-1, price: {per_second: 0.001}}
        - {name: voice, provider: vllm, model: tts-1, price: {per_character: 0.0001}}
        - {name: chat, provider: vllm, model: mock-gpt}
        """

    /// A live gateway on the mock upstream (an OpenAI-compatible provider with a key), with
    /// `extra` configuration after the models.
    static func withGateway(
        extra: String = "", server: String = "", _ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void
    ) async throws {
        try await withMockUpstream(MockProvider()) { mock, port in
            let yaml = """
                server:
                  port: 0
                  master_key: test-master-key
                  reload_check_interval: off
                \(server)
                providers:
                  - {name: vllm, type: openai-compatible, base_url: 'http://127.0.0.1:\(port)/v1', api_key: provider-secret-key}
                  - {name: gem, type: gemini, base_url: 'http://127.0.0.1:\(port)', api_key: gemini-secret-key}
                models:
                \(models)
                \(extra)
                """
            let (application, _) = try makeGateway(yaml)
            try await application.makeApplication().test(.live) { client in try await test(client, mock) }
        }
    }

    static let boundary = "switchyard-test-boundary"

    /// A multipart body: the fields in order, then the file (or the file first).
    static func multipart(_ fields: [(String, String)], file: (field: String, name: String, bytes: [UInt8])?, fileFirst: Bool = false) -> ByteBuffer {
        var parts: [[UInt8]] = fields.map { name, value in
            Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8)
        }
        if let file {
            let part =
                Array(
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.name)\"\r\nContent-Type: audio/wav\r\n\r\n"
                        .utf8)
                + file.bytes + Array("\r\n".utf8)
            if fileFirst { parts.insert(part, at: 0) } else { parts.append(part) }
        }
        return ByteBuffer(bytes: parts.flatMap { $0 } + Array("--\(boundary)--\r\n".utf8))
    }

    static func wav(seconds: Double, sampleRate: Int = 16000) -> [UInt8] {
        let samples = Int(seconds * Double(sampleRate))
        var bytes = WAVHeader.pcm(sampleRate: sampleRate, dataSize: samples * 2)
        for index in 0..<samples { bytes += [UInt8(index & 0xFF), UInt8(index >> 8 & 0x7F)] }
        return bytes
    }

    static let multipartHeaders: HTTPFields = [.authorization: "Bearer test-master-key", .contentType: "multipart/form-data; boundary=\(boundary)"]

    static func headers(_ key: String, multipart: Bool = false) -> HTTPFields {
        [.authorization: "Bearer \(key)", .contentType: multipart ? "multipart/form-data; boundary=\(boundary)" : "application/json"]
    }

    @Test func imagesAreGeneratedAsPNGsAndPricedPerImageBySizeAndQuality() async throws {
        try await Self.withGateway { client, mock in
            let response = try await client.execute(
                uri: "/v1/images/generations", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"images","prompt":"a red harbour at dawn","n":2,"size":"1024x1024","quality":"hd"}"#))
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastPath == "/v1/images/generations")
            #expect(mock.stats.lastBodyJSON?["model"]?.stringValue == "dall-e-3")
            let images = response.json?["data"]?.arrayValue ?? []
            #expect(images.count == 2)
            let png = try #require(images.first?["b64_json"]?.stringValue.flatMap { Data(base64Encoded: $0) })
            #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a real PNG")
            let row = try #require(try await RerankModerationTests.record(client, response))
            #expect(row["endpoint"]?.stringValue == "image_generations")
            #expect(abs((row["cost_usd"]?.doubleValue ?? 0) - 0.16) < 1e-9, "2 images at the 1024x1024/hd price: \(row)")

            // Without a quality the size's own price applies; a URL answer works the same way.
            let plain = try await client.execute(
                uri: "/v1/images/generations", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"images","prompt":"a boat","size":"1024x1024","response_format":"url"}"#))
            #expect(plain.json?["data"]?.arrayValue?.first?["url"]?.stringValue?.hasPrefix("data:image/png;base64,") == true)
            let plainRow = try #require(try await RerankModerationTests.record(client, plain))
            #expect(abs((plainRow["cost_usd"]?.doubleValue ?? 0) - 0.04) < 1e-9)
            _ = try await metricsText(client, containing: #"endpoint="image_generations""#)
        }
    }

    @Test func imageEditsStreamTheUpload() async throws {
        try await Self.withGateway { client, mock in
            let image = MockProvider.png(for: "source")
            let response = try await client.execute(
                uri: "/v1/images/edits", method: .post, headers: Self.multipartHeaders,
                body: Self.multipart([("model", "images"), ("prompt", "make it blue"), ("size", "1024x1024")], file: ("image", "source.png", image)))
            #expect(response.status == .ok, "\(response.text)")
            #expect(mock.stats.lastPath == "/v1/images/edits")
            #expect(String(decoding: mock.stats.lastBody, as: UTF8.self).contains("dall-e-3"), "the model is renamed inside the form")
            #expect(mock.stats.lastUploadBytes > image.count)
            let row = try #require(try await RerankModerationTests.record(client, response))
            #expect(row["endpoint"]?.stringValue == "image_edits" && abs((row["cost_usd"]?.doubleValue ?? 0) - 0.04) < 1e-9)
        }
    }

    @Test func transcriptionsStreamTheUploadAndArePricedPerSecondOfAudio() async throws {
        try await Self.withGateway { client, mock in
            let audio = Self.wav(seconds: 2.5)
            let body = Self.multipart([("model", "whisper"), ("language", "en")], file: ("file", "harbour.wav", audio))
            let response = try await client.execute(uri: "/v1/audio/transcriptions", method: .post, headers: Self.multipartHeaders, body: body)
            #expect(response.status == .ok, "\(response.text)")
            let text = try #require(response.json?["text"]?.stringValue)
            #expect(text.contains("2.5 seconds") && text.contains("harbour.wav") && text.contains("\(audio.count)"), "\(text)")
            #expect(mock.stats.lastUploadBytes == body.readableBytes - "whisper".utf8.count + "whisper-1".utf8.count)
            let headers = mock.stats.lastHeaders
            #expect(headers.contains { $0.name.lowercased() == "authorization" && $0.value == "Bearer provider-secret-key" })
            // The provider said 3 seconds (usage.seconds, rounded up); the gateway bills what it said.
            let row = try #require(try await RerankModerationTests.record(client, response))
            #expect(row["endpoint"]?.stringValue == "audio_transcriptions")
            #expect(abs((row["cost_usd"]?.doubleValue ?? 0) - 0.003) < 1e-9, "\(row)")

            // A plain-text answer carries no duration: the WAV header's counts.
            let plain = try await client.execute(
                uri: "/audio/transcriptions", method: .post, headers: Self.multipartHeaders,
                body: Self.multipart([("model", "whisper"), ("response_format", "text")], file: ("file", "a.wav", audio)))
            #expect(plain.status == .ok && plain.text.hasPrefix("Transcribed 2.5 seconds"), "\(plain.text)")
            #expect(plain.headers[HTTPField.Name("x-switchyard-audio-seconds")!] == "2.500")
            let plainRow = try #require(try await RerankModerationTests.record(client, plain))
            #expect(abs((plainRow["cost_usd"]?.doubleValue ?? 0) - 0.0025) < 1e-9, "\(plainRow)")

            let translated = try await client.execute(
                uri: "/v1/audio/translations", method: .post, headers: Self.multipartHeaders,
                body: Self.multipart([("model", "whisper"), ("response_format", "verbose_json")], file: ("file", "b.wav", Self.wav(seconds: 1))))
            #expect(translated.json?["text"]?.stringValue?.hasPrefix("Translated 1.0 seconds") == true, "\(translated.text)")
            #expect(translated.json?["duration"]?.doubleValue == 1.0)
        }
    }

    @Test func anUploadAProviderBeganToReadIsNeverSentTwice() async throws {
        let yaml = """
            server: {port: 0, master_key: test-master-key, reload_check_interval: off}
            providers: [{name: flaky, type: mock, options: {fail_first: 1}}]
            models: [{name: whisper, provider: flaky, model: whisper-1, price: {per_second: 0.001}}]
            """
        let (application, _) = try makeGateway(yaml)
        try await application.makeApplication().test(.live) { client in
            let body = Self.multipart([("model", "whisper")], file: ("file", "a.wav", Self.wav(seconds: 1)))
            let first = try await client.execute(uri: "/v1/audio/transcriptions", method: .post, headers: Self.multipartHeaders, body: body)
            #expect(first.status == .badGateway && first.json?["error"]?["code"]?.stringValue == "upload_not_retryable", "\(first.text)")
            let row = try #require(try await RerankModerationTests.record(client, first))
            #expect((row["attempts"]?.arrayValue?.count ?? 0) >= 2, "the retry was tried and refused, not sent: \(row)")
            // The in-process mock read the upload (then failed) once; the next request goes through.
            let second = try await client.execute(uri: "/v1/audio/transcriptions", method: .post, headers: Self.multipartHeaders, body: body)
            #expect(second.status == .ok && second.json?["text"]?.stringValue?.contains("1.0 seconds") == true, "\(second.text)")
        }
    }

    @Test func speechStreamsARealWAVBackAndIsPricedPerCharacter() async throws {
        try await Self.withGateway { client, mock in
            let input = String(repeating: "harbour ", count: 50)  // 400 characters: 20 s at the mock's rate
            let response = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"voice","input":"\#(input)","voice":"alloy"}"#))
            #expect(response.status == .ok, "\(response.text)")
            #expect(response.headers[.contentType] == "audio/wav")
            let bytes = Array(buffer: response.body)
            let header = try #require(WAVHeader(bytes))
            #expect(Double(header.dataSize) / Double(header.byteRate) == 400 * MockProvider.speechSecondsPerCharacter)
            #expect(bytes.count == header.dataOffset + header.dataSize, "the whole audio arrived")
            #expect(mock.stats.lastBodyJSON?["model"]?.stringValue == "tts-1")
            let row = try #require(try await RerankModerationTests.record(client, response))
            #expect(row["endpoint"]?.stringValue == "audio_speech")
            #expect(abs((row["cost_usd"]?.doubleValue ?? 0) - 0.04) < 1e-9, "400 characters at 0.0001: \(row)")
        }
    }

    @Test func speechCutByTheProviderIsCutForTheClientAndRecordedAsAStreamError() async throws {
        try await Self.withGateway { client, _ in
            let port = try #require(client.port)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/audio/speech")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer test-master-key")
            request.headers.add(name: "content-type", value: "application/json")
            let input = String(repeating: "harbour ", count: 50)
            request.body = .bytes(ByteBuffer(string: #"{"model":"voice","input":"\#(input)","voice":"alloy","mock":{"drop_after":1}}"#))
            let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
            #expect(response.status.code == 200, "the audio had started")
            await #expect(throws: (any Error).self, "the client sees the cut, not a complete short file") {
                _ = try await response.body.collect(upTo: 1 << 24)
            }
            // The request log has it as a stream error, still billed for its characters.
            var row: JSONValue?
            _ = try await eventually {
                let answer = try await client.execute(uri: "/admin/logs", method: .get, headers: authorized)
                row = (answer.json?["data"]?.arrayValue ?? []).first { $0["endpoint"]?.stringValue == "audio_speech" }
                return row != nil
            }
            let found = try #require(row, "the cut speech is in the request log")
            #expect(found["outcome"]?.stringValue == "stream_error", "\(found)")
            #expect(abs((found["cost_usd"]?.doubleValue ?? 0) - 0.04) < 1e-9, "\(found)")
        }
    }

    @Test func aChunkedUploadIsCutAtTheEndpointsLimit() async throws {
        try await Self.withGateway(server: "  endpoints: {audio_transcriptions: {max_body_size: 64KiB}}") { client, _ in
            let port = try #require(client.port)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/audio/transcriptions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer test-master-key")
            request.headers.add(name: "content-type", value: "multipart/form-data; boundary=\(Self.boundary)")
            let body = Self.multipart([("model", "whisper")], file: ("file", "a.wav", Self.wav(seconds: 5)))
            // No length: the body arrives chunked, 160 KiB in all.
            request.body = .stream(
                AsyncStream<ByteBuffer> { continuation in
                    var rest = body
                    while let chunk = rest.readSlice(length: min(16 * 1024, rest.readableBytes)), chunk.readableBytes > 0 {
                        continuation.yield(chunk)
                    }
                    continuation.finish()
                }, length: .unknown)
            let response = try await testHTTPClient.execute(request, timeout: .seconds(30))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            #expect(response.status.code == 413, "\(response.status) \(text)")
            #expect(text.contains("request_too_large"), "\(text)")
        }
    }

    @Test func badMediaRequestsGetClearErrorsAndNeverReachTheProvider() async throws {
        try await Self.withGateway(server: "  endpoints: {audio_transcriptions: {max_body_size: 64KiB}}") { client, mock in
            mock.resetStats()
            func post(_ path: String, _ headers: HTTPFields, _ body: ByteBuffer) async throws -> TestResponse {
                try await client.execute(uri: path, method: .post, headers: headers, body: body)
            }
            let audio = Self.wav(seconds: 0.5)
            let json = try await post("/v1/audio/transcriptions", authorized, ByteBuffer(string: #"{"model":"whisper"}"#))
            #expect(json.status == .unsupportedMediaType && json.text.contains("multipart/form-data"), "\(json.text)")
            let noBoundary = try await post(
                "/v1/audio/transcriptions", [.authorization: "Bearer test-master-key", .contentType: "multipart/form-data"],
                Self.multipart([("model", "whisper")], file: ("file", "a.wav", audio)))
            #expect(noBoundary.status == .unsupportedMediaType)
            let broken = try await post("/v1/audio/transcriptions", Self.multipartHeaders, ByteBuffer(bytes: [UInt8](repeating: 0x41, count: 4000)))
            #expect(broken.status == .badRequest && broken.json?["error"]?["code"]?.stringValue == "invalid_multipart", "\(broken.text)")
            let truncated = try await post(
                "/v1/audio/transcriptions", Self.multipartHeaders, ByteBuffer(string: "--\(Self.boundary)\r\nContent-Disp"))
            #expect(truncated.status == .badRequest && truncated.json?["error"]?["code"]?.stringValue == "invalid_multipart")
            let noFile = try await post("/v1/audio/transcriptions", Self.multipartHeaders, Self.multipart([("model", "whisper")], file: nil))
            #expect(noFile.status == .badRequest && noFile.json?["error"]?["param"]?.stringValue == "file", "\(noFile.text)")
            let modelLast = try await post(
                "/v1/audio/transcriptions", Self.multipartHeaders,
                Self.multipart([("model", "whisper")], file: ("file", "a.wav", audio), fileFirst: true))
            #expect(modelLast.status == .badRequest && modelLast.json?["error"]?["param"]?.stringValue == "model", "\(modelLast.text)")
            let unknown = try await post(
                "/v1/audio/transcriptions", Self.multipartHeaders, Self.multipart([("model", "nope")], file: ("file", "a.wav", audio)))
            #expect(unknown.status == .notFound)
            let oversized = try await post(
                "/v1/audio/transcriptions", Self.multipartHeaders,
                Self.multipart([("model", "whisper")], file: ("file", "a.wav", Self.wav(seconds: 3))))
            #expect(oversized.status == .contentTooLarge, "\(oversized.text)")
            #expect(oversized.json?["error"]?["type"]?.stringValue != nil)
            let noVoice = try await post("/v1/audio/speech", authorized, ByteBuffer(string: #"{"model":"voice","input":"hi"}"#))
            #expect(noVoice.status == .badRequest && noVoice.json?["error"]?["param"]?.stringValue == "voice")
            let tooMany = try await post("/v1/images/generations", authorized, ByteBuffer(string: #"{"model":"images","prompt":"x","n":11}"#))
            #expect(tooMany.status == .badRequest && tooMany.json?["error"]?["param"]?.stringValue == "n")
            #expect(mock.stats.requests == 0, "nothing invalid reaches the provider")
            // The endpoint's limit is its own: image edits keep the default.
            let edit = try await post(
                "/v1/images/edits", Self.multipartHeaders,
                Self.multipart([("model", "images"), ("prompt", "x")], file: ("image", "a.wav", Self.wav(seconds: 3))))
            #expect(edit.status == .ok, "\(edit.text)")
        }
    }

    @Test func accessRulesLimitsAndBudgetsApplyToMedia() async throws {
        try await Self.withGateway(extra: "limits:\n  rules: [{scope: key, requests_per_minute: 3}]") { client, _ in
            func key(_ body: String) async throws -> String {
                let created = try await client.execute(uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: body))
                return try #require(created.json?["key"]?.stringValue, "\(created.text)")
            }
            let audio = Self.multipart([("model", "whisper")], file: ("file", "a.wav", Self.wav(seconds: 0.5)))
            let chatOnly = try await key(#"{"name":"chat-only","endpoints":["chat_completions"]}"#)
            let denied = try await client.execute(
                uri: "/v1/audio/transcriptions", method: .post, headers: Self.headers(chatOnly, multipart: true), body: audio)
            #expect(denied.status == .forbidden && denied.text.contains("audio_transcriptions"), "\(denied.text)")
            let whisperOnly = try await key(#"{"name":"whisper-only","models":["whisper"]}"#)
            let wrongModel = try await client.execute(
                uri: "/v1/audio/speech", method: .post, headers: Self.headers(whisperOnly),
                body: ByteBuffer(string: #"{"model":"voice","input":"hi","voice":"alloy"}"#))
            #expect(wrongModel.status == .forbidden)
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<4 {
                statuses.append(
                    try await client.execute(
                        uri: "/v1/audio/transcriptions", method: .post, headers: Self.headers(whisperOnly, multipart: true), body: audio
                    )
                    .status)
            }
            #expect(statuses == [.ok, .ok, .ok, .tooManyRequests], "\(statuses)")

        }
    }

    @Test func budgetsStopMediaSpending() async throws {
        try await Self.withGateway { client, _ in
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"name":"capped","budget":{"amount":0.05,"period":"daily"}}"#))
            let capped = try #require(created.json?["key"]?.stringValue)
            let speech = ByteBuffer(string: #"{"model":"voice","input":"\#(String(repeating: "a", count: 100))","voice":"alloy"}"#)
            var refusal: TestResponse?
            var served = 0
            for _ in 0..<20 {
                let response = try await client.execute(uri: "/v1/audio/speech", method: .post, headers: Self.headers(capped), body: speech)
                if response.status != .ok {
                    refusal = response
                    break
                }
                served += 1
            }
            let refused = try #require(refusal, "the budget must stop the key")
            #expect(refused.status == .tooManyRequests && refused.json?["error"]?["type"]?.stringValue == "budget_exceeded", "\(refused.text)")
            #expect(served >= 5 && served <= 6, "0.01 USD each against 0.05 USD: \(served)")
        }
    }

    @Test func passthroughForwardsAllowedPathsWithTheProvidersKeyOnly() async throws {
        let extra = """
            passthrough:
              - {provider: vllm, paths: [/models, /vector_stores/**], methods: [GET]}
              - {provider: gem, paths: ['/v1beta/models/*'], methods: [POST]}
            """
        try await Self.withGateway(extra: extra) { client, mock in
            let created = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"app"}"#))
            let key = try #require(created.json?["key"]?.stringValue)
            mock.resetStats()
            let models = try await client.execute(
                uri: "/passthrough/vllm/models?key=leak&limit=5", method: .get,
                headers: [.authorization: "Bearer \(key)", HTTPField.Name("x-api-key")!: key, HTTPField.Name("openai-organization")!: "org-1"])
            #expect(models.status == .ok, "\(models.text)")
            #expect(models.json?["data"]?.arrayValue?.isEmpty == false, "the provider's own model list")
            #expect(mock.stats.lastURL == "/v1/models?limit=5", "the client's key parameter is not forwarded: \(mock.stats.lastURL ?? "")")
            let seen = mock.stats.lastHeaders
            #expect(seen.contains { $0.name.lowercased() == "authorization" && $0.value == "Bearer provider-secret-key" })
            #expect(!seen.contains { $0.value.contains(key) || $0.value.contains("test-master-key") }, "the client's key never reaches the provider")
            #expect(seen.contains { $0.name.lowercased() == "openai-organization" && $0.value == "org-1" })
            let row = try #require(try await RerankModerationTests.record(client, models))
            #expect(row["endpoint"]?.stringValue == "passthrough" && row["provider"]?.stringValue == "vllm", "\(row)")

            let counted = try await client.execute(
                uri: "/passthrough/gem/v1beta/models/gemini-2.5-flash:countTokens", method: .post, headers: Self.headers(key),
                body: ByteBuffer(string: #"{"contents":[{"parts":[{"text":"How many tokens is this?"}]}]}"#))
            #expect(counted.status == .ok && (counted.json?["totalTokens"]?.intValue ?? 0) > 0, "\(counted.text)")
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "x-goog-api-key" && $0.value == "gemini-secret-key" })
            #expect(!mock.stats.lastHeaders.contains { $0.value.contains(key) })

            let requests = mock.stats.requests
            let notAllowed = try await client.execute(uri: "/passthrough/vllm/files", method: .get, headers: Self.headers(key))
            #expect(notAllowed.status == .notFound && notAllowed.json?["error"] != nil)
            let climbing = try await client.execute(uri: "/passthrough/vllm/vector_stores/../files", method: .get, headers: Self.headers(key))
            #expect(climbing.status == .notFound)
            let wrongMethod = try await client.execute(uri: "/passthrough/vllm/models", method: .delete, headers: Self.headers(key))
            #expect(wrongMethod.status == .methodNotAllowed)
            let unknownProvider = try await client.execute(uri: "/passthrough/nope/models", method: .get, headers: Self.headers(key))
            #expect(unknownProvider.status == .notFound)
            let anonymous = try await client.execute(uri: "/passthrough/vllm/models", method: .get)
            #expect(anonymous.status == .unauthorized)
            let chatOnly = try await client.execute(
                uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: #"{"name":"chat","endpoints":["chat_completions"]}"#)
            )
            let chatKey = try #require(chatOnly.json?["key"]?.stringValue)
            let forbidden = try await client.execute(uri: "/passthrough/vllm/models", method: .get, headers: Self.headers(chatKey))
            #expect(forbidden.status == .forbidden)
            #expect(mock.stats.requests == requests, "refused passthroughs never reach the provider")
        }
    }

    @Test func passthroughRoutesAreOpenToTheirRolesOnlyWhenAccessRulesExist() async throws {
        let extra = """
            passthrough:
              - {provider: vllm, paths: [/models], methods: [GET], roles: [service]}
              - {provider: vllm, paths: ['/vector_stores/**'], methods: [GET]}
            access:
              rules: [{name: no-tier-free, effect: deny, when: {metadata: {tier: free}}}]
            """
        try await Self.withGateway(extra: extra) { client, _ in
            func key(_ body: String) async throws -> String {
                let created = try await client.execute(uri: "/admin/keys", method: .post, headers: authorized, body: ByteBuffer(string: body))
                return try #require(created.json?["key"]?.stringValue, "\(created.text)")
            }
            let partner = try await key(#"{"name":"partner","roles":["service"]}"#)
            let developer = try await key(#"{"name":"developer"}"#)
            #expect(try await client.execute(uri: "/passthrough/vllm/models", method: .get, headers: Self.headers(partner)).status == .ok)
            let denied = try await client.execute(uri: "/passthrough/vllm/models", method: .get, headers: Self.headers(developer))
            #expect(denied.status == .forbidden && denied.text.contains("service"), "\(denied.text)")
            // A route without roles is closed to everyone but admins while access rules are configured.
            let closed = try await client.execute(uri: "/passthrough/vllm/vector_stores", method: .get, headers: Self.headers(partner))
            #expect(closed.status == .forbidden && closed.text.contains("roles"))
            // The master key passes; the provider (the mock has no vector stores) answers 404 itself.
            let master = try await client.execute(uri: "/passthrough/vllm/vector_stores", method: .get, headers: authorized)
            #expect(master.status == .notFound && master.headers[HTTPField.Name("x-switchyard-provider")!] == "vllm")
        }
    }

    @Test func passthroughCountsAgainstRequestLimits() async throws {
        try await Self.withGateway(
            extra: "passthrough: [{provider: vllm, paths: [/models]}]\nlimits:\n  rules: [{scope: key, requests_per_minute: 1}]"
        ) {
            client, _ in
            #expect(try await client.execute(uri: "/passthrough/vllm/models", method: .get, headers: authorized).status == .ok)
            let limited = try await client.execute(uri: "/passthrough/vllm/models", method: .get, headers: authorized)
            #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] != nil)
        }
    }

    @Test func mediaConfigurationIsCheckedWithHints() throws {
        func errors(_ yaml: String) throws -> [String] {
            let node = try YAMLConfigReader.parse(yaml, file: "switchyard.yaml")
            return ConfigLoader(environment: [:], fileExists: { _ in false }).load(node, source: "switchyard.yaml").errors.map(\.description)
        }
        let good = """
            server: {endpoints: {audio_transcriptions: {max_body_size: 100MiB}}}
            providers: [{name: p, type: mock}]
            models: [{name: m, provider: p, price: {per_image: 0.04}}]
            pricing: {whisper-1: {per_second: 0.0001}, gpt-image-1: {input: 5, output: 40, per_image: {'1024x1024/high': 0.17}}}
            passthrough: [{provider: p, paths: [/models], methods: [get], roles: [service]}]
            """
        let goodErrors = try errors(good)
        #expect(goodErrors.isEmpty, "\(goodErrors)")
        let bad = """
            server: {endpoints: {audio_transcription: {max_body_size: 1MiB}}}
            providers: [{name: p, type: mock}, {name: c, type: cohere, api_key: k}]
            models: [{name: m, provider: p, price: {per_image: -1}}]
            pricing: {x: {input: 1}}
            passthrough:
              - {provider: q, paths: [/models]}
              - {provider: p, paths: [models, /a/../b], methods: [TRACE]}
              - {provider: p}
              - {provider: c, paths: [/models]}
            """
        let lines = try errors(bad)
        #expect(
            lines.contains { $0.contains("unknown endpoint 'audio_transcription'") && $0.contains("did you mean 'audio_transcriptions'") }, "\(lines)"
        )
        #expect(lines.contains { $0.contains("per_image must be a non-negative number") })
        #expect(lines.contains { $0.contains("pricing.x needs 'input' and 'output'") })
        #expect(lines.contains { $0.contains("passthrough[0].provider 'q' is not a configured provider") }, "\(lines)")
        #expect(lines.contains { $0.contains("passthrough[3].provider 'c' (type cohere) has no passthrough") }, "\(lines)")
        #expect(lines.contains { $0.contains("'models' must start with '/'") } && lines.contains { $0.contains("'/a/../b'") })
        #expect(lines.contains { $0.contains("'TRACE' is not one of") })
        #expect(lines.contains { $0.contains("passthrough[2].paths must list at least one path") })
        let config = try #require(
            ConfigLoader(environment: [:], fileExists: { _ in false }).load(try YAMLConfigReader.parse(good, file: "s.yaml"), source: "s.yaml").config
        )
        #expect(config.server.maxBodyBytes(forPath: "/v1/audio/transcriptions") == 100 * 1024 * 1024)
        #expect(config.server.maxBodyBytes(forPath: "/audio/translations") == ServerSettings.defaultUploadBodyBytes)
        #expect(config.server.maxBodyBytes(forPath: "/v1/chat/completions") == config.server.maxBodyBytes)
        #expect(config.pricing["gpt-image-1"]?.imagePrice(size: "1024x1024", quality: "high") == 0.17)
        #expect(config.passthrough.first?.methods == ["GET"])
    }

    @Test func modelsListTheirEndpoints() async throws {
        try await Self.withGateway { client, _ in
            let list = try await client.execute(uri: "/v1/models", method: .get, headers: authorized)
            let data = list.json?["data"]?.arrayValue ?? []
            func endpoints(_ id: String) -> [String] {
                data.first { $0["id"]?.stringValue == id }?["endpoints"]?.arrayValue?.compactMap(\.stringValue) ?? []
            }
            #expect(endpoints("whisper") == ["audio_transcriptions", "audio_translations"])
            #expect(endpoints("voice") == ["audio_speech"])
            #expect(endpoints("images") == ["image_generations", "image_edits"])
            #expect(endpoints("chat").contains("chat_completions"))
            let one = try await client.execute(uri: "/v1/models/voice", method: .get, headers: authorized)
            #expect(one.json?["endpoints"]?.arrayValue?.compactMap(\.stringValue) == ["audio_speech"])
        }
    }
}
