import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import SwitchyardProviders
import SwitchyardServer
import SwitchyardTesting
import Testing

@Suite struct SigV4Tests {
    /// The GET Object example of the AWS S3 documentation ("Signature Calculations for the
    /// Authorization Header: Transferring Payload in a Single Chunk", docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html).
    @Test func matchesThePublishedExample() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(
                accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", source: "test")
            ),
            region: "us-east-1",
            service: "s3",
            doubleEncodePath: false
        )
        let signature = signer.sign(
            method: "GET",
            path: "/test.txt",
            headers: [
                ("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
                ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
                ("x-amz-date", "20130524T000000Z"),
            ],
            payload: [],
            date: Date(timeIntervalSince1970: 1_369_353_600)
        )
        #expect(signature.stringToSign.hasSuffix("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(signature.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        let authorization = signature.headers.first { $0.0 == "authorization" }?.1
        #expect(
            authorization
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test func nonS3ServicesEncodeThePathTwice() {
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: Secret("secret", source: "test")),
            region: "us-east-1",
            service: "bedrock"
        )
        let signature = signer.sign(
            method: "POST", path: "/model/a.b-v1%3A0/converse", headers: [("host", "h")], payload: [], date: Date(timeIntervalSince1970: 0))
        #expect(signature.canonicalRequest.contains("/model/a.b-v1%253A0/converse"))
    }
}

@Suite struct EventStreamTests {
    let messages = [
        EventStreamMessage(headers: [":event-type": "messageStart", ":message-type": "event"], payload: Array(#"{"role":"assistant"}"#.utf8)),
        EventStreamMessage(headers: [":event-type": "contentBlockDelta"], payload: Array(#"{"contentBlockIndex":0,"delta":{"text":"héllo"}}"#.utf8)),
        EventStreamMessage(headers: [:], payload: []),
    ]

    @Test func roundTripsAtEverySplit() throws {
        let bytes = messages.flatMap { $0.encoded() }
        for split in 0...bytes.count {
            var decoder = EventStreamDecoder()
            var decoded = try decoder.feed(ByteBuffer(bytes: bytes[..<split]))
            decoded += try decoder.feed(ByteBuffer(bytes: bytes[split...]))
            #expect(decoded == messages, "split at \(split)")
        }
    }

    @Test func rejectsCorruptFrames() {
        var bytes = messages[1].encoded()
        bytes[bytes.count - 6] ^= 0x01
        var decoder = EventStreamDecoder()
        #expect(throws: EventStreamError.self) { _ = try decoder.feed(ByteBuffer(bytes: bytes)) }
        var prelude = messages[0].encoded()
        prelude[1] ^= 0x40
        var other = EventStreamDecoder()
        #expect(throws: EventStreamError.self) { _ = try other.feed(ByteBuffer(bytes: prelude)) }
    }

    @Test func knownCRC32() {
        #expect(CRC32Probe.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
    }
}

/// CRC-32/ISO-HDLC check value of "123456789" is 0xCBF43926; reached through a frame we build.
enum CRC32Probe {
    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        // The prelude checksum of a frame covers its first 8 bytes; compare against a frame whose
        // CRC we can compute independently is not possible without the internal table, so decode
        // the trailer of an encoded message instead: the trailer is CRC32(everything before it).
        let message = EventStreamMessage(headers: [:], payload: bytes).encoded()
        let body = Array(message.dropLast(4))
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in body {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        }
        let trailer = message.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        // The trailer must equal an independent bitwise CRC of the same bytes …
        guard trailer == crc ^ 0xFFFF_FFFF else { return 0 }
        // … and the same bitwise CRC gives the standard check value.
        var check: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            check ^= UInt32(byte)
            for _ in 0..<8 { check = check & 1 == 1 ? 0xEDB8_8320 ^ (check >> 1) : check >> 1 }
        }
        return check ^ 0xFFFF_FFFF
    }
}

/// OpenAI clients on Bedrock (the mock speaking Converse over a real socket, binary streams).
@Suite struct BedrockProviderTests {
    func withGateway(_ test: @escaping @Sendable (any TestClientProtocol, MockProvider) async throws -> Void) async throws {
        try await withGatewayOnMockUpstream(
            providers: { port in
                """
                - name: aws
                  type: bedrock
                  base_url: http://127.0.0.1:\(port)
                  aws_access_key_id: AKIDTEST
                  aws_secret_access_key: bedrock-secret-key
                  options:
                    region: us-west-2
                """
            },
            models: """
                - name: haiku
                  provider: aws
                  model: anthropic.claude-3-haiku-20240307-v1:0
                - name: titan
                  provider: aws
                  model: amazon.titan-embed-text-v2:0
                - name: cohere-embed
                  provider: aws
                  model: cohere.embed-english-v3
                """,
            test
        )
    }

    @Test func converseWithSigV4() async throws {
        try await withGateway { client, mock in
            let response = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(model: "haiku"))
            #expect(response.status == .ok)
            #expect(response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue == "This is a mock response to: hello")
            #expect(response.json?["usage"]?["completion_tokens"]?.intValue == 8)
            #expect(mock.stats.lastURL == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse")
            let authorization = mock.stats.lastHeaders.first { $0.name.lowercased() == "authorization" }?.value ?? ""
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTEST/"))
            #expect(authorization.contains("/us-west-2/bedrock/aws4_request, SignedHeaders="))
            #expect(!authorization.contains("bedrock-secret-key"))
            #expect(mock.stats.lastHeaders.contains { $0.name.lowercased() == "x-amz-date" })
        }
    }

    @Test func embeddingsThroughInvokeModel() async throws {
        try await withGateway { client, mock in
            let titan = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"titan","input":["a","b"],"dimensions":8,"encoding_format":"float"}"#)
            )
            #expect(titan.status == .ok)
            #expect(mock.stats.lastURL == "/model/amazon.titan-embed-text-v2%3A0/invoke")
            #expect(titan.json?["data"]?.arrayValue?.map { $0["embedding"]?.arrayValue?.count } == [8, 8])
            #expect((titan.json?["usage"]?["prompt_tokens"]?.intValue ?? 0) > 0)
            let authorization = mock.stats.lastHeaders.first { $0.name.lowercased() == "authorization" }?.value ?? ""
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTEST/"))
            let cohere = try await client.execute(
                uri: "/v1/embeddings", method: .post, headers: authorized,
                body: ByteBuffer(string: #"{"model":"cohere-embed","input":["x","y","z"],"encoding_format":"base64"}"#)
            )
            #expect(cohere.status == .ok)
            #expect(cohere.json?["data"]?.arrayValue?.count == 3)
            #expect(cohere.json?["data"]?.arrayValue?.first?["embedding"]?.stringValue != nil)
        }
    }

    @Test func converseStreamWithToolsAndFailures() async throws {
        try await withGateway { client, _ in
            let tools =
                #","tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]}}}]"#
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","stream":true"# + tools, model: "haiku")
            )
            #expect(response.status == .ok)
            let events = sseData(response.text)
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().compactMap { try? JSONValue.parse($0) }
            var arguments = ""
            var name: String?
            for chunk in chunks {
                for call in chunk["choices"]?.arrayValue?.first?["delta"]?["tool_calls"]?.arrayValue ?? [] {
                    if let value = call["function"]?["name"]?.stringValue, !value.isEmpty { name = value }
                    arguments += call["function"]?["arguments"]?.stringValue ?? ""
                }
            }
            #expect(name == "a")
            #expect(try JSONValue.parse(arguments) == ["x": 42])
            #expect(chunks.compactMap { $0["choices"]?.arrayValue?.first?["finish_reason"]?.stringValue }.last == "tool_calls")

            let text = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"stream_options":{"include_usage":true}"#, model: "haiku")
            )
            let textChunks = sseData(text.text).dropLast().compactMap { try? JSONValue.parse($0) }
            #expect(
                textChunks.compactMap { $0["choices"]?.arrayValue?.first?["delta"]?["content"]?.stringValue }.joined()
                    == "This is a mock response to: hello")
            #expect(textChunks.last?["usage"]?["completion_tokens"]?.intValue == 8)

            let failing = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized,
                body: chatBody(#","stream":true,"mock":{"error_after":2}"#, model: "haiku")
            )
            let failingEvents = sseData(failing.text)
            #expect(failingEvents.last == "[DONE]")
            #expect(failingEvents.dropLast().last?.contains("Mock provider failed mid-stream") == true)

            let throttled = try await client.execute(
                uri: "/v1/chat/completions", method: .post, headers: authorized, body: chatBody(#","mock":{"status":429}"#, model: "haiku")
            )
            #expect(throttled.status == .tooManyRequests)
        }
    }
}
