import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import SwitchyardServer
import Testing

@Suite struct TLSTests {
    /// Creates a self-signed certificate for 127.0.0.1 with the system's openssl.
    static func makeCertificate() async throws -> (certificate: String, key: String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificate = directory + "/cert.pem"
        let key = directory + "/key.pem"
        let process = try ChildProcess(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", certificate,
            ])
        let status = await process.waitForExit()
        guard status == 0 else { throw CocoaError(.fileWriteUnknown) }
        return (certificate, key)
    }

    @Test func servesHTTPSWithConfiguredCertificate() async throws {
        let files = try await Self.makeCertificate()
        let (application, _) = try makeGateway(
            """
            server:
              port: 0
              reload_check_interval: off
              tls:
                certificate: \(files.certificate)
                private_key: \(files.key)
            providers:
              - name: mock
                type: mock
            models:
              - name: mock-gpt
                provider: mock
            """
        )
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = try application.makeApplication { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [], logger: quietLogger))
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(files.certificate))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            var request = HTTPClientRequest(url: "https://127.0.0.1:\(port)/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(chatBody(model: "mock-gpt"))
            let response = try await client.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(String(buffer: body).contains("mock response"))
            // Plain HTTP on the TLS port does not get an answer.
            var plain = HTTPClientRequest(url: "http://127.0.0.1:\(port)/health/live")
            plain.method = .GET
            await #expect(throws: (any Error).self) { _ = try await testHTTPClient.execute(plain, timeout: .seconds(1)) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await client.shutdown()
    }
}
