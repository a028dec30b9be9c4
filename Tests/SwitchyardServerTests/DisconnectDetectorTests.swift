import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import SwitchyardServer

/// The handler that tells a request in flight that its client went away.
@Suite struct DisconnectDetectorTests {
    @Test func handlersAreCalledOnceWhenTheClientGoesAndReleasedWhenRemoved() throws {
        let detector = DisconnectDetector()
        let channel = EmbeddedChannel(handler: detector)
        let calls = Mutex(0)
        // A keep-alive connection's requests, one after another: each registers and removes.
        for _ in 0..<1000 {
            let token = try #require(detector.onClientGone { calls.withLock { $0 += 1 } })
            detector.remove(token)
        }
        #expect(detector.registeredHandlers == 0, "removed handlers are not kept until the connection closes")
        // One in flight when the client goes: called once, even if the channel says so twice.
        _ = try #require(detector.onClientGone { calls.withLock { $0 += 1 } })
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        _ = try? channel.finish()
        #expect(calls.withLock { $0 } == 1)
        #expect(detector.registeredHandlers == 0)
        // Registered after the client went: called at once.
        #expect(detector.onClientGone { calls.withLock { $0 += 1 } } == nil)
        #expect(calls.withLock { $0 } == 2)
        let completed = Mutex(false)
        detector.clientGone?.whenComplete { _ in completed.withLock { $0 = true } }
        #expect(completed.withLock { $0 }, "the future completed when the client went")
    }

    @Test func anOperationIsCancelledWhenTheClientGoes() async throws {
        let detector = DisconnectDetector()
        let channel = EmbeddedChannel(handler: detector)
        let started = Mutex(false)
        async let result = withCancellationOnDisconnect(detector) { () async -> Bool in
            started.withLock { $0 = true }
            try? await Task.sleep(for: .seconds(600))
            return Task.isCancelled
        }
        while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(1)) }
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(await result, "the operation saw its cancellation")
        #expect(detector.registeredHandlers == 0)
        _ = try? channel.finish()
    }
}
