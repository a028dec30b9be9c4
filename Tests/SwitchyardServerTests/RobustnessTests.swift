import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwitchyardCore
import Testing

@testable import SwitchyardServer

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Inputs an outside fuzzing run found to crash the gateway, stall it or answer 500: each now
/// gets a clear 4xx (or a bounded answer) and the gateway keeps serving.
@Suite struct RobustnessTests {
    /// A time outside what a 64-bit count of seconds holds trapped in the usage store's
    /// conversion and killed the process (any virtual key could ask).
    @Test func usageTimesOutOfRangeAreRefusedNotFatal() async throws {
        try await AccessTests.withGateway("") { client in
            let master: HTTPFields = [.authorization: "Bearer test-master-key"]
            for value in ["1e999", "nan", "-inf", "1e19", "-1e19", "9223372036854775808", "18446744073709551616"] {
                for path in ["/v1/usage?to=\(value)", "/admin/usage?from=\(value)", "/admin/spend?to=\(value)"] {
                    let response = try await client.execute(uri: path, method: .get, headers: master)
                    #expect(response.status == .badRequest, "\(path): \(response.status) \(response.text)")
                    #expect(response.json?["error"]?["param"]?.stringValue != nil, "\(path): \(response.text)")
                }
            }
            let fine = try await client.execute(uri: "/admin/usage?from=1e9&to=2e9", method: .get, headers: master)
            #expect(fine.status == .ok, "\(fine.text)")
            // The route a virtual key has, asked again and again: refused each time, served after.
            let key = try await FilesBatchesTests.createKey(client, #"{"name":"caller"}"#)
            let caller: HTTPFields = [.authorization: "Bearer \(key)"]
            for _ in 0..<3 {
                let refused = try await client.execute(uri: "/v1/usage?to=1e999", method: .get, headers: caller)
                #expect(refused.status == .badRequest, "\(refused.text)")
            }
            let own = try await client.execute(uri: "/v1/usage?from=1e9", method: .get, headers: caller)
            #expect(own.status == .ok, "\(own.text)")
            #expect(try await client.execute(uri: "/health/live", method: .get).status == .ok)
        }
    }

    /// A body whose chunked framing is broken is the client's error (400 in the OpenAI
    /// envelope), not an internal one; so is a body that ends before its Content-Length.
    @Test func malformedBodyFramingIsABadRequest() async throws {
        let (application, _) = try makeGateway(AccessTests.config(""))
        try await application.makeApplication().test(.live) { client in
            let port = try #require(client.port)
            let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-master-key\r\nContent-Type: application/json\r\n"
            let requests = [
                head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                head + "Transfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n",
                head + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc\r\n0\r\n\r\n",
                head + "Content-Length: 100000\r\n\r\n{\"model\":\"chat\",\"messages\":[",
            ]
            for request in requests {
                let answer = try Self.exchange(port: port, request)
                let status = answer.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init)
                #expect(status == "400", "\(request.debugDescription) -> \(answer.prefix(300))")
                #expect(answer.contains("\"malformed_body\"") || answer.contains("\"invalid_request_error\""), "\(answer.prefix(400))")
            }
            #expect(try await client.execute(uri: "/health/live", method: .get).status == .ok)
        }
    }

    /// The built-in mock's knobs are bounded: a stream of a million 10 KB chunks would have
    /// been built whole in memory (the kernel killed the gateway at 24 GB).
    @Test func theMocksAnswerIsBounded() async throws {
        try await AccessTests.withGateway("") { client in
            let body = #"{"model":"chat","messages":[{"role":"user","content":"hi"}],"mock":{"chunks":100000,"chunk_bytes":1000000}}"#
            let response = try await client.execute(
                uri: "/v1/chat/completions", method: .post,
                headers: [.authorization: "Bearer test-master-key", .contentType: "application/json"], body: ByteBuffer(string: body))
            #expect(response.status == .ok)
            let content = response.json?["choices"]?.arrayValue?.first?["message"]?["content"]?.stringValue ?? ""
            #expect(!content.isEmpty && content.utf8.count <= 16 * 1024 * 1024, "\(content.utf8.count) bytes")
        }
    }

    /// Directory entries are refused with a named field when their metadata is no object or
    /// their id holds control characters.
    @Test func directoryEntriesWithMalformedFieldsAreRefused() async throws {
        try await AccessTests.withGateway("") { client in
            let headers: HTTPFields = [.authorization: "Bearer test-master-key", .contentType: "application/json"]
            for (body, param) in [
                (#"{"id":"t1","metadata":"plain"}"#, "metadata"), (#"{"id":"\u0000"}"#, "id"), (#"{"id":"a\nb"}"#, "id"),
            ] {
                let response = try await client.execute(uri: "/admin/teams", method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(response.status == .badRequest, "\(body): \(response.text)")
                #expect(response.json?["error"]?["param"]?.stringValue == param, "\(body): \(response.text)")
            }
            let fine = try await client.execute(
                uri: "/admin/teams", method: .post, headers: headers, body: ByteBuffer(string: #"{"id":"t1","metadata":{"plan":"pro"}}"#))
            #expect(fine.status.code < 300, "\(fine.text)")
        }
    }

    /// Sends `request` on a new connection, half-closes it and reads the answer (5 s at most).
    static func exchange(port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        shutdown(fd, Int32(SHUT_WR))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            answer += buffer[0..<count]
        }
        return String(decoding: answer, as: UTF8.self)
    }
}
