import Testing

@testable import SwitchyardCore

/// The bounded, resumable event buffer behind `GET /mcp` (the HTTP side is in MCPStreamTests).
@Suite struct MCPStreamsTests {
    static let identity = Identity(kind: .virtualKey, subject: "k1")
    static let changed = JSONRPCMessage.notification(method: "notifications/tools/list_changed", params: nil)

    static func ids(_ events: [MCPStreams.Event]) -> [String] {
        events.compactMap { event in
            if case .message(let id, _) = event { return id }
            return nil
        }
    }

    @Test func aResumedStreamReplaysWhatTheBufferStillHoldsAndAnOlderPointStartsANewStream() async throws {
        let streams = MCPStreams()
        let settings = MCPSettings()
        let first = streams.open(session: "s", identity: Self.identity, headers: [], lastEventID: nil, settings: settings, now: .now)
        #expect(first.replay.isEmpty, "a GET without Last-Event-ID replays nothing")
        #expect(streams.send(Self.changed) { _, _ in true } == 1)
        var iterator = first.events.makeAsyncIterator()
        let next = await iterator.next()
        let delivered = try #require(Self.ids(next.map { [$0] } ?? []).first)
        let stream = delivered.split(separator: "-")[0]
        #expect(delivered == "\(stream)-1")
        streams.closed(first, now: .now)
        // While no connection is open the events are kept, the last `bufferedEvents` of them.
        for _ in 2...(MCPStreams.bufferedEvents + 10) { #expect(streams.send(Self.changed) { _, _ in true } == 1) }

        let recent = streams.open(session: "s", identity: Self.identity, headers: [], lastEventID: "\(stream)-100", settings: settings, now: .now)
        #expect(Self.ids(recent.replay) == (101...110).map { "\(stream)-\($0)" }, "the events after the one named, on the same stream")
        let lost = streams.open(session: "s", identity: Self.identity, headers: [], lastEventID: "\(stream)-5", settings: settings, now: .now)
        let fresh = Self.ids(lost.replay)
        #expect(fresh.count == 3 && fresh.allSatisfy { !$0.hasPrefix("\(stream)-") }, "older than the buffer: a new stream, \(fresh)")
        let unknown = streams.open(session: "s", identity: Self.identity, headers: [], lastEventID: "garbage", settings: settings, now: .now)
        #expect(Self.ids(unknown.replay).count == 3)
    }

    @Test func aSecondConnectionTakesTheStreamOverAndOnlyChosenSessionsGetAMessage() async {
        let streams = MCPStreams()
        let settings = MCPSettings()
        let one = streams.open(session: "a", identity: Self.identity, headers: [], lastEventID: nil, settings: settings, now: .now)
        let other = streams.open(
            session: "b", identity: Identity(kind: .virtualKey, subject: "k2"), headers: [], lastEventID: nil, settings: settings, now: .now)
        #expect(streams.send(Self.changed) { identity, _ in identity.subject == "k1" } == 1)
        let two = streams.open(session: "a", identity: Self.identity, headers: [], lastEventID: nil, settings: settings, now: .now)
        var first: [MCPStreams.Event] = []
        for await event in one.events { first.append(event) }
        #expect(Self.ids(first).count == 1, "the first connection got the message, then ended when the second took over")
        streams.end(session: "a")
        var second: [MCPStreams.Event] = []
        for await event in two.events { second.append(event) }
        #expect(second.isEmpty, "ending the session ends its connection")
        streams.end(session: "b")
        var unchosen: [MCPStreams.Event] = []
        for await event in other.events { unchosen.append(event) }
        #expect(unchosen.isEmpty)
    }
}
